"""The settings of meta-training and the paper's defaults: plain data, no torch (so that
``hsinr meta-train --help`` and the ``meta`` codec's defaults load without it).

>>> MetaTraining(steps=10).inner_lr
0.01
"""

from __future__ import annotations

from dataclasses import dataclass

INNER_LR = 1e-2
OUTER_LR = 3e-6
INNER_STEPS = 3
CLIP_NORM = 1.0  # outer gradient norm limit


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

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.inner_steps < 1:
            raise ValueError("steps, batch and inner steps must be positive")
        if not (self.inner_lr > 0 and self.outer_lr > 0 and self.clip > 0):
            raise ValueError("learning rates and the gradient clip must be positive")
