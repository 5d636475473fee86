"""Architecture search: which (hidden layers, width) SIREN represents an image best for a
byte budget (the CRV 2023 paper's Fig. 4).

Every candidate is fitted briefly from the same seed; the table of trials says how each
did, and the caller continues fitting the best one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from hsinr.nn.arch import Arch
from hsinr.nn.fit import fit
from hsinr.nn.pixels import Pixels
from hsinr.nn.siren import Siren
from hsinr.progress import progress_bar


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
    pixels: Pixels,
    *,
    bpppb_of: dict[Arch, float],
    iterations: int = 300,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
    **fit_options: object,
) -> list[Trial]:
    """Fit each candidate for ``iterations`` steps; the trials, best PSNR first."""
    bands = pixels.bands
    trials = []
    for arch in progress_bar(candidates, desc="architecture search", enabled=progress):
        torch.manual_seed(seed)
        model = Siren(arch.hidden_layers, arch.width, bands).to(pixels.device)
        started = time.perf_counter()
        result = fit(model, pixels, iterations=iterations, lr=lr, progress=False, **fit_options)
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
