"""Quantised Laplace models for entropy coding with constriction's ANS coder, the one
encoder / decoder pair every entropy-coded codec uses, and the one-byte scale codes they
store as side information.

Decoding is guarded (docs/FORMAT.md, "Decoding safety"): constriction's decoder returns
symbols for as long as it is asked, even from an empty payload, so
:class:`LaplaceDecoder` knows how many bits the payload holds and (1) refuses up front a
request whose cheapest possible symbols need more, (2) stops as soon as the symbols it
decoded carry more information than the payload holds, (3) decodes in chunks, so that an
interrupt is honoured, and (4) with :meth:`LaplaceDecoder.finish`, refuses a payload with
data left over. The information of a symbol is bounded from below by
:func:`cost_lower_bound`, which never exceeds what constriction really spends (its
quantised probabilities are at most the exact Laplace mass plus 2^-22, with the tails
beyond the range given to the two end symbols; tested).

A scale s is stored as ``code = round(8 log2 s) + 128`` (clipped to 0-255), so codes step
by 2^(1/8) (about 9 %) from 2^-16 to about 2^16; the coder and decoder both use the scale
the code stands for.

>>> float(scale_of(scale_code(np.array([1.0, 3.0])))[1])   # 3 is coded to within 5 %
3.0844...
"""

from __future__ import annotations

import numpy as np

from hsinr.container import CorruptFileError

MIN_SCALE = 2.0**-15


def scale_code(mean_abs: np.ndarray) -> np.ndarray:
    """The codes of Laplace scales estimated as mean absolute deviations."""
    log_scale = np.log2(np.maximum(np.asarray(mean_abs, dtype=np.float64), MIN_SCALE))
    return np.clip(np.rint(8 * log_scale + 128), 0, 255).astype(np.uint8)


