"""Context-adaptive Laplace scales for the ``latent`` codec's wavelet latents.

A latent's scale code is its group's (component, subband) code plus an offset chosen by
its *context*: the mean normalised magnitude ``|y| / group scale`` of up to five latents
decoded before it: its parent (same component and orientation, one level coarser), the
same position in the previous component, and its three neighbours in the row above in
the same subband (up-left, up, up-right). The context is cut into ``BUCKETS`` fixed
ranges and each range has one stored offset (int8, in eighths of an octave).

Decoding runs component by component, level by level from the coarsest, a row at a time
(the LL band's rows, then for each level a row of HL, LH and HH together: none of them
looks at the others), so each row's contexts are known when it is decoded, and the
encoder computes the same contexts from the same values in the same order of operations
(bit-identical).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hsinr.entropy.laplace import bits_by_code, group_statistics, scale_of
from hsinr.transforms.wavelet import Wavelet2D

EDGES = np.array([0.02, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.2, 3.5, 6.0])
BUCKETS = len(EDGES) + 1
_OFFSETS = np.arange(-128, 128)


@dataclass(frozen=True)
class Neighbours:
    """Where each latent's context looks, and the decoding order of the rows.

    ``gather`` is (rows * cols, 4): the flat positions of each position's parent and of
    its up-left, up and up-right neighbours in its own subband, ``rows * cols`` (a zero
    kept past the end of the magnitudes) where there is none; ``present`` counts those
    that exist. ``rows`` holds the flat positions of each subband row, in decoding order.
    """

    gather: np.ndarray
    present: np.ndarray
    rows: list[np.ndarray]
    wavelet: Wavelet2D

    @classmethod
    @functools.lru_cache(maxsize=4)
    def of(cls, wavelet: Wavelet2D) -> Neighbours:
        cols = wavelet.cols
        size = wavelet.rows * cols
        shape = (wavelet.rows, cols)
        above = [np.full(shape, size, dtype=np.int64) for _ in range(3)]
        for r0, r1, c0, c1 in wavelet.boxes:
            i, j = np.mgrid[r0:r1, c0:c1]
            for shift, table in zip((-1, 0, 1), above, strict=True):
                ok = (i > r0) & (j + shift >= c0) & (j + shift < c1)
                table[r0:r1, c0:c1] = np.where(ok, (i - 1) * cols + j + shift, size)
        parent = wavelet.parents.reshape(-1)
        gather = np.stack([np.where(parent >= 0, parent, size)] +
                          [table.reshape(-1) for table in above], axis=1)  # fmt: skip
        present = np.count_nonzero(gather < size, axis=1).astype(np.float64)
        rows = []  # the LL band, then per level its HL, LH and HH rows side by side
        for first in range(0, wavelet.subband_count, 3):
            boxes = wavelet.boxes[max(first - 2, 0) : first + 1]
            for row in range(max(r1 - r0 for r0, r1, _, _ in boxes)):
                rows.append(np.concatenate([
                    (r0 + row) * cols + np.arange(c0, c1)
                    for r0, r1, c0, c1 in boxes if r0 + row < r1
                ]))  # fmt: skip
        return cls(gather, present, rows, wavelet)

    def contexts(self, magnitude: np.ndarray, previous: np.ndarray | None,
                 positions: np.ndarray) -> np.ndarray:  # fmt: skip
        """The contexts of ``positions``. ``magnitude`` holds this component's normalised
        magnitudes (rows * cols + 1, the last 0), filled at least wherever the contexts
        look; ``previous`` the previous component's, or None for the first component.
        Summed in the order parent, up-left, up, up-right, previous component."""
        looked = magnitude[self.gather[positions]]
        total = looked[:, 0] + looked[:, 1]
        total += looked[:, 2]
        total += looked[:, 3]
        count = self.present[positions]
        if previous is not None:
            total += previous[positions]
            count = count + 1
        return total / np.maximum(count, 1)

    def all_contexts(self, magnitude: np.ndarray) -> np.ndarray:
        """Every latent's context, (k, rows*cols), as decoding will find them, from the
        normalised magnitudes (k, rows*cols): the same sums in the same order as
        :meth:`contexts`, so the same floats, but each neighbour taken by slicing the
        subbands (a missing one is 0) rather than gathered position by position."""
        wavelet = self.wavelet
        k = len(magnitude)
        images = magnitude.reshape(k, wavelet.rows, wavelet.cols)
        parent, up_left, up, up_right = (np.zeros_like(images) for _ in range(4))
        boxes = wavelet.boxes
        for band, (r0, r1, c0, c1) in enumerate(boxes):
            box = images[:, r0:r1, c0:c1]
            up[:, r0 + 1 : r1, c0:c1] = box[:, :-1]
            up_left[:, r0 + 1 : r1, c0 + 1 : c1] = box[:, :-1, :-1]
            up_right[:, r0 + 1 : r1, c0 : c1 - 1] = box[:, :-1, 1:]
            if band >= 4:  # a detail band with a coarser one of the same orientation
                p0, p1, q0, q1 = boxes[band - 3]
                down = np.minimum(p0 + np.arange(r1 - r0) // 2, p1 - 1)
                across = np.minimum(q0 + np.arange(c1 - c0) // 2, q1 - 1)
                parent[:, r0:r1, c0:c1] = images[:, down][:, :, across]
        total = parent + up_left
        total += up
        total += up_right
        total = total.reshape(k, -1)
        count = np.broadcast_to(self.present, total.shape)
        if k > 1:
            total[1:] += magnitude[:-1]
            count = count + (np.arange(k) > 0)[:, None]
        return total / np.maximum(count, 1)


def bucket_of(contexts: np.ndarray) -> np.ndarray:
    return np.searchsorted(EDGES, contexts)


def coded_codes(group_codes: np.ndarray, offsets: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Scale codes (uint8) from a group code (per symbol) shifted by its bucket's offset."""
    shifted = group_codes.astype(np.int16) + np.asarray(offsets, dtype=np.int16)[buckets]
    return np.clip(shifted, 0, 255).astype(np.uint8)


def coded_scales(group_codes: np.ndarray, offsets: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Scales from a group code (per symbol) shifted by its bucket's offset."""
    return scale_of(coded_codes(group_codes, offsets, buckets))


def scale_table(offsets: np.ndarray) -> np.ndarray:
    """(256, BUCKETS): the scale of a latent of group code c in bucket b (what
    :func:`coded_scales` gives, looked up instead of computed)."""
    codes = np.arange(256)[:, None] + np.asarray(offsets, dtype=np.int64)[None, :]
    return scale_of(np.clip(codes, 0, 255))


def fit_offsets(symbols: np.ndarray, group_codes: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Per bucket, of all int8 offsets, the one that codes its symbols in the fewest bits."""
    symbols, group_codes, buckets = (a.reshape(-1) for a in (symbols, group_codes, buckets))
    # statistics per (bucket, group code) pair: the cost is linear in them
    pairs = buckets.astype(np.int64) * 256 + group_codes
    statistics = group_statistics(symbols, pairs, BUCKETS * 256).reshape(BUCKETS, 256, 3)
    codes = np.arange(256)
    costs = np.stack([
        bits_by_code(statistics, codes[None, :] + offset).sum(axis=1) for offset in _OFFSETS
    ])  # fmt: skip
    return _OFFSETS[np.argmin(costs, axis=0)].astype(np.int8)
