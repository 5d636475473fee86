"""Meta-learning a modulated SIREN (CAVIA, Zintgraf et al. 2019; COIN++, Dupont et al. 2022).

Every task is a pixel patch of a scene. Its latent phi starts at 0; the *inner loop* takes
a few SGD steps on phi alone; the *outer loop* updates the shared parameters (the base
SIREN and the linear map phi -> shifts) with Adam on the loss after the inner steps,
differentiating through those steps (second order) or treating the adapted phi as a
constant (first order).

Patches are ``patch`` x ``patch`` pixels with all bands; a patch at a scene's edge, or a
scene smaller than a patch, fills the top-left of the patch grid and the rest is masked
out of the loss, as are the outputs beyond a scene's band count. The sampler can also take
every scene whole (the paper's protocol), a random subset of each patch's pixels, the 8
flips / rotations of a patch and random spectral views (a band window, every second band),
all drawn from its one generator so a resumed run draws the same batches.

With ``torch.distributed`` initialised (``torchrun``), every process draws the same global
batch and trains on its share; the gradients are summed over the processes (see
:func:`meta_train`).

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
from dataclasses import asdict, dataclass, field

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
    rows x cols corner (the part of an edge patch inside the image). With ``points``
    (B, n, 2) each patch has its own n pixels (a random subset of its grid)."""

    patch: int
    targets: torch.Tensor
    mask: torch.Tensor
    positions: list[tuple[int, int]] = field(default_factory=list)
    extent: tuple[int, int] | None = None
    points: torch.Tensor | None = None

    @property
    def coords(self) -> torch.Tensor:
        """The (n, 2) coordinates of the patch's pixels on the patch grid, each axis of
        the whole grid spanning [-1, 1]; or each patch's own (B, n, 2) ``points``."""
        if self.points is not None:
            return self.points
        return patch_coords(self.patch, self.extent).to(self.targets.device)

    def __len__(self) -> int:
        return self.targets.shape[0]

    def subset(self, index: slice) -> Patches:
        points = None if self.points is None else self.points[index]
        return Patches(self.patch, self.targets[index], self.mask[index], self.positions[index],
                       self.extent, points)  # fmt: skip

    def to(self, device: str) -> Patches:
        points = None if self.points is None else self.points.to(device)
        return Patches(self.patch, self.targets.to(device), self.mask.to(device), self.positions,
                       self.extent, points)  # fmt: skip


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


@dataclass(frozen=True)
class Sampling:
    """How training patches are drawn (the defaults: random p x p crops, all pixels, as
    drawn). ``whole_scenes``: every step takes every scene once, whole, at the patch
    grid's top-left (the paper's one latent per image; the batch is the scene count).
    ``pixels``: at most this many random pixels of each patch enter the loss. ``flips``:
    one of the 8 flips / rotations of each patch. ``spectral``: a random spectral view
    of each patch (all bands, every second band, or a contiguous window of 60-100 % of
    them); a scene with more bands than the network's outputs is then cut to a random
    window of that many bands instead of being refused."""

    whole_scenes: bool = False
    pixels: int | None = None
    flips: bool = False
    spectral: bool = False

    def __post_init__(self) -> None:
        if self.pixels is not None and self.pixels < 1:
            raise ValueError("pixels per patch must be positive")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


SPECTRAL_WINDOW = 0.6  # the shortest random band window, as a fraction of the bands
MIN_VIEW_BANDS = 8  # spectral views never go below this many bands