# 2^(r/8), r = 0..7, correctly rounded: every scale is one of these times a power of two,
# so the table is exact and the same on every machine (no libm pow in the decoder).
_EIGHTHS = np.array([float.fromhex(h) for h in (
    "0x1.0000000000000p+0", "0x1.172b83c7d517bp+0", "0x1.306fe0a31b715p+0",
    "0x1.4bfdad5362a27p+0", "0x1.6a09e667f3bcdp+0", "0x1.8ace5422aa0dbp+0",
    "0x1.ae89f995ad3adp+0", "0x1.d5818dcfba487p+0",
)])  # fmt: skip
_CODES = np.arange(256) - 128
SCALES = np.ldexp(_EIGHTHS[_CODES % 8], _CODES // 8)  # the scale of every code
SCALES.flags.writeable = False


def scale_of(codes: np.ndarray) -> np.ndarray:
    """The scales the codes (integers 0-255) stand for: ``2 ** ((code - 128) / 8)``."""
    return SCALES[np.asarray(codes, dtype=np.int64)]


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


def code_bits(symbols: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """:func:`laplace_bits` of integer symbols under the scales of their scale ``codes``
    (looked up per code rather than computed per symbol)."""
    magnitude = np.abs(symbols)
    return np.where(magnitude == 0, ZERO_BITS[codes],
                    NONZERO_BITS[codes] + magnitude * MAGNITUDE_BITS[codes])  # fmt: skip


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


LEAK = 2.0**-22  # constriction's probability of a symbol exceeds its exact mass by less
SLACK_BITS = 64  # bits a decoder may read beyond the information it decoded (ANS state)
DECODE_CHUNK = 2**18  # symbols decoded (and checked) per call into constriction


def cdf(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The CDF of a zero-mean Laplace of ``scale`` at ``x`` (no overflow for any x)."""
    z = x / scale
    return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))


def _mass(symbols, scales, low: int, high: int, means=None) -> np.ndarray:
    """The exact Laplace mass of each symbol's bin, the tails beyond [low, high] given to
    the end symbols (as constriction's ``QuantizedLaplace(low, high)`` does)."""
    symbols = np.asarray(symbols, dtype=np.float64)
    centred = symbols if means is None else symbols - np.asarray(means, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    upper = np.where(symbols >= high, 1.0, cdf(centred + 0.5, scales))
    lower = np.where(symbols <= low, 0.0, cdf(centred - 0.5, scales))
    return upper - lower


def _bits(mass: np.ndarray) -> np.ndarray:
    return -np.log2(np.minimum(1.0, mass + LEAK))


def cost_lower_bound(symbols, scales, low: int, high: int, means=None) -> np.ndarray:
    """For each symbol, bits that constriction's ANS coder spends on it at the least under
    ``QuantizedLaplace(low, high)`` with these scales (and means, else 0).

    >>> bound = cost_lower_bound(np.array([0, 3]), np.array([1.0, 1.0]), -5, 5)
    >>> [round(float(b), 2) for b in bound]
    [1.35, 5.27]
    """
    return _bits(_mass(symbols, scales, low, high, means))


def min_cost(scales, low: int, high: int, means=None) -> np.ndarray:
    """The least :func:`cost_lower_bound` of any symbol under each model: of its most
    probable symbol (the bin of the mean, or an end symbol holding a heavy tail)."""
    scales = np.asarray(scales, dtype=np.float64)
    centre = np.zeros_like(scales) if means is None else np.asarray(means, dtype=np.float64)
    candidates = [np.clip(np.rint(centre), low, high), np.full_like(scales, low),
                  np.full_like(scales, high)]  # fmt: skip
    mass = np.max([_mass(c, scales, low, high, means) for c in candidates], axis=0)
    return _bits(mass)


def encode_symbols(symbols, scales, low: int, high: int, means=None) -> np.ndarray:
    """The ANS words (uint32) of integer symbols in [low, high], each under a quantised
    Laplace of its own scale (and mean, else 0)."""
    symbols = np.asarray(symbols, dtype=np.int32).reshape(-1)
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    means = np.zeros(symbols.size) if means is None else np.asarray(means, np.float64)
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    model = constriction.stream.model.QuantizedLaplace(low, high)
    coder.encode_reverse(symbols, model, means.reshape(-1), scales)
    return coder.get_compressed().astype("<u4")


class LaplaceDecoder:
    """Decodes the symbols of :func:`encode_symbols` in consecutive calls (each call's
    scales may depend on the symbols before it), never trusting the caller's count: see
    the module notes for the checks.

    >>> words = encode_symbols([0, 2, -1], [1.0, 1.0, 1.0], -4, 4)
    >>> decoder = LaplaceDecoder(words, -4, 4)
    >>> decoder.decode(np.ones(3)).tolist()
    [0, 2, -1]
    >>> decoder.finish()
    >>> LaplaceDecoder(words, -4, 4).require(1000 * 1.35, "1,000 symbols")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hsinr.container.CorruptFileError: 1,000 symbols need at least 1,350 bits; the ...
    """

    def __init__(self, words: np.ndarray, low: int, high: int) -> None:
        if not (low <= high and high - low <= 2 * MAX_BOUND):
            raise CorruptFileError(f"symbol range {low}..{high} is out of range")
        self.low, self.high = int(low), int(high)
        import constriction

        self.model = constriction.stream.model.QuantizedLaplace(self.low, self.high)
        try:
            self.coder = constriction.stream.stack.AnsCoder(np.asarray(words, dtype=np.uint32))
        except (ValueError, RuntimeError) as exc:
            raise CorruptFileError(f"entropy-coded data is corrupt: {exc}") from exc
        self.available = int(self.coder.num_valid_bits())
        self.spent = 0.0
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_count = 0

    def require(self, bits: float, what: str) -> None:
        """Refuse (as corrupt) a request whose symbols need at least ``bits`` bits more
        than the payload has left."""
        if bits > self.available + SLACK_BITS - self.spent:
            raise CorruptFileError(
                f"{what} need at least {bits:,.0f} bits; the entropy-coded data holds "
                f"{self.available:,}"
            )

    def decode(self, scales: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
        """The next ``len(scales)`` symbols (int64)."""
        scales = np.asarray(scales, dtype=np.float64).reshape(-1)
        if means is not None:
            means = np.asarray(means, dtype=np.float64).reshape(-1)
        out = np.empty(scales.size, dtype=np.int64)
        for start in range(0, scales.size, DECODE_CHUNK):
            part = slice(start, start + DECODE_CHUNK)
            chunk_means = np.zeros(len(scales[part])) if means is None else means[part]
            try:
                symbols = self.coder.decode(self.model, chunk_means, scales[part])
            except (ValueError, RuntimeError) as exc:
                raise CorruptFileError(f"entropy-coded data is corrupt: {exc}") from exc
            out[part] = symbols
            self._account(out[part], scales[part], None if means is None else means[part])
        return out

    def _account(self, symbols, scales, means) -> None:
        """Add the symbols' least information to what was spent, in batches."""
        self._pending.append((symbols, scales, means))
        self._pending_count += symbols.size
        if self._pending_count >= DECODE_CHUNK:
            self._settle()

    def _settle(self) -> None:
        if not self._pending:
            return
        symbols, scales = (np.concatenate([p[i] for p in self._pending]) for i in (0, 1))
        means = None
        if any(p[2] is not None for p in self._pending):
            means = np.concatenate([np.zeros(p[0].size) if p[2] is None else p[2]
                                    for p in self._pending])  # fmt: skip
        self._pending, self._pending_count = [], 0
        self.spent += float(cost_lower_bound(symbols, scales, self.low, self.high, means).sum())
        if self.spent > self.available + SLACK_BITS:
            raise CorruptFileError(
                f"entropy-coded data ends before its symbols do (the payload holds "
                f"{self.available:,} bits)"
            )

    def finish(self) -> None:
        """Check the information of every symbol decoded, and that no data is left over."""
        self._settle()
        if not self.coder.is_empty():
            raise CorruptFileError("entropy-coded data holds more than its header's symbols")
