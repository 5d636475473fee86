"""Per-group quantised Laplace models with a stored centre: the entropy model of quantised
network weights (``siren``'s ``bits`` mode) and of ``meta``'s latents.

Each group of symbols in [0, 2**bits) has a centre (its rounded median) and a scale code
(:mod:`hsinr.entropy.laplace`); the table is stored as 3 bytes a group (``MODEL``) and
the symbols are coded with :func:`~hsinr.entropy.laplace.encode_symbols`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from hsinr.container import CorruptFileError
from hsinr.entropy.laplace import (
    LaplaceDecoder,
    cdf,
    encode_symbols,
    min_cost,
    scale_code,
    scale_of,
)

MODEL = struct.Struct("<HB")  # one group's model: centre (symbol units), scale code
SCALE_SEARCH = 16  # scale codes tried either side of the mean-deviation estimate (4x)


def _cost(symbols: np.ndarray, centre: float, code: int, bits: int) -> float:
    """Approximate bits to code ``symbols`` under the group's quantised Laplace (the
    exact mass of each bin; what constriction gives the end symbols, the tails beyond
    the range, is left out: a heuristic for choosing the scale only)."""
    scale = float(scale_of(np.array([code]))[0])
    del bits
    mass = cdf(symbols + 0.5 - centre, scale) - cdf(symbols - 0.5 - centre, scale)
    return float(-np.log2(np.maximum(mass, 1e-12)).sum())


@dataclass(frozen=True)
class LaplaceGroups:
    """One quantised Laplace per group of symbols in [0, 2**bits): its centre (the rounded
    median) and the code of its scale (the mean absolute deviation from the centre).

    >>> symbols = np.array([3, 4, 4, 5, 100, 101, 99, 100])
    >>> groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> models = LaplaceGroups.fit(symbols, groups, count=2, bits=8)
    >>> words = models.encode(symbols, groups, bits=8)
    >>> models.decode(words, groups, bits=8).tolist() == symbols.tolist()
    True
    """

    centres: np.ndarray  # uint16 (count,)
    codes: np.ndarray  # uint8 (count,)

    @classmethod
    def fit(cls, symbols: np.ndarray, groups: np.ndarray, count: int, bits: int) -> LaplaceGroups:
        """Per group: the rounded median, and of the scales within 4x of the mean absolute
        deviation, the one that codes the group's symbols in the fewest bits."""
        centres = np.zeros(count, dtype=np.uint16)
        codes = np.zeros(count, dtype=np.uint8)
        for group in range(count):
            members = symbols[groups == group]
            if members.size:
                centres[group] = np.rint(np.median(members))
                spread = np.abs(members - float(centres[group])).mean()
                start = int(scale_code(spread))
                trials = np.arange(max(start - SCALE_SEARCH, 0), min(start + SCALE_SEARCH, 255) + 1)
                costs = [_cost(members, float(centres[group]), code, bits) for code in trials]
                codes[group] = trials[int(np.argmin(costs))]
        return cls(centres, codes)

    def pack(self) -> bytes:
        return b"".join(MODEL.pack(int(c), int(s)) for c, s in zip(self.centres, self.codes,
                                                                     strict=True))  # fmt: skip

    @classmethod
    def unpack(cls, data: bytes, count: int, bits: int) -> LaplaceGroups:
        """The ``count`` models at the start of ``data`` (checked against ``bits``)."""
        if len(data) < count * MODEL.size:
            raise CorruptFileError("entropy models run past the end of the payload")
        table = np.frombuffer(data[: count * MODEL.size], dtype=[("c", "<u2"), ("s", "u1")])
        if np.any(table["c"] >= 2**bits):
            raise CorruptFileError("an entropy model's centre lies outside the symbols")
        return cls(table["c"].astype(np.uint16), table["s"].astype(np.uint8))

    def _model_arrays(self, groups: np.ndarray):
        groups = np.asarray(groups).reshape(-1)
        return self.centres.astype(np.float64)[groups], scale_of(self.codes)[groups]

    def encode(self, symbols: np.ndarray, groups: np.ndarray, bits: int) -> np.ndarray:
        """The ANS words (uint32) of ``symbols``, each under its group's model."""
        means, scales = self._model_arrays(groups)
        return encode_symbols(symbols, scales, 0, 2**bits - 1, means)

    def decode(self, words: np.ndarray, groups: np.ndarray, bits: int) -> np.ndarray:
        """The symbols of :meth:`encode`, given the same group of each symbol; refused as
        corrupt when the words cannot hold them (see :class:`LaplaceDecoder`)."""
        groups = np.asarray(groups).reshape(-1)
        decoder = LaplaceDecoder(words, 0, 2**bits - 1)
        counts = np.bincount(groups, minlength=len(self.codes))
        centres, scales = self.centres.astype(np.float64), scale_of(self.codes)
        cheapest = min_cost(scales, 0, 2**bits - 1, centres)
        decoder.require(float(counts @ cheapest), f"{groups.size:,} symbols")
        means, scales = self._model_arrays(groups)
        symbols = decoder.decode(scales, means)
        decoder.finish()
        return symbols
