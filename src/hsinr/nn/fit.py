"""Overfitting a network to one image: Adam on the MSE, keeping the best parameters seen.

The targets are normalised to [0, 1] by the cube's global min / max, so the PSNR of the
MSE on them (R = 1) is the PSNR of the project's definition.

>>> import torch
>>> from hsinr.nn.siren import Siren, grid
>>> torch.manual_seed(0) and None
>>> model = Siren(hidden_layers=2, width=16, bands=3)
>>> coords = grid(8, 8)
>>> targets = torch.rand(64, 3)
>>> result = fit(model, coords, targets, iterations=50, progress=False)
>>> result.best_psnr >= result.curve[0]
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional

from hsinr.metrics import psnr_of_mse
from hsinr.nn.pixels import Pixels, TensorPixels
from hsinr.progress import progress_bar

SCHEDULES = ("constant", "cosine")
HEADS = ("adam", "solve")  # the output layer trained with the rest, or solved at each step
COSINE_FLOOR = 0.05  # the cosine schedule ends at this fraction of the peak lr
MAX_RECOVERIES = 5
HEAD_RIDGE = 1e-9


@dataclass
class FitResult:
    """What a fit did. ``curve`` is the PSNR (dB) at each iteration in ``curve_iterations``
    (every iteration when full-batch; each evaluation of the whole image otherwise),
    reached ``curve_seconds`` after the fit started."""

    best_psnr: float
    best_iteration: int
    iterations: int
    seconds: float
    stopped_by: str
    recoveries: int = 0
    curve: list[float] = field(default_factory=list)
    curve_iterations: list[int] = field(default_factory=list)
    curve_seconds: list[float] = field(default_factory=list)


def as_pixels(coords: torch.Tensor | Pixels, targets: torch.Tensor | None = None) -> Pixels:
    """``coords`` if it is already a :class:`~hsinr.nn.pixels.Pixels`, else the pixels of
    the two tensors."""
    return coords if isinstance(coords, Pixels) else TensorPixels(coords, targets)


@torch.no_grad()
def full_mse(model: nn.Module, coords: torch.Tensor | Pixels,
             targets: torch.Tensor | None = None) -> float:  # fmt: skip
    """MSE of the model over every pixel, evaluated in chunks."""
    pixels = as_pixels(coords, targets)
    total = 0.0
    for chunk_coords, chunk_targets in pixels.chunks():
        error = model(chunk_coords) - chunk_targets
        total += float(torch.sum(error * error))
    return total / (pixels.count * pixels.bands)


def _snapshot(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _restore(model: nn.Module, saved: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), saved, strict=True):
            parameter.copy_(value)


def lr_factor(step: int, iterations: int, schedule: str, warmup: int = 0) -> float:
    """The fraction of the peak lr that step ``step`` of ``iterations`` takes: a linear
    warm-up over the first ``warmup`` steps, then constant or a half cosine down to
    ``COSINE_FLOOR`` at the last step.

    >>> [round(lr_factor(step, 100, "cosine", warmup=10), 3) for step in (0, 9, 10, 55, 100)]
    [0.1, 1.0, 1.0, 0.525, 0.05]
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule != "cosine":
        return 1.0
    done = min(1.0, (step - warmup) / max(1, iterations - warmup))
    return COSINE_FLOOR + (1.0 - COSINE_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * done))


def solve_head(model: nn.Module, features: torch.Tensor, targets: torch.Tensor) -> None:
    """Set ``model.head`` (a linear layer on ``features``) to the least-squares fit of
    ``targets``, bias included: normal equations in float64 with a tiny ridge (1e-9 of
    the Gram matrix's mean diagonal), so a rank-deficient layer still has a solution.
    Left as it is when the features are not finite (the fit then recovers)."""
    with torch.no_grad():
        ones = torch.ones(len(features), 1, dtype=features.dtype, device=features.device)
        design = torch.cat([features, ones], dim=1)
        gram = (design.T @ design).double()
        gram.diagonal().add_(HEAD_RIDGE * float(gram.diagonal().mean()))
        try:
            solution = torch.linalg.solve(gram, (design.T @ targets).double())
        except RuntimeError:  # torch.linalg.LinAlgError: NaN / Inf features
            return
        if bool(torch.isfinite(solution).all()):
            model.head.weight.copy_(solution[:-1].T)
            model.head.bias.copy_(solution[-1])


def _optimizer(parameters: list[torch.Tensor], lr: float, schedule: str, iterations: int,
               warmup: int = 0):  # fmt: skip
    # foreach: one kernel per moment for all tensors (a SIREN's are small and many)
    optimizer = torch.optim.Adam(parameters, lr=lr, foreach=True)
    scheduler = None
    if schedule != "constant" or warmup:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, iterations, schedule, warmup)
        )
    return optimizer, scheduler


