"""Meta-learning a modulated SIREN (CAVIA, Zintgraf et al. 2019; COIN++, Dupont et al. 2022).

Every task is a pixel patch of a scene. Its latent phi starts at 0; the *inner loop* takes
a few SGD steps on phi alone; the *outer loop* updates the shared parameters (the base
SIREN and the linear map phi -> shifts) with Adam on the loss after the inner steps,
differentiating through those steps (second order) or treating the adapted phi as a
constant (first order).

Patches are ``patch`` x ``patch`` pixels with all bands; a patch at a scene's edge, or a
scene smaller than a patch, fills the top-left of the patch grid and the rest is masked
out of the loss, as are the outputs beyond a scene's band count.

>>> import numpy as np, torch
>>> from hsinr.nn.modulated import ModulatedSiren
>>> torch.manual_seed(0) and None
>>> model = ModulatedSiren(hidden_layers=2, width=16, bands=4, latent_dim=8)
>>> batch = tile_patches(np.random.default_rng(0).random((10, 12, 3), np.float32), patch=8)
>>> batch.targets.shape, batch.positions     # 2 x 2 patches, the last ones partial
(torch.Size([4, 64, 3]), [(0, 0), (0, 8), (8, 0), (8, 8)])
>>> latents, mse = fit_latents(model, batch, steps=3)
>>> latents.shape
torch.Size([4, 8])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from hsinr.metrics import psnr_of_mse
from hsinr.nn.meta_settings import INNER_LR, INNER_STEPS, MetaTraining
from hsinr.nn.modulated import ModulatedSiren
from hsinr.nn.siren import grid
from hsinr.progress import progress_bar

SPIKE_DB = 10.0  # a step this far below the recent median PSNR is not applied


@dataclass
class Patches:
    """Patches of one or more scenes: targets (B, n, C), mask (B, n, 1 or C) with 1 where
    a value is real, and the top-left (row, col) of each patch in its scene. The n pixels
    are the whole p x p patch grid, or with ``extent`` (rows, cols) only its top-left
    rows x cols corner (the part of an edge patch inside the image)."""

    patch: int
    targets: torch.Tensor
    mask: torch.Tensor
    positions: list[tuple[int, int]] = field(default_factory=list)
    extent: tuple[int, int] | None = None

    @property
    def coords(self) -> torch.Tensor:
        """The (n, 2) coordinates of the patch's pixels on the patch grid, each axis of
        the whole grid spanning [-1, 1]."""
        return patch_coords(self.patch, self.extent).to(self.targets.device)

    def __len__(self) -> int:
        return self.targets.shape[0]

    def subset(self, index: slice) -> Patches:
        return Patches(self.patch, self.targets[index], self.mask[index], self.positions[index],
                       self.extent)  # fmt: skip

    def to(self, device: str) -> Patches:
        return Patches(self.patch, self.targets.to(device), self.mask.to(device), self.positions,
                       self.extent)  # fmt: skip


def patch_coords(patch: int, extent: tuple[int, int] | None = None) -> torch.Tensor:
    """The p x p patch grid's coordinates, (p*p, 2), or its top-left ``extent`` corner."""
    coords = grid(patch, patch)
    if extent is None:
        return coords
    rows, cols = extent
    return coords.reshape(patch, patch, 2)[:rows, :cols].reshape(-1, 2)


def patch_grid(height: int, width: int, patch: int) -> list[tuple[int, int]]:
    """Top-left corners of the patches that tile a height x width image, row by row."""
    return [(r, c) for r in range(0, height, patch) for c in range(0, width, patch)]


def tile_patches(values: np.ndarray, patch: int) -> Patches:
    """Cut a normalised (H, W, C) image into patches; edge patches are partial (masked)."""
    height, width, bands = values.shape
    positions = patch_grid(height, width, patch)
    targets = torch.zeros(len(positions), patch, patch, bands)
    mask = torch.zeros(len(positions), patch, patch, 1)
    for index, (row, col) in enumerate(positions):
        block = torch.from_numpy(np.ascontiguousarray(values[row : row + patch, col : col + patch]))
        targets[index, : block.shape[0], : block.shape[1]] = block
        mask[index, : block.shape[0], : block.shape[1]] = 1.0
    n = patch * patch
    return Patches(patch, targets.reshape(-1, n, bands), mask.reshape(-1, n, 1), positions)


