"""Rate-distortion training of the ``latent`` codec's parameters, Cool-chic style.

The decoder is ``spectra = (q * W^-1(y)) @ B + m``: integer latents ``y`` (k wavelet
coefficient images), the wavelet synthesis ``W^-1``, and a spectral basis ``B`` (k x C) and
mean ``m`` stored as integers times per-row steps. Training minimises
``MSE + lambda * bits / values`` over the latents, the basis and the mean, with bits
from a zero-centred Laplace per latent group (learned log-scales), quantisation replaced
by uniform noise for the first part of the run and by straight-through rounding for the
rest (as in Cool-chic / Balle et al.). The codec rounds the returned values and entropy
codes them with scales refitted to the rounded symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from hsinr.progress import progress_bar
from hsinr.transforms.wavelet import Wavelet2D


@dataclass(frozen=True)
class RateDistortion:
    """Settings of one training run."""

    iterations: int = 300
    lr: float = 1e-3  # latents (in quantiser steps) and log-scales
    basis_lr: float = 1e-2  # basis and mean (in their own steps)
    noise_fraction: float = 0.3  # the rest uses straight-through rounding
    seed: int = 0


def lagrangian(step: float) -> float:
    """The lambda (MSE per bit, both per value) at which a uniform quantiser of ``step``
    is rate-distortion optimal at high rate: dD/dR = -2 ln2 D with D = step^2 / 12."""
    return step * step * math.log(2) / 6


def _rounded(values: torch.Tensor, noisy: bool) -> torch.Tensor:
    if noisy:
        return values + torch.rand_like(values) - 0.5
    return values + (torch.round(values) - values).detach()


def _laplace_bits(symbols: torch.Tensor, log_scales: torch.Tensor) -> torch.Tensor:
    scale = torch.exp(log_scales)
    a = symbols.abs() / scale
    half = 0.5 / scale
    upper = torch.exp(-(a - half).clamp_min(0))  # 1 - cdf below the symbol, doubled
    mass = torch.where(a < half, 1 - torch.exp(-half), 0.5 * (upper - torch.exp(-(a + half))))
    return -torch.log2(mass.clamp_min(1e-12)).sum()


class _Synthesis:
    """The wavelet synthesis of (k, rows, cols) tensors, differentiable."""

    def __init__(self, wavelet: Wavelet2D, device: torch.device) -> None:
        def tensor(matrix: np.ndarray) -> torch.Tensor:
            return torch.tensor(matrix, dtype=torch.float32, device=device)

        self.levels = [
            (r, c, tensor(row_s), tensor(col_s)) for r, c, _, row_s, _, col_s in wavelet.steps
        ]

    def __call__(self, coefficients: torch.Tensor) -> torch.Tensor:
        out = coefficients
        for r, c, row_s, col_s in reversed(self.levels):
            block = row_s @ out[:, :r, :c] @ col_s.T
            out = torch.cat([torch.cat([block, out[:, :r, c:]], dim=2), out[:, r:]], dim=1)
        return out


def train(
    values: np.ndarray,
    wavelet: Wavelet2D,
    latents: np.ndarray,
    groups: np.ndarray,
    rows: np.ndarray,
    row_steps: np.ndarray,
    step: float,
    settings: RateDistortion = RateDistortion(),
    *,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Train from ``latents`` (k, H, W, in steps) and basis ``rows`` ((k+1, C): mean first);
    returns both, unrounded.

    ``values`` is the normalised (H, W, C) cube, ``groups`` (k, H, W) the entropy-model
    group of each latent, ``row_steps`` the quantiser step of each basis row and ``step``
    the latents' step q.
    """
    torch.manual_seed(settings.seed)
    dev = torch.device(device)
    bands = values.shape[2]
    target = torch.tensor(values.reshape(-1, bands), dtype=torch.float32, device=dev)
    synthesis = _Synthesis(wavelet, dev)
    z = torch.nn.Parameter(torch.tensor(latents, dtype=torch.float32, device=dev))
    steps_t = torch.tensor(row_steps, dtype=torch.float32, device=dev)[:, None]
    basis = torch.nn.Parameter(
        torch.tensor(rows / row_steps[:, None], dtype=torch.float32, device=dev)
    )
    group_index = torch.tensor(groups, dtype=torch.long, device=dev)
    count = int(groups.max()) + 1
    spread = np.bincount(groups.reshape(-1), np.abs(latents).reshape(-1), count)
    spread /= np.maximum(np.bincount(groups.reshape(-1), minlength=count), 1)
    log_scales = torch.nn.Parameter(
        torch.tensor(np.log(spread + 0.1), dtype=torch.float32, device=dev)
    )
    optimiser = torch.optim.Adam([
        {"params": [z, log_scales], "lr": settings.lr},
        {"params": [basis], "lr": settings.basis_lr},
    ])  # fmt: skip

    weight = lagrangian(step) / target.numel()
    noisy_until = int(settings.noise_fraction * settings.iterations)
    bar = progress_bar(range(settings.iterations), desc="rate-distortion", enabled=progress)
    for iteration in bar:
        noisy = iteration < noisy_until
        y = _rounded(z, noisy)
        stored = _rounded(basis, noisy) * steps_t
        images = synthesis(y) * step
        decoded = images.reshape(len(y), -1).T @ stored[1:] + stored[0]
        mse = torch.mean((decoded - target) ** 2)
        bits = _laplace_bits(y, log_scales[group_index])
        loss = mse + weight * bits
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if iteration % 25 == 0:
            bar.set_postfix(psnr=f"{-10 * math.log10(max(float(mse.detach()), 1e-12)):.2f}",
                            kbytes=f"{float(bits.detach()) / 8e3:.1f}")  # fmt: skip
    with torch.no_grad():
        return z.cpu().double().numpy(), (basis * steps_t).cpu().double().numpy()
