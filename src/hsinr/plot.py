"""Pictures of cubes: pseudo-colour images and original-vs-decoded comparisons (matplotlib).

>>> import hsinr
>>> rgb = pseudo_colour(hsinr.datasets.sample())
>>> rgb.shape, rgb.dtype
((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hsinr.cube import Cube
from hsinr.io._atomic import atomic_outputs

RGB_NM = (640.0, 550.0, 460.0)
# Without wavelengths: band fractions that land near red / green / blue for AVIRIS-like
# 400-2500 nm cubes (Jasper Ridge's 198 bands: 23, 16, 7).
RGB_FRACTIONS = (0.116, 0.081, 0.035)


def rgb_bands(cube: Cube) -> tuple[int, int, int]:
    """Three band indices to show as red, green and blue."""
    if cube.wavelengths is not None:
        wavelengths = cube.wavelengths
        if wavelengths.min() <= RGB_NM[-1] and wavelengths.max() >= RGB_NM[0]:
            return tuple(int(np.argmin(np.abs(wavelengths - nm))) for nm in RGB_NM)
    return tuple(min(cube.bands - 1, round(f * (cube.bands - 1))) for f in RGB_FRACTIONS)


def pseudo_colour(
    cube: Cube, bands: tuple[int, int, int] | None = None, *, stretch_from: Cube | None = None
) -> np.ndarray:
    """An (H, W, 3) uint8 picture: three bands, each stretched between its 1st and 99th
    percentile (taken from ``stretch_from`` when given, so two cubes look alike)."""
    bands = bands or rgb_bands(cube)
    reference = (stretch_from or cube).data[:, :, list(bands)].astype(np.float64)
    low = np.percentile(reference, 1, axis=(0, 1))
    high = np.percentile(reference, 99, axis=(0, 1))
    picture = cube.data[:, :, list(bands)].astype(np.float64) - low
    picture /= np.maximum(high - low, 1e-12)
    return (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)


def save_comparison(
    original: Cube, decoded: Cube, path: str | os.PathLike[str], *, title: str = ""
) -> None:
    """A PNG with the original and the decoded cube side by side in the same pseudo-colour."""
    bands = rgb_bands(original)
    figure, axes = plt.subplots(1, 2, figsize=(8, 4.4))
    for axis, cube, label in zip(axes, (original, decoded), ("original", "decoded"), strict=True):
        axis.imshow(pseudo_colour(cube, bands, stretch_from=original), interpolation="nearest")
        axis.set_title(label)
        axis.axis("off")
    figure.suptitle(title or f"pseudo-colour, bands {bands[0]} / {bands[1]} / {bands[2]}")
    figure.tight_layout()
    with atomic_outputs(Path(path)) as (temp,):
        figure.savefig(temp, dpi=100)
    plt.close(figure)