def tile_by_extent(values: np.ndarray, patch: int) -> list[Patches]:
    """A normalised (H, W, C) image's patches, grouped by extent (whole patches, the right
    and bottom edges, the corner), each holding only its pixels inside the image, so no
    work or memory is spent outside it whatever the patch size."""
    height, width, bands = values.shape
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for row, col in patch_grid(height, width, patch):
        extent = (min(patch, height - row), min(patch, width - col))
        groups.setdefault(extent, []).append((row, col))
    tiled = []
    for (rows, cols), positions in groups.items():
        blocks = np.stack([values[r : r + rows, c : c + cols] for r, c in positions])
        targets = torch.from_numpy(np.ascontiguousarray(blocks, dtype=np.float32))
        targets = targets.reshape(len(positions), rows * cols, bands)
        mask = torch.ones(len(positions), rows * cols, 1)
        tiled.append(Patches(patch, targets, mask, positions, (rows, cols)))
    return tiled


def untile_patches(
    outputs: torch.Tensor, positions: Sequence[tuple[int, int]], shape: tuple[int, int, int]
) -> np.ndarray:
    """Assemble (B, p*p, C) patch outputs into an (H, W, C) image (the inverse of tiling)."""
    height, width, bands = shape
    patch = math.isqrt(outputs.shape[1])
    image = np.empty(shape, dtype=np.float32)
    blocks = outputs.reshape(-1, patch, patch, outputs.shape[-1])[..., :bands].cpu().numpy()
    for block, (row, col) in zip(blocks, positions, strict=True):
        rows, cols = min(patch, height - row), min(patch, width - col)
        image[row : row + rows, col : col + cols] = block[:rows, :cols]
    return image


def patch_mse(outputs: torch.Tensor, patches: Patches) -> torch.Tensor:
    """Per-patch MSE (B,) over the real values only; outputs beyond C bands are ignored."""
    targets, mask = patches.targets, patches.mask
    error = (outputs[..., : targets.shape[-1]] - targets) ** 2 * mask
    counts = mask.expand_as(targets).sum(dim=(1, 2)).clamp_min(1.0)
    return error.sum(dim=(1, 2)) / counts


def adapt(
    model: ModulatedSiren,
    patches: Patches,
    *,
    steps: int = INNER_STEPS,
    lr: float = INNER_LR,
    second_order: bool = False,
) -> torch.Tensor:
    """The inner loop: ``steps`` SGD steps on latents that start at 0. With
    ``second_order`` the result stays differentiable w.r.t. the shared parameters."""
    coords = patches.coords
    latents = torch.zeros(len(patches), model.latent_dim, device=coords.device, requires_grad=True)
    for _ in range(steps):
        loss = patch_mse(model(coords, latents), patches).sum()  # each latent sees its own loss
        (grad,) = torch.autograd.grad(loss, latents, create_graph=second_order)
        latents = latents - lr * grad
        if not second_order:
            latents = latents.detach().requires_grad_()
    return latents if second_order else latents.detach()


