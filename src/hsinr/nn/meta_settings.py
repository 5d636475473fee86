"""The settings of meta-training and the paper's defaults: plain data, no torch (so that
``hsinr meta-train --help`` and the ``meta`` codec's defaults load without it).

>>> MetaTraining(steps=10).inner_lr
0.01
>>> decaying = MetaTraining(steps=200, outer_lr=1e-3, decay_from=100)
>>> [round(decaying.outer_lr_at(step), 6) for step in (50, 100, 150, 199)]
[0.001, 0.001, 0.000497, 1e-05]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INNER_LR = 1e-2
OUTER_LR = 3e-6
INNER_STEPS = 3
CLIP_NORM = 1.0  # outer gradient norm limit
DECAY_FLOOR = 0.01  # the cosine decay ends at this fraction of the outer lr


@dataclass
class MetaTraining:
    """Settings of a meta-training run (the outer loop sees ``batch`` patches per step)."""

    steps: int = 2000
    batch: int = 8
    inner_steps: int = INNER_STEPS
    inner_lr: float = INNER_LR
    outer_lr: float = OUTER_LR
    second_order: bool = True
    clip: float = CLIP_NORM
    decay_from: int | None = None  # cosine decay of the outer lr from this step to ``steps``

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.inner_steps < 1:
            raise ValueError("steps, batch and inner steps must be positive")
        if not (self.inner_lr > 0 and self.outer_lr > 0 and self.clip > 0):
            raise ValueError("learning rates and the gradient clip must be positive")
        if self.decay_from is not None and not 0 <= self.decay_from < self.steps:
            raise ValueError(f"the decay must start before the last step ({self.steps})")

    def outer_lr_at(self, step: int) -> float:
        """The outer lr of step ``step`` (0-based): constant, then with ``decay_from`` a
        half cosine down to ``DECAY_FLOOR`` of it at the last step (a function of the step
        alone, so a resumed run takes the same lrs)."""
        if self.decay_from is None or step <= self.decay_from:
            return self.outer_lr
        done = min(1.0, (step - self.decay_from) / max(1, self.steps - 1 - self.decay_from))
        floor = self.outer_lr * DECAY_FLOOR
        return floor + (self.outer_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * done))
