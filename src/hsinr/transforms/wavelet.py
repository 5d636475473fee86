"""The 2-D CDF 9/7 wavelet transform (JPEG 2000's irreversible filter).

One level along one axis is the lifting scheme with whole-sample symmetric extension, which
is critically sampled for any length (``ceil(n/2)`` low-pass and ``floor(n/2)`` high-pass
values), computed in O(n). Its synthesis (the exact inverse, lifting steps undone) is
scaled so that every synthesis basis vector has unit norm, so one quantiser step costs the
same squared error in every subband; the norms are measured once per length by
synthesising unit vectors on a short signal of the same parity (O(n) time, see
:func:`synthesis_norms`). The 2-D transform is the dyadic
(Mallat) one: each level splits the current low-pass block into LL, HL, LH, HH.

>>> import numpy as np
>>> wavelet = Wavelet2D(50, 40)
>>> image = np.random.default_rng(0).normal(size=(3, 50, 40))
>>> np.allclose(wavelet.synthesis(wavelet.analysis(image)), image)
True
"""

from __future__ import annotations

import functools
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


def _neighbours(n: int) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Sizes of the two halves and, with symmetric extension, the low-pass neighbour after
    each high-pass value and the high-pass neighbours before / after each low-pass value."""
    nl, nh = (n + 1) // 2, n // 2
    right = np.minimum(np.arange(nh) + 1, nl - 1)
    left = np.maximum(np.arange(nl) - 1, 0)
    same = np.minimum(np.arange(nl), nh - 1)
    return nl, nh, right, left, same


def _lift(x: np.ndarray) -> np.ndarray:
    """One analysis level along axis 0 (length >= 2): the low-pass then the high-pass values."""
    _, nh, right, left, same = _neighbours(x.shape[0])
    low, high = x[0::2].copy(), x[1::2].copy()
    high += _ALPHA * (low[:nh] + low[right])
    low += _BETA * (high[left] + high[same])
    high += _GAMMA * (low[:nh] + low[right])
    low += _DELTA * (high[left] + high[same])
    return np.concatenate([low * _K, high / _K])


def _unlift(y: np.ndarray) -> np.ndarray:
    """The exact inverse of :func:`_lift`."""
    nl, nh, right, left, same = _neighbours(y.shape[0])
    low, high = y[:nl] / _K, y[nl:] * _K
    low = low - _DELTA * (high[left] + high[same])
    high = high - _GAMMA * (low[:nh] + low[right])
    low = low - _BETA * (high[left] + high[same])
    high = high - _ALPHA * (low[:nh] + low[right])
    out = np.empty_like(y)
    out[0::2], out[1::2] = low, high
    return out


def _norms_by_units(n: int, chunk: int = 512) -> np.ndarray:
    """The synthesis basis vectors' norms, each measured by synthesising a unit vector
    (O(n^2): for short lengths only)."""
    norms = np.empty(n)
    for start in range(0, n, chunk):
        units = np.zeros((n, min(chunk, n - start)))
        units[np.arange(start, start + units.shape[1]), np.arange(units.shape[1])] = 1
        norms[start : start + units.shape[1]] = np.linalg.norm(_unlift(units), axis=0)
    return norms


_EDGE = 16  # basis vectors this close to an end of either half feel the symmetric extension


@functools.lru_cache(maxsize=64)
def synthesis_norms(n: int) -> np.ndarray:
    """The norm of each of the ``n`` one-level synthesis basis vectors (read-only), in
    O(n): a vector far from both ends of its half is a shifted copy of its neighbour (the
    same numbers, so the same norm, bit for bit), so only a short signal of the same
    parity is synthesised and its interior value is repeated."""
    short = 4 * _EDGE + 8 + n % 2
    if n <= short:
        norms = _norms_by_units(n)
    else:
        measured = _norms_by_units(short)
        low, high = (n + 1) // 2, n // 2
        short_low = (short + 1) // 2
        norms = np.concatenate([
            _stretch(measured[:short_low], low), _stretch(measured[short_low:], high)
        ])  # fmt: skip
    norms.flags.writeable = False
    return norms


def _stretch(half: np.ndarray, size: int) -> np.ndarray:
    """A half's norms at length ``size`` from those of a shorter half: the first and last
    ``_EDGE`` as measured, the interior value everywhere between."""
    out = np.full(size, half[_EDGE])
    out[:_EDGE] = half[:_EDGE]
    out[size - _EDGE :] = half[len(half) - _EDGE :]
    return out


def level_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(analysis, synthesis) matrices of one normalised level on length ``n``:
    ``synthesis @ analysis`` is the identity and synthesis has unit-norm columns."""
    norms = synthesis_norms(n)
    return _lift(np.eye(n)) * norms[:, None], _unlift(np.eye(n)) / norms[None, :]


def _along(function, values: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(function(np.moveaxis(values, axis, 0)), 0, axis)


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
        analysis, row synthesis, column analysis and column synthesis matrices (for the
        torch synthesis of ``hsinr.nn.latent``; O(n^2) memory, so small images only)."""
        return [(r, c, *level_matrices(r), *level_matrices(c)) for r, c in self._sizes[:-1]]

    def analysis(self, images: np.ndarray) -> np.ndarray:
        """(..., rows, cols) images -> coefficients of the same shape (Mallat layout)."""
        out = np.array(images, dtype=np.float64, copy=True)
        for r, c in self._sizes[:-1]:
            block = _along(_lift, out[..., :r, :c], -2) * synthesis_norms(r)[:, None]
            out[..., :r, :c] = _along(_lift, block, -1) * synthesis_norms(c)
        return out

    def synthesis(self, coefficients: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`analysis`."""
        out = np.array(coefficients, dtype=np.float64, copy=True)
        for r, c in reversed(self._sizes[:-1]):
            block = _along(_unlift, out[..., :r, :c] / synthesis_norms(c), -1)
            out[..., :r, :c] = _along(_unlift, block / synthesis_norms(r)[:, None], -2)
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
