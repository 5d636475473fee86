"""Architecture search: which (hidden layers, width) SIREN represents an image best for a
byte budget (the CRV 2023 paper's Fig. 4).

Every candidate is fitted briefly from the same seed; the table of trials says how each
did, and the caller continues fitting the best one. :func:`fit_candidates` fits them
together: with ``jobs`` > 1 and the pixels in memory on the CPU, one worker process per
core (one torch thread each) takes the candidates largest first, so a search on N cores
takes about the time of its largest fits rather than the sum of all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from hsinr.nn.arch import Arch
from hsinr.nn.fit import fit
from hsinr.nn.pixels import Pixels
from hsinr.nn.siren import Siren
from hsinr.parallel import map_in_processes
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


@dataclass
class Fitted:
    """One candidate after its brief fit: the network (at its best), its PSNR, the seconds."""

    model: Siren
    psnr: float
    seconds: float


def _fit_one(task: tuple) -> tuple[np.ndarray, float, float]:
    """A worker's fit of one candidate: (its parameters at their best, PSNR, seconds)."""
    arch, coords, targets, iterations, seed, fit_options = task
    torch.manual_seed(seed)
    model = Siren(arch.hidden_layers, arch.width, targets.shape[1])
    started = time.perf_counter()
    result = fit(model, torch.from_numpy(coords), torch.from_numpy(targets),
                 iterations=iterations, progress=False, **fit_options)  # fmt: skip
    return model.to_flat(), result.best_psnr, time.perf_counter() - started


def fit_candidates(
    archs: list[Arch], pixels: Pixels, *, iterations: int, seed: int = 0, jobs: int = 1,
    progress: bool = True, description: str = "architecture search", **fit_options: object,
) -> list[Fitted]:  # fmt: skip
    """Each network of ``archs`` fitted for ``iterations`` from ``seed``, in ``archs``'
    order: in ``jobs`` worker processes when the pixels are in memory on the CPU (each
    fit on one thread, so its numbers do not depend on the machine's core count), else
    one after another here."""
    whole = pixels.whole()
    bands = pixels.bands
    on_cpu = whole is not None and whole[0].device.type == "cpu"
    if jobs > 1 and len(archs) > 1 and on_cpu:
        coords, targets = (tensor.numpy() for tensor in whole)
        order = sorted(range(len(archs)), key=lambda i: -archs[i].param_count(bands))
        tasks = [(archs[i], coords, targets, iterations, seed, fit_options) for i in order]
        found: dict[int, Fitted] = {}
        done = map_in_processes(_fit_one, tasks, jobs)
        for index, (flat, psnr, seconds) in zip(order, progress_bar(
                done, total=len(tasks), desc=description, enabled=progress), strict=True):
            model = Siren(archs[index].hidden_layers, archs[index].width, bands)
            model.load_flat(flat)
            found[index] = Fitted(model, psnr, seconds)
        return [found[index] for index in range(len(archs))]
    fitted = []
    for arch in progress_bar(archs, desc=description, enabled=progress):
        torch.manual_seed(seed)
        model = Siren(arch.hidden_layers, arch.width, bands).to(pixels.device)
        started = time.perf_counter()
        result = fit(model, pixels, iterations=iterations, progress=False, **fit_options)
        fitted.append(Fitted(model, result.best_psnr, time.perf_counter() - started))
    return fitted


def search(
    candidates: list[Arch],
    pixels: Pixels,
    *,
    bpppb_of: dict[Arch, float],
    iterations: int = 300,
    seed: int = 0,
    jobs: int = 1,
    progress: bool = True,
    **fit_options: object,
) -> list[Trial]:
    """Fit each candidate for ``iterations`` steps (see :func:`fit_candidates`); the
    trials, best PSNR first."""
    fitted = fit_candidates(candidates, pixels, iterations=iterations, seed=seed, jobs=jobs,
                            progress=progress, **fit_options)  # fmt: skip
    trials = [
        Trial(arch, arch.param_count(pixels.bands), bpppb_of[arch], one.psnr, one.seconds,
              one.model)
        for arch, one in zip(candidates, fitted, strict=True)
    ]
    return sorted(trials, key=lambda trial: trial.psnr, reverse=True)
