"""Architecture search: which (hidden layers, width) SIREN represents an image best for a
byte budget (the CRV 2023 paper's Fig. 4).

Every candidate is fitted briefly from the same seed; the table of trials says how each
did, and the caller continues fitting the best one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from hsinr.nn.fit import fit
from hsinr.nn.siren import Siren, siren_param_count


class Arch(NamedTuple):
    """A SIREN shape: ``hidden_layers`` sine layers of ``width`` units."""

    hidden_layers: int
    width: int

    def __str__(self) -> str:
        return f"{self.hidden_layers}x{self.width}"

    @classmethod
    def parse(cls, text: str) -> Arch:
        """``"6x32"`` -> ``Arch(6, 32)``."""
        try:
            layers, width = (int(part) for part in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"architecture {text!r} is not LAYERSxWIDTH, e.g. 6x32") from None
        return cls(layers, width)

    def param_count(self, bands: int) -> int:
        return siren_param_count(self.hidden_layers, self.width, bands)


@dataclass
class Trial:
    """One candidate's brief fit: its size, its rate, and the PSNR it reached."""

    arch: Arch
    params: int
    bpppb: float
    psnr: float
    seconds: float
    model: Siren | None = None
    storage: object = None  # how the weights were stored, when that was searched too


def search(
    candidates: list[Arch],
    coords: torch.Tensor,
    targets: torch.Tensor,
    *,
    bpppb_of: dict[Arch, float],
    iterations: int = 300,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
    **fit_options: object,
) -> list[Trial]:
    """Fit each candidate for ``iterations`` steps; the trials, best PSNR first."""
    bands = targets.shape[1]
    trials = []
    for arch in tqdm(candidates, desc="architecture search", disable=not progress, leave=False):
        torch.manual_seed(seed)
        model = Siren(arch.hidden_layers, arch.width, bands).to(coords.device)
        started = time.perf_counter()
        result = fit(
            model, coords, targets, iterations=iterations, lr=lr, progress=False, **fit_options
        )
        trials.append(
            Trial(
                arch,
                arch.param_count(bands),
                bpppb_of[arch],
                result.best_psnr,
                time.perf_counter() - started,
                model,
            )
        )
    return sorted(trials, key=lambda trial: trial.psnr, reverse=True)
