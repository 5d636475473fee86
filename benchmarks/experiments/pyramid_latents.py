"""The first shape tried for issue 7, kept so its number can be reproduced: Cool-chic-like
multi-resolution latent grids (bilinear upsampling, summed) for the k PCA component images,
fp16 PCA basis, factorised Laplace rate term, trained with uniform noise then
straight-through rounding. The rate is estimated (Laplace bits of the latents + fp16 basis
+ one byte per latent group + 60 bytes of header), not a written file.

    python benchmarks/experiments/pyramid_latents.py jasper_ridge 0.08 12 1000

prints PSNR and the estimated bpppb (compare pca-jpeg2000 at that rate in
benchmarks/results/latent/results.md). One torch thread, CPU.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from hsinr import datasets
from hsinr.transforms.klt import principal_basis


def main() -> None:
    scene, step, k, iterations = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    values, _ = datasets.load(scene).normalise(np.float64)
    rows, cols, bands = values.shape
    pixels = values.reshape(-1, bands)
    basis = principal_basis(pixels, k)
    scores = torch.tensor(basis.project(pixels).reshape(rows, cols, k), dtype=torch.float32)
    levels = max(1, math.floor(math.log2(min(rows, cols) / 4)) + 1)
    target = torch.tensor(pixels, dtype=torch.float32)
    components = torch.tensor(basis.components.T, dtype=torch.float32)
    mean = torch.tensor(basis.mean, dtype=torch.float32)

    def up(grid: torch.Tensor) -> torch.Tensor:
        return F.interpolate(grid[None], size=(rows, cols), mode="bilinear", align_corners=False)[0]

    # start: coarse-to-fine residual pyramid of the component images
    images = scores.permute(2, 0, 1)
    sizes = [(math.ceil(rows / 2**level), math.ceil(cols / 2**level)) for level in range(levels)]
    grids: list[torch.Tensor] = [torch.empty(0)] * levels
    approximation = torch.zeros_like(images)
    for level in reversed(range(levels)):
        residual = images - approximation
        grid = (
            residual
            if level == 0
            else F.interpolate(residual[None], size=sizes[level], mode="area")[0]
        )
        grids[level] = grid / step
        approximation = approximation + up(grid)
    latents = [torch.nn.Parameter(grid.clone()) for grid in grids]
    log_scales = torch.nn.Parameter(
        torch.stack([torch.log(grid.abs().mean(dim=(1, 2)) + 1e-3) for grid in grids])
    )
    optimiser = torch.optim.Adam([*latents, log_scales], lr=1e-2)
    lam, count = step * step * math.log(2) / 6, rows * cols * bands

    def forward(noisy: bool) -> tuple[torch.Tensor, torch.Tensor]:
        decoded, bits = 0, 0
        for level, z in enumerate(latents):
            y = z + torch.rand_like(z) - 0.5 if noisy else z + (torch.round(z) - z).detach()
            scale = torch.exp(log_scales[level])[:, None, None]

            def cdf(v, scale=scale):
                return torch.where(
                    v < 0, 0.5 * torch.exp(v / scale), 1 - 0.5 * torch.exp(-v / scale)
                )

            bits = bits - torch.log2((cdf(y + 0.5) - cdf(y - 0.5)).clamp_min(1e-9)).sum()
            decoded = decoded + up(y)
        spectra = (decoded * step).permute(1, 2, 0).reshape(-1, k) @ components + mean
        return ((spectra - target) ** 2).mean(), bits

    started = time.time()
    for iteration in range(iterations):
        if iteration == int(0.8 * iterations):
            for group in optimiser.param_groups:
                group["lr"] = 2e-3
        mse, bits = forward(noisy=iteration < 0.8 * iterations)
        optimiser.zero_grad()
        (mse + lam * bits / count).backward()
        optimiser.step()
    with torch.no_grad():
        mse, bits = forward(noisy=False)
    total = float(bits) / 8 + (bands + bands * k) * 2 + levels * k + 60
    print(
        f"{scene} step {step} k {k} levels {levels}: PSNR {10 * math.log10(1 / float(mse)):.2f} dB "
        f"at about {8 * total / count:.4f} bpppb ({time.time() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
