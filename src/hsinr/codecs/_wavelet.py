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
_ALPHA, _BETA, _GAMMA, _DELTA = -1.586134342059924, -0.052980118572961, 0.882911075530934, 0.443506852043971
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
    def matrices(self) -> list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
        """Per level, finest first: ((row analysis, row synthesis), (col ..., col ...))."""
        return [(level_matrices(r), level_matrices(c)) for r, c in self._sizes[:-1]]

    def analysis(self, images: np.ndarray) -> np.ndarray:
        """(..., rows, cols) images -> coefficients of the same shape (Mallat layout)."""
        out = np.array(images, dtype=np.float64, copy=True)
        for (r, c), ((row_a, _), (col_a, _)) in zip(self._sizes, self.matrices):
            out[..., :r, :c] = row_a @ out[..., :r, :c] @ col_a.T
        return out

    def synthesis(self, coefficients: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`analysis`."""
        out = np.array(coefficients, dtype=np.float64, copy=True)
        for (r, c), ((_, row_s), (_, col_s)) in reversed(list(zip(self._sizes, self.matrices))):
            out[..., :r, :c] = row_s @ out[..., :r, :c] @ col_s.T
        return out

    @cached_property
    def subbands(self) -> np.ndarray:
        """(rows, cols) int map: 0 = the coarsest LL, then 3 per level (HL, LH, HH) from
        the coarsest level to the finest."""
        ids = np.zeros((self.rows, self.cols), dtype=np.int64)
        for depth, ((r, c), (r2, c2)) in enumerate(zip(self._sizes[:-1], self._sizes[1:])):
            first = 1 + 3 * (self.levels - 1 - depth)
            ids[:r2, c2:c] = first
            ids[r2:r, :c2] = first + 1
            ids[r2:r, c2:c] = first + 2
        return ids

    @property
    def subband_count(self) -> int:
        return 1 + 3 * self.levels