def fit_latents(
    model: ModulatedSiren,
    patches: Patches,
    *,
    steps: int = INNER_STEPS,
    lr: float = INNER_LR,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compression: ``steps`` inner SGD steps from 0, keeping each patch's best latent.

    Returns the latents (B, latent_dim) and their per-patch MSE (B,).
    """
    coords = patches.coords
    latents = torch.zeros(len(patches), model.latent_dim, device=coords.device)
    best, best_mse = latents.clone(), torch.full((len(patches),), math.inf, device=coords.device)
    for step in range(steps + 1):
        latents.requires_grad_(True)
        mse = patch_mse(model(coords, latents), patches)
        better = mse.detach() < best_mse
        best = torch.where(better[:, None], latents.detach(), best)
        best_mse = torch.where(better, mse.detach(), best_mse)
        if step == steps:
            break
        (grad,) = torch.autograd.grad(mse.sum(), latents)
        latents = (latents - lr * grad).detach()
    return best, best_mse


@torch.no_grad()
def render(
    model: ModulatedSiren, latents: torch.Tensor, patch: int, extent: tuple[int, int] | None = None
) -> torch.Tensor:
    """The network's output (B, n, bands) for each latent on the patch grid (n = p * p),
    or on its top-left ``extent`` corner only."""
    return model(patch_coords(patch, extent).to(latents.device), latents)


class PatchSampler:
    """Random training patches from a list of normalised (H, W, C) scenes; each draw picks
    a scene uniformly, then a uniform position (the whole scene when smaller than a patch)."""

    def __init__(self, scenes: Sequence[np.ndarray], patch: int, bands: int, seed: int = 0):
        if not scenes:
            raise ValueError("meta-training needs at least one scene")
        too_many = [s.shape for s in scenes if s.shape[2] > bands]
        if too_many:
            raise ValueError(f"scenes {too_many} have more bands than the network's {bands}")
        self.scenes = [torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)) for s in scenes]
        self.patch, self.bands = patch, bands
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, batch: int) -> Patches:
        p, n = self.patch, self.patch * self.patch
        targets = torch.zeros(batch, p, p, self.bands)
        mask = torch.zeros(batch, p, p, self.bands)
        picks = torch.randint(len(self.scenes), (batch,), generator=self.generator)
        for index, pick in enumerate(picks.tolist()):
            scene = self.scenes[pick]
            height, width, bands = scene.shape
            row = int(torch.randint(max(height - p, 0) + 1, (1,), generator=self.generator))
            col = int(torch.randint(max(width - p, 0) + 1, (1,), generator=self.generator))
            block = scene[row : row + p, col : col + p]
            targets[index, : block.shape[0], : block.shape[1], :bands] = block
            mask[index, : block.shape[0], : block.shape[1], :bands] = 1.0
        return Patches(p, targets.reshape(batch, n, self.bands), mask.reshape(batch, n, self.bands))


def mean_spectrum(scenes: Sequence[np.ndarray], bands: int) -> np.ndarray:
    """The mean normalised spectrum over the scenes (each scene weighted equally; outputs
    no scene has are 0): a starting point for the output bias."""
    sums, counts = np.zeros(bands), np.zeros(bands)
    for scene in scenes:
        sums[: scene.shape[2]] += scene.reshape(-1, scene.shape[2]).mean(axis=0)
        counts[: scene.shape[2]] += 1
    return (sums / np.maximum(counts, 1)).astype(np.float32)


@dataclass
class TrainingState:
    """Everything a resumed run needs: the step reached, the optimiser, the sampler's random
    state and the loss history (the outer loss's PSNR after the inner steps, per step)."""

    step: int
    optimizer: torch.optim.Adam
    sampler: PatchSampler
    history: list[float] = field(default_factory=list)


def _is_spike(psnr: float, history: list[float], window: int = 50) -> bool:
    """Whether a step's PSNR is an outlier far below the recent ones (its update is
    skipped, so one bad batch cannot wreck the shared network)."""
    if len(history) < window:
        return False
    return psnr < float(np.median(history[-window:])) - SPIKE_DB


def new_state(model: ModulatedSiren, sampler: PatchSampler, settings: MetaTraining):
    return TrainingState(0, torch.optim.Adam(model.parameters(), lr=settings.outer_lr), sampler)


def meta_train(
    model: ModulatedSiren,
    state: TrainingState,
    settings: MetaTraining,
    *,
    device: str = "cpu",
    on_checkpoint: Callable[[TrainingState], None] | None = None,
    checkpoint_every: int = 100,
    progress: bool = True,
) -> TrainingState:
    """Run the outer loop from ``state.step`` to ``settings.steps``; ``on_checkpoint`` is
    called every ``checkpoint_every`` steps and at the end."""
    model.to(device).train()
    bar = progress_bar(total=settings.steps, initial=state.step, desc="meta-training",
                       enabled=progress)  # fmt: skip
    while state.step < settings.steps:
        patches = state.sampler.sample(settings.batch).to(device)
        latents = adapt(
            model, patches, steps=settings.inner_steps, lr=settings.inner_lr,
            second_order=settings.second_order,
        )  # fmt: skip
        loss = patch_mse(model(patches.coords, latents), patches).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"meta-training diverged at step {state.step}")
        psnr = psnr_of_mse(float(loss.detach()))
        state.optimizer.zero_grad(set_to_none=True)
        if not _is_spike(psnr, state.history):
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            state.optimizer.step()
        state.step += 1
        state.history.append(psnr)
        bar.update(1)
        if state.step % 10 == 0:
            recent = state.history[-50:]
            bar.set_postfix_str(f"PSNR {sum(recent) / len(recent):.2f} dB", refresh=False)
        if on_checkpoint is not None and (
            state.step % checkpoint_every == 0 or state.step == settings.steps
        ):
            on_checkpoint(state)
    bar.close()
    return state
