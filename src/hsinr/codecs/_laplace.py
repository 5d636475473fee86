"""Quantised Laplace models for entropy coding with constriction's ANS coder, and the
one-byte scale codes the entropy-coded codecs store as side information.

A scale s is stored as ``code = round(8 log2 s) + 128`` (clipped to 0-255), so codes step
by 2^(1/8) (about 9 %) from 2^-16 to about 2^16; the coder and decoder both use the scale
the code stands for.

>>> float(scale_of(scale_code(np.array([1.0, 3.0])))[1])   # 3 is coded to within 5 %
3.0844...
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import constriction
import numpy as np

from hsinr.container import CorruptFileError

MIN_SCALE = 2.0**-15


def scale_code(mean_abs: np.ndarray) -> np.ndarray:
    """The codes of Laplace scales estimated as mean absolute deviations."""
    log_scale = np.log2(np.maximum(np.asarray(mean_abs, dtype=np.float64), MIN_SCALE))
    return np.clip(np.rint(8 * log_scale + 128), 0, 255).astype(np.uint8)


def scale_of(codes: np.ndarray) -> np.ndarray:
    """The scales the codes stand for."""
    return 2.0 ** ((np.asarray(codes, dtype=np.float64) - 128) / 8)


MODEL = struct.Struct("<HB")  # one group's model: centre (symbol units), scale code
SCALE_SEARCH = 16  # scale codes tried either side of the mean-deviation estimate (4x)


def _cost(symbols: np.ndarray, centre: float, code: int, bits: int) -> float:
    """Approximate bits to code ``symbols`` under constriction's quantised Laplace, whose
    mass outside [0, 2**bits) is not given back to the symbols inside."""
    scale = float(scale_of(np.array([code]))[0])

    def cdf(x):
        z = (x - centre) / scale
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))

    del bits  # the range does not renormalise the model
    mass = cdf(symbols + 0.5) - cdf(symbols - 0.5)
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
        coder = constriction.stream.stack.AnsCoder()
        model = constriction.stream.model.QuantizedLaplace(0, 2**bits - 1)
        coder.encode_reverse(np.asarray(symbols, np.int32).reshape(-1), model, means, scales)
        return coder.get_compressed().astype("<u4")

    def decode(self, words: np.ndarray, groups: np.ndarray, bits: int) -> np.ndarray:
        """The symbols of :meth:`encode`, given the same group of each symbol."""
        means, scales = self._model_arrays(groups)
        model = constriction.stream.model.QuantizedLaplace(0, 2**bits - 1)
        try:
            coder = constriction.stream.stack.AnsCoder(np.asarray(words, dtype=np.uint32))
            return np.asarray(coder.decode(model, means, scales), dtype=np.int64)
        except (ValueError, RuntimeError) as exc:
            raise CorruptFileError(f"entropy-coded data is corrupt: {exc}") from exc


MAX_BOUND = 2**22  # largest |symbol| the zero-centred coder takes (support < 2^24)


def _log2_sinh(x: np.ndarray) -> np.ndarray:
    return (x + np.log1p(-np.exp(-2 * x)) - np.log(2)) / np.log(2)


def laplace_bits(symbols: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Bits of each integer symbol under a zero-centred Laplace of its scale (no
    renormalisation of the mass outside the coded range, as constriction does):
    ``-log2(1 - exp(-1/(2s)))`` for 0, ``|y| log2(e) / s - log2 sinh(1/(2s))`` otherwise."""
    scales = np.asarray(scales, dtype=np.float64)
    half = 0.5 / scales
    magnitude = np.abs(symbols)
    nonzero = magnitude / (scales * np.log(2)) - _log2_sinh(half)
    return np.where(magnitude == 0, -np.log2(-np.expm1(-half)), nonzero)


def _per_code_bits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every scale code: bits of a 0, fixed bits of a non-zero symbol, bits per unit
    of its magnitude (so a group's cost is linear in three counts)."""
    scales = scale_of(np.arange(256))
    half = 0.5 / scales
    return -np.log2(-np.expm1(-half)), -_log2_sinh(half), 1 / (scales * np.log(2))


ZERO_BITS, NONZERO_BITS, MAGNITUDE_BITS = _per_code_bits()


def group_statistics(symbols: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """(count, 3): zeros, non-zeros and the sum of magnitudes of each group's symbols."""
    magnitude = np.abs(np.asarray(symbols, dtype=np.float64)).reshape(-1)
    groups = np.asarray(groups).reshape(-1)
    zeros = np.bincount(groups, weights=magnitude == 0, minlength=count)
    nonzeros = np.bincount(groups, weights=magnitude != 0, minlength=count)
    return np.stack([zeros, nonzeros, np.bincount(groups, magnitude, minlength=count)], axis=1)


def bits_by_code(statistics: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Bits to code groups with the given statistics under the given scale codes
    (``codes`` broadcasts against the groups)."""
    codes = np.clip(codes, 0, 255)
    return (statistics[..., 0] * ZERO_BITS[codes] + statistics[..., 1] * NONZERO_BITS[codes]
            + statistics[..., 2] * MAGNITUDE_BITS[codes])  # fmt: skip


def fit_scale_codes(symbols: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """One zero-centred Laplace scale code per group: of all 256, the one that codes the
    group's symbols in the fewest bits.

    >>> symbols = np.array([0, 1, -1, 0, 40, -35, 50, 0])
    >>> small, large = scale_of(fit_scale_codes(symbols, np.array([0, 0, 0, 0, 1, 1, 1, 1]), 2))
    >>> bool(small < 1 < 20 < large)
    True
    """
    statistics = group_statistics(symbols, groups, count)[:, None, :]
    costs = bits_by_code(statistics, np.arange(256)[None, :])
    return np.argmin(costs, axis=1).astype(np.uint8)


def encode_zero_centred(symbols: np.ndarray, scales: np.ndarray, bound: int) -> np.ndarray:
    """The ANS words (uint32) of integer symbols in [-bound, bound], each under a
    zero-centred quantised Laplace of its own scale."""
    coder = constriction.stream.stack.AnsCoder()
    model = constriction.stream.model.QuantizedLaplace(-bound, bound)
    symbols = np.asarray(symbols, dtype=np.int32).reshape(-1)
    coder.encode_reverse(symbols, model, np.zeros(symbols.size), np.asarray(scales, np.float64))
    return coder.get_compressed().astype("<u4")


class ZeroCentredDecoder:
    """Decodes the symbols of :func:`encode_zero_centred` in consecutive chunks, each with
    scales that may depend on the chunks before it."""

    def __init__(self, words: np.ndarray, bound: int) -> None:
        if not 1 <= bound <= MAX_BOUND:
            raise CorruptFileError(f"symbol bound {bound} is out of range")
        self.model = constriction.stream.model.QuantizedLaplace(-bound, bound)
        try:
            self.coder = constriction.stream.stack.AnsCoder(np.asarray(words, dtype=np.uint32))
        except (ValueError, RuntimeError) as exc:
            raise CorruptFileError(f"entropy-coded data is corrupt: {exc}") from exc

    def decode(self, scales: np.ndarray) -> np.ndarray:
        """The next ``len(scales)`` symbols."""
        scales = np.asarray(scales, dtype=np.float64)
        try:
            symbols = self.coder.decode(self.model, np.zeros(scales.size), scales)
        except (ValueError, RuntimeError) as exc:
            raise CorruptFileError(f"entropy-coded data is corrupt: {exc}") from exc
        return np.asarray(symbols, dtype=np.int64)
