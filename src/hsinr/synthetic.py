"""Large test scenes made in code from real spectra, for the tiling tests and the scale
benchmark (the shared data holds only crops, and full scenes are not to be stored).

* :func:`mixture`: a linear mixing model. Each pixel is ``sum_e a_e(x, y) s_e`` over
  endmember spectra ``s_e`` picked from a real cube (the most mutually different of its
  pixels), with abundances ``a_e`` that are smooth random fields (bicubic interpolation
  of a random grid with one knot every ``smoothness`` pixels, made positive and summing
  to one), plus sensor-like noise: Gaussian with a standard deviation of
  ``noise`` x sqrt(signal) (shot-noise like: about 1 % of a signal of 2500 at the
  default 0.5). Rows are made a block at a time from per-block
  seeds, so a scene of any size is written to a ``.npy`` with bounded memory and is the
  same however it is cut.
* :func:`mosaic`: blocks cut from several real cubes (their first ``bands`` bands, as
  stored), laid side by side: real content with real edges between scenes.

>>> import numpy as np
>>> spectra = np.array([[100.0, 200.0, 300.0], [300.0, 200.0, 100.0]])
>>> cube = mixture((40, 30), spectra, seed=1)
>>> cube.shape, cube.dtype.name
((40, 30, 3), 'int16')
>>> bool(np.array_equal(cube[20:40], mixture((40, 30), spectra, seed=1)[20:40]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsinr.cube import Cube

BLOCK_ROWS = 64  # rows made at once (each block has its own noise seed)


def endmembers(pixels: np.ndarray, count: int) -> np.ndarray:
    """``count`` of the (N, C) ``pixels`` that differ most from each other (farthest-point
    picks by spectral angle, from the brightest), as float64 (count, C)."""
    spectra = np.asarray(pixels, dtype=np.float64).reshape(-1, pixels.shape[-1])
    unit = spectra / np.maximum(np.linalg.norm(spectra, axis=1, keepdims=True), 1e-12)
    chosen = [int(np.argmax(spectra.sum(axis=1)))]
    nearest = 1 - unit @ unit[chosen[0]]
    while len(chosen) < count:
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, 1 - unit @ unit[chosen[-1]])
    return spectra[chosen]


def _abundances(rows: range, cols: int, knots: np.ndarray, smoothness: int) -> np.ndarray:
    """(len(rows), cols, E) abundances at the given rows: the knots' bicubic interpolation,
    softened into positive fractions summing to one."""
    from scipy.ndimage import map_coordinates

    r, c = np.meshgrid(np.arange(rows.start, rows.stop) / smoothness + 1.0,
                       np.arange(cols) / smoothness + 1.0, indexing="ij")  # fmt: skip
    fields = np.stack([map_coordinates(knots[:, :, e], [r, c], order=3, mode="nearest")
                       for e in range(knots.shape[2])], axis=-1)  # fmt: skip
    weights = np.exp(2.5 * (fields - fields.max(axis=-1, keepdims=True)))
    return weights / weights.sum(axis=-1, keepdims=True)


def mixture_rows(rows: range, shape: tuple[int, int], spectra: np.ndarray, seed: int,
                 smoothness: int = 48, noise: float = 0.5,
                 dtype: np.dtype | type = np.int16) -> np.ndarray:  # fmt: skip
    """Rows ``rows`` of :func:`mixture` (``rows`` must start at a multiple of
    ``BLOCK_ROWS``, or be the scene's end)."""
    height, width = shape
    knot_shape = (height // smoothness + 4, width // smoothness + 4, len(spectra))
    knots = np.random.default_rng(seed).normal(size=knot_shape)
    out = []
    for start in range(rows.start, rows.stop, BLOCK_ROWS):
        block = range(start, min(start + BLOCK_ROWS, rows.stop))
        clean = _abundances(block, width, knots, smoothness) @ spectra
        rng = np.random.default_rng([seed, start // BLOCK_ROWS])
        shot = noise * np.sqrt(np.maximum(clean, 0.0))
        out.append(clean + shot * rng.standard_normal(clean.shape))
    values = np.concatenate(out, axis=0)
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


def mixture(shape: tuple[int, int], spectra: np.ndarray, seed: int = 0, *,
            smoothness: int = 48, noise: float = 0.5, dtype: np.dtype | type = np.int16,
            path: str | Path | None = None) -> np.ndarray | Cube:  # fmt: skip
    """A (rows, cols, bands) mixture scene of ``spectra`` (see the module notes); with
    ``path``, written to that file (any format :func:`hsinr.io.writer` writes a block at
    a time) a block of rows at a time, and returned as a lazy :class:`~hsinr.cube.Cube`."""
    height, width = shape
    bands = spectra.shape[1]
    if path is None:
        return mixture_rows(range(height), shape, spectra, seed, smoothness, noise, dtype)
    from hsinr import io

    with io.writer(path, (height, width, bands), dtype, name=Path(path).stem) as output:
        for start in range(0, height, BLOCK_ROWS * 4):
            rows = range(start, min(start + BLOCK_ROWS * 4, height))
            output.write(rows, range(width), mixture_rows(rows, shape, spectra, seed,
                                                          smoothness, noise, dtype))  # fmt: skip
    return io.load(path, lazy=True)


def mosaic(cubes: Sequence[np.ndarray], shape: tuple[int, int], block: int, bands: int,
           seed: int = 0, dtype: np.dtype | type = np.int16) -> np.ndarray:  # fmt: skip
    """A (rows, cols, bands) mosaic of ``block`` x ``block`` crops of ``cubes`` (each at
    least ``block`` pixels on a side and ``bands`` deep), taken in turn at random
    places, their first ``bands`` bands as stored."""
    rng = np.random.default_rng(seed)
    height, width = shape
    out = np.empty((height, width, bands), dtype=dtype)
    turn = 0
    for r in range(0, height, block):
        for c in range(0, width, block):
            cube = cubes[turn % len(cubes)]
            turn += 1
            h, w = min(block, height - r), min(block, width - c)
            r0 = int(rng.integers(0, cube.shape[0] - h + 1))
            c0 = int(rng.integers(0, cube.shape[1] - w + 1))
            out[r : r + h, c : c + w] = cube[r0 : r0 + h, c0 : c0 + w, :bands]
    return out
