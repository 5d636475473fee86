"""The 2-D CDF 9/7 wavelet transform (JPEG 2000's irreversible filter), as explicit matrices.

One level along one axis is the lifting scheme with whole-sample symmetric extension, which
is critically sampled for any length (``ceil(n/2)`` low-pass and ``floor(n/2)`` high-pass
values). Each level is turned into an ``n x n`` matrix by transforming the identity, and
its synthesis matrix is the exact inverse with columns scaled to unit norm, so one
quantiser step costs the same squared error in every subband. The 2-D transform is the
dyadic (Mallat) one: each level splits the current low-pass block into LL, HL, LH, HH.

>>> import numpy as np
>>> wavelet = Wavelet2D(50, 40)
>>> image = np.random.default_rng(0).normal(size=(3, 50, 40))
>>> np.allclose(wavelet.synthesis(wavelet.analysis(image)), image)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

MAX_LEVELS = 6
_ALPHA, _BETA, _GAMMA, _DELTA = (
    -1.586134342059924,
    -0.052980118572961,
    0.882911075530934,
    0.443506852043971,
)
_K = 1.230174104914001


def _lift(x: np.ndarray) -> np.ndarray:
    """One analysis level along axis 0: the low-pass then the high-pass values."""
    n = x.shape[0]
    low, high = x[0::2].copy(), x[1::2].copy()
    nl, nh = low.shape[0], high.shape[0]
    right = np.minimum(np.arange(nh) + 1, nl - 1)  # low neighbour after each high value
    left = np.maximum(np.arange(nl) - 1, 0)  # high neighbour before each low value
    same = np.minimum(np.arange(nl), nh - 1)  # high neighbour after each low value
    if n % 2 == 0:  # the last high value mirrors onto the last low value
        right[-1] = nl - 1
    high += _ALPHA * (low[:nh] + low[right])
    low += _BETA * (high[left] + high[same])
    high += _GAMMA * (low[:nh] + low[right])
    low += _DELTA * (high[left] + high[same])
    return np.concatenate([low * _K, high / _K])


def level_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(analysis, synthesis) of one level on length ``n``: synthesis has unit-norm columns
    and ``synthesis @ analysis`` is the identity."""
    analysis = _lift(np.eye(n))
    synthesis = np.linalg.inv(analysis)
    norms = np.linalg.norm(synthesis, axis=0)
    return analysis * norms[:, None], synthesis / norms[None, :]


def default_levels(rows: int, cols: int) -> int:
    """Levels until the low-pass block is about 4 pixels on its shorter side (at most 6)."""
    shorter, levels = min(rows, cols), 0
    while levels < MAX_LEVELS and shorter >= 8:
        shorter = (shorter + 1) // 2
        levels += 1
    return levels


@dataclass(frozen=True)
class Wavelet2D:
    """The ``levels``-level dyadic CDF 9/7 transform of (..., rows, cols) arrays."""

    rows: int
    cols: int
    levels: int = -1
    _sizes: list[tuple[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        levels = default_levels(self.rows, self.cols) if self.levels < 0 else self.levels
        sizes = [(self.rows, self.cols)]
        for _ in range(levels):
            r, c = sizes[-1]
            if min(r, c) < 2:
                raise ValueError(f"{levels} wavelet levels do not fit {self.rows} x {self.cols}")
            sizes.append(((r + 1) // 2, (c + 1) // 2))
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "_sizes", sizes)

    @cached_property
    def steps(self) -> list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per level, finest first: the block it transforms (rows, cols) and its row
        analysis, row synthesis, column analysis and column synthesis matrices."""
        return [(r, c, *level_matrices(r), *level_matrices(c)) for r, c in self._sizes[:-1]]

    def analysis(self, images: np.ndarray) -> np.ndarray:
        """(..., rows, cols) images -> coefficients of the same shape (Mallat layout)."""
        out = np.array(images, dtype=np.float64, copy=True)
        for r, c, row_a, _, col_a, _ in self.steps:
            out[..., :r, :c] = row_a @ out[..., :r, :c] @ col_a.T
        return out

    def synthesis(self, coefficients: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`analysis`."""
        out = np.array(coefficients, dtype=np.float64, copy=True)
        for r, c, _, row_s, _, col_s in reversed(self.steps):
            out[..., :r, :c] = row_s @ out[..., :r, :c] @ col_s.T
        return out

    @cached_property
    def boxes(self) -> list[tuple[int, int, int, int]]:
        """Each subband's (row0, row1, col0, col1), in subband order: the coarsest LL,
        then HL, LH, HH of each level from the coarsest to the finest."""
        r, c = self._sizes[-1]
        boxes = [(0, r, 0, c)]
        for (r, c), (r2, c2) in reversed(list(zip(self._sizes[:-1], self._sizes[1:], strict=True))):
            boxes += [(0, r2, c2, c), (r2, r, 0, c2), (r2, r, c2, c)]
        return boxes

    @cached_property
    def subbands(self) -> np.ndarray:
        """(rows, cols) int map of each position's subband (see :attr:`boxes`)."""
        ids = np.zeros((self.rows, self.cols), dtype=np.int64)
        for band, (r0, r1, c0, c1) in enumerate(self.boxes):
            ids[r0:r1, c0:c1] = band
        return ids

    @cached_property
    def parents(self) -> np.ndarray:
        """(rows, cols) flat index of each detail coefficient's parent: the same
        orientation one level coarser, at half the position (-1 for the coarsest level
        and the LL band)."""
        out = np.full((self.rows, self.cols), -1, dtype=np.int64)
        for band in range(4, self.subband_count):
            r0, r1, c0, c1 = self.boxes[band]
            p0, p1, q0, q1 = self.boxes[band - 3]
            i, j = np.mgrid[r0:r1, c0:c1]
            parent_row = np.minimum(p0 + (i - r0) // 2, p1 - 1)
            parent_col = np.minimum(q0 + (j - c0) // 2, q1 - 1)
            out[r0:r1, c0:c1] = parent_row * self.cols + parent_col
        return out

    @property
    def subband_count(self) -> int:
        return 1 + 3 * self.levels