def fit(
    model: nn.Module,
    coords: torch.Tensor | Pixels,
    targets: torch.Tensor | None = None,
    *,
    iterations: int = 2000,
    lr: float = 2e-4,
    schedule: str = "constant",
    warmup: int = 0,
    fallback_db: float | None = None,
    head: str = "adam",
    max_seconds: float | None = None,
    target_psnr: float | None = None,
    batch_size: int | None = None,
    eval_every: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    description: str = "fitting",
) -> FitResult:
    """Fit ``model`` so that ``model(coords)`` approximates ``targets`` (or to the
    :class:`~hsinr.nn.pixels.Pixels` ``coords``); leave it at its best.

    Stops after ``iterations`` steps, ``max_seconds`` of wall time, or once the PSNR
    reaches ``target_psnr``, whichever comes first. The lr rises linearly over the first
    ``warmup`` steps and then follows ``schedule`` (:func:`lr_factor`). Full-batch by
    default (pixels in memory); with ``batch_size`` each step sees that many random
    pixels and the whole image is measured every ``eval_every`` steps (default: once per
    pass over the pixels). A loss that turns NaN / Inf, or (with ``fallback_db``) a PSNR
    of the whole image that many dB under the best so far, a collapse that high
    learning rates can cause in a sine network and that it does not climb out of, sends
    the model back to its best parameters with half the learning rate and the schedule
    started again over the iterations left (warm-up included).

    ``head="solve"`` (a model with ``features`` and a linear ``head``, such as
    :class:`~hsinr.nn.siren.Siren`; full-batch fits) is variable projection: at every
    step the output layer is set to the least-squares fit of the targets from the
    current features (:func:`solve_head`) and Adam trains the layers before it, whose
    gradient at the solved head is the gradient of the best fit they allow. Batch fits
    train the head with Adam (``"adam"``, the default) whatever ``head`` says.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {SCHEDULES}")
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; use one of {HEADS}")
    pixels = as_pixels(coords, targets)
    n_pixels = pixels.count
    whole = pixels.whole()
    full_batch = whole is not None and (batch_size is None or batch_size >= n_pixels)
    if not full_batch and batch_size is None:
        raise ValueError("pixels not held in memory are fitted in batches: give batch_size")
    if not full_batch and eval_every is None:
        eval_every = max(1, math.ceil(n_pixels / batch_size))
    solving = full_batch and head == "solve"
    if solving and not (hasattr(model, "features") and isinstance(getattr(model, "head", None),
                                                                   nn.Linear)):  # fmt: skip
        raise ValueError("head='solve' needs a model with features() and a linear head")
    trained = [p for name, p in model.named_parameters()
               if not (solving and name.startswith("head."))]  # fmt: skip
    optimizer, scheduler = _optimizer(trained, lr, schedule, iterations, warmup)
    best_mse, best_iteration, best = math.inf, 0, _snapshot(model)
    result = FitResult(-math.inf, 0, 0, 0.0, "iterations")
    start = time.perf_counter()
    bar = progress_bar(total=iterations, desc=description, enabled=progress)

    def consider(mse: float, iteration: int) -> None:
        nonlocal best_mse, best_iteration, best
        result.curve.append(psnr_of_mse(mse))
        result.curve_iterations.append(iteration)
        result.curve_seconds.append(time.perf_counter() - start)
        if mse < best_mse:
            best_mse, best_iteration, best = mse, iteration, _snapshot(model)

    def collapsed(mse: float) -> bool:
        return fallback_db is not None and psnr_of_mse(mse) < psnr_of_mse(best_mse) - fallback_db

    def recover() -> bool:
        """Back to the best parameters at half the lr; False once that has happened too
        often (the fit then stops as diverged)."""
        nonlocal lr, optimizer, scheduler
        result.recoveries += 1
        _restore(model, best)
        lr /= 2
        left = iterations - iteration
        optimizer, scheduler = _optimizer(trained, lr, schedule, left, min(warmup, left // 10))
        if result.recoveries > MAX_RECOVERIES:
            result.stopped_by = "diverged"
            return False
        return True

    iteration = 0
    while iteration < iterations:
        if solving:
            features = model.features(whole[0])
            solve_head(model, features.detach(), whole[1])
            weight, bias = model.head.weight.detach(), model.head.bias.detach()
            loss = functional.mse_loss(functional.linear(features, weight, bias), whole[1])
        elif full_batch:
            loss = functional.mse_loss(model(whole[0]), whole[1])
        else:
            batch_coords, batch_targets = pixels.sample(batch_size, generator)
            loss = functional.mse_loss(model(batch_coords), batch_targets)
        if not torch.isfinite(loss) or (full_batch and collapsed(float(loss.detach()))):
            if not recover():
                break
            continue
        if full_batch:
            consider(float(loss.detach()), iteration)  # the parameters before this step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        iteration += 1
        if not full_batch and (iteration % eval_every == 0 or iteration == iterations):
            measured = full_mse(model, pixels)
            if not collapsed(measured):
                consider(measured, iteration)
            elif not recover():
                break
        bar.update(1)
        if iteration % 10 == 0 or iteration == iterations:
            bar.set_postfix_str(f"PSNR {psnr_of_mse(best_mse):.2f} dB", refresh=False)
        if target_psnr is not None and psnr_of_mse(best_mse) >= target_psnr:
            result.stopped_by = "target"
            break
        if max_seconds is not None and time.perf_counter() - start >= max_seconds:
            result.stopped_by = "time"
            break
    bar.close()
    if full_batch and result.stopped_by != "diverged":
        if solving:
            with torch.no_grad():
                solve_head(model, model.features(whole[0]), whole[1])
        consider(full_mse(model, pixels), iteration)  # after the last step
    _restore(model, best)
    result.best_psnr = psnr_of_mse(best_mse)
    result.best_iteration = best_iteration
    result.iterations = iteration
    result.seconds = time.perf_counter() - start
    return result