class PatchSampler:
    """Random training patches from a list of normalised (H, W, C) scenes; each draw picks
    a scene uniformly, then a uniform position (the whole scene when smaller than a patch);
    ``sampling`` adds whole scenes, pixel subsets and augmentation (:class:`Sampling`).
    Every random choice comes from the one ``generator`` (saved in checkpoints)."""

    def __init__(
        self,
        scenes: Sequence[np.ndarray],
        patch: int,
        bands: int,
        seed: int = 0,
        sampling: Sampling | None = None,
    ):
        if not scenes:
            raise ValueError("meta-training needs at least one scene")
        self.sampling = sampling or Sampling()
        too_many = [s.shape for s in scenes if s.shape[2] > bands]
        if too_many and not self.sampling.spectral:
            raise ValueError(f"scenes {too_many} have more bands than the network's {bands}")
        too_big = [s.shape for s in scenes if max(s.shape[:2]) > patch]
        if too_big and self.sampling.whole_scenes:
            raise ValueError(f"whole scenes {too_big} do not fit a {patch} x {patch} patch")
        self.scenes = [torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)) for s in scenes]
        self.patch, self.bands = patch, bands
        self.generator = torch.Generator().manual_seed(seed)

    def _int(self, high: int) -> int:
        """A uniform integer in [0, high)."""
        return int(torch.randint(high, (1,), generator=self.generator))

    def _view(self, block: torch.Tensor) -> torch.Tensor:
        """The block's flip / rotation and spectral view, as the sampling asks."""
        if self.sampling.flips:
            turn = self._int(8)
            block = torch.rot90(block, turn % 4, dims=(0, 1))
            if turn >= 4:
                block = torch.flip(block, dims=(1,))
        bands = block.shape[2]
        if self.sampling.spectral:
            kind = self._int(3)
            if kind == 1 and bands // 2 >= MIN_VIEW_BANDS:  # every second band
                block = block[..., self._int(2) :: 2]
            elif kind == 2:  # a contiguous window
                shortest = max(min(bands, MIN_VIEW_BANDS), math.ceil(SPECTRAL_WINDOW * bands))
                length = shortest + self._int(bands - shortest + 1)
                start = self._int(bands - length + 1)
                block = block[..., start : start + length]
            if block.shape[2] > self.bands:  # more bands than outputs: a window of them
                start = self._int(block.shape[2] - self.bands + 1)
                block = block[..., start : start + self.bands]
        return block

    def sample(self, batch: int) -> Patches:
        """``batch`` patches (with whole scenes: every scene once, in order)."""
        p, n = self.patch, self.patch * self.patch
        if self.sampling.whole_scenes:
            picks = list(range(len(self.scenes)))
        else:
            picks = torch.randint(len(self.scenes), (batch,), generator=self.generator).tolist()
        targets = torch.zeros(len(picks), p, p, self.bands)
        mask = torch.zeros(len(picks), p, p, self.bands)
        for index, pick in enumerate(picks):
            scene = self.scenes[pick]
            height, width, _ = scene.shape
            row = col = 0
            if not self.sampling.whole_scenes:
                row = self._int(max(height - p, 0) + 1)
                col = self._int(max(width - p, 0) + 1)
            block = self._view(scene[row : row + p, col : col + p])
            rows, cols, bands = block.shape
            targets[index, :rows, :cols, :bands] = block
            mask[index, :rows, :cols, :bands] = 1.0
        targets = targets.reshape(len(picks), n, self.bands)
        mask = mask.reshape(len(picks), n, self.bands)
        if self.sampling.pixels is None or self.sampling.pixels >= n:
            return Patches(p, targets, mask)
        return self._subsample(targets, mask)

    def _subsample(self, targets: torch.Tensor, mask: torch.Tensor) -> Patches:
        """At most ``pixels`` random pixels of each patch, among those inside its scene."""
        keep, grid_coords = self.sampling.pixels, patch_coords(self.patch)
        count = len(targets)
        picked = torch.zeros(count, keep, self.bands)
        picked_mask = torch.zeros(count, keep, self.bands)
        points = torch.zeros(count, keep, 2)
        for index in range(count):
            inside = torch.nonzero(mask[index, :, 0] > 0).reshape(-1)
            order = torch.randperm(len(inside), generator=self.generator)[:keep]
            chosen = inside[order]
            picked[index, : len(chosen)] = targets[index, chosen]
            picked_mask[index, : len(chosen)] = mask[index, chosen]
            points[index, : len(chosen)] = grid_coords[chosen]
        return Patches(self.patch, picked, picked_mask, points=points)


def mean_spectrum(scenes: Sequence[np.ndarray], bands: int) -> np.ndarray:
    """The mean normalised spectrum over the scenes (each scene weighted equally; outputs
    no scene has are 0; a scene with more bands counts its first ``bands``): a starting
    point for the output bias."""
    sums, counts = np.zeros(bands), np.zeros(bands)
    for scene in scenes:
        used = min(scene.shape[2], bands)
        sums[:used] += scene[..., :used].reshape(-1, used).mean(axis=0)
        counts[:used] += 1
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


def _world() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_grads(model: nn.Module) -> None:
    """Sum every parameter's gradient over the processes (one flat all-reduce)."""
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()


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
    called every ``checkpoint_every`` steps and at the end (by every process: the caller
    lets rank 0 write; the processes then wait for each other).

    Data parallel: with ``torch.distributed`` initialised and W processes, every process
    draws the same global batch from its own copy of the sampler's generator (so all
    stay in step, and a checkpoint's one random state serves them all) and adapts and
    backpropagates patches ``rank::W`` only, its loss being the sum of their MSEs over
    the global batch size. The gradients and the loss are summed over the processes by
    ``all_reduce``, so every process takes the same clipped Adam step on the gradient of
    the global batch's mean MSE: the single-process result up to floating-point order.
    (A plain all-reduce rather than the ``DistributedDataParallel`` wrapper: its hooks do
    not follow the second-order ``autograd.grad`` of the inner loop.)"""
    rank, world = _world()
    if world > 1:
        import torch.distributed as dist
    model.to(device).train()
    bar = progress_bar(total=settings.steps, initial=state.step, desc="meta-training",
                       enabled=progress and rank == 0)  # fmt: skip
    while state.step < settings.steps:
        patches = state.sampler.sample(settings.batch)
        total = len(patches)
        if world > 1:
            if total < world:
                raise ValueError(f"{total} patches a step cannot be shared by {world} processes")
            patches = patches.subset(slice(rank, None, world))
        patches = patches.to(device)
        latents = adapt(
            model, patches, steps=settings.inner_steps, lr=settings.inner_lr,
            second_order=settings.second_order,
        )  # fmt: skip
        losses = patch_mse(model(patches.coords, latents), patches)
        if world > 1:
            loss = losses.sum() / total
            global_loss = loss.detach().clone()
            dist.all_reduce(global_loss)
        else:
            loss = losses.mean()
            global_loss = loss.detach()
        if not torch.isfinite(global_loss):
            raise FloatingPointError(f"meta-training diverged at step {state.step}")
        psnr = psnr_of_mse(float(global_loss))
        state.optimizer.zero_grad(set_to_none=True)
        if not _is_spike(psnr, state.history):
            loss.backward()
            if world > 1:
                _all_reduce_grads(model)
            nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            for group in state.optimizer.param_groups:
                group["lr"] = settings.outer_lr_at(state.step)
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
            if world > 1:
                dist.barrier()
    bar.close()
    return state
