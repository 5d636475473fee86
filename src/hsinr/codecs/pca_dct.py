"""Codec ``pca-dct``: spectral PCA to k components, then each component image coded as
8 x 8 block DCTs (orthonormal DCT-II), one uniform quantiser step for every coefficient
(the MSE-optimal choice after orthonormal transforms), and adaptive-free entropy coding:
constriction's ANS coder with a quantised Laplace model whose scale is stored per
component and per frequency group (u + v, 15 groups) as a one-byte log2 code.

Body: step q (float32), symbol bound R (uint32), k x 15 scale codes (uint8), then the ANS
words (uint32). Rate control (see :mod:`hsinr.codecs.pca`) bisects -ln(q) for each k.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from hsinr import container
from hsinr.codecs.base import Run
from hsinr.codecs.pca import PcaCodec, PcaOptions
from hsinr.entropy.laplace import LaplaceDecoder, encode_symbols, min_cost, scale_code, scale_of
from hsinr.limits import Limits
from hsinr.transforms.dct import BLOCK, from_blocks, to_blocks

GROUPS = 2 * BLOCK - 1  # frequency groups u + v = 0 .. 14
_GROUP_OF = np.add.outer(np.arange(BLOCK), np.arange(BLOCK))
_BODY = struct.Struct("<fI")
MAX_SYMBOL = 2**22


def _scale_codes(symbols: np.ndarray) -> np.ndarray:
    """One-byte log2 codes of the Laplace scale (mean |symbol|) per component and group."""
    k = symbols.shape[0]
    codes = np.empty((k, GROUPS), dtype=np.uint8)
    magnitudes = np.abs(symbols).astype(np.float64)
    for group in range(GROUPS):
        mask = _GROUP_OF == group
        mean = magnitudes[..., mask].mean(axis=(1, 2, 3)) if mask.any() else np.zeros(k)
        codes[:, group] = scale_code(mean)
    return codes


def _scales_per_symbol(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    scales = scale_of(codes)  # (k, GROUPS)
    per_position = scales[:, _GROUP_OF]  # (k, 8, 8)
    return np.broadcast_to(per_position[:, None, None], shape).reshape(-1)


@dataclass(frozen=True)
class PcaDctOptions(PcaOptions):
    """``pca-dct``'s options: the budget and k."""


class PcaDctCodec(PcaCodec):
    name = "pca-dct"
    codec_id = 4
    summary = ("spectral PCA to k components, 8 x 8 DCT, one uniform step, Laplace ANS; k and "
               "the step searched for the budget")  # fmt: skip
    Options = PcaDctOptions
    # setting = -ln(q): from a coarse step (small file) to a fine one
    setting_range = (-math.log(4.0), -math.log(1e-5))

    def encode_body(self, scores: np.ndarray, setting: float, run: Run) -> bytes:
        coefficients = to_blocks(scores)
        step = np.float32(math.exp(-setting))
        peak = float(np.abs(coefficients).max())
        step = np.float32(max(float(step), peak / MAX_SYMBOL, 1e-12))
        symbols = np.rint(coefficients / float(step)).astype(np.int32)
        bound = max(int(np.abs(symbols).max()), 1)
        codes = _scale_codes(symbols)
        words = encode_symbols(symbols, _scales_per_symbol(codes, symbols.shape), -bound, bound)
        return _BODY.pack(step, bound) + codes.tobytes() + words.tobytes()

    def decode_body(self, body: bytes, shape: tuple[int, int], k: int,
                    limits: Limits) -> np.ndarray:  # fmt: skip
        fixed = _BODY.size + k * GROUPS
        if len(body) < fixed or (len(body) - fixed) % 4:
            raise container.CorruptFileError("pca-dct body has the wrong length")
        step, bound = _BODY.unpack_from(body)
        if not (math.isfinite(step) and step > 0 and 1 <= bound <= MAX_SYMBOL):
            raise container.CorruptFileError("pca-dct body holds an invalid step or bound")
        rows, cols = shape
        block_shape = (k, -(-rows // BLOCK), -(-cols // BLOCK), BLOCK, BLOCK)
        limits.check_count(math.prod(block_shape), "the file's DCT coefficients")
        codes = np.frombuffer(body[_BODY.size : fixed], dtype=np.uint8).reshape(k, GROUPS)
        decoder = LaplaceDecoder(np.frombuffer(body[fixed:], dtype="<u4"), -bound, bound)
        blocks = block_shape[1] * block_shape[2]
        per_group = np.bincount(_GROUP_OF.reshape(-1), minlength=GROUPS) * blocks
        least = float(np.sum(min_cost(scale_of(codes), -bound, bound) * per_group))
        decoder.require(least, f"{math.prod(block_shape):,} DCT coefficients")
        coefficients = np.empty(block_shape)
        for component in range(k):  # one component at a time, so memory stays bounded
            scales = _scales_per_symbol(codes[component : component + 1], (1, *block_shape[1:]))
            coefficients[component] = decoder.decode(scales).reshape(block_shape[1:]) * step
        decoder.finish()
        return from_blocks(coefficients, rows, cols)

    def body_facts(self, body: bytes, k: int) -> dict[str, object]:
        if len(body) < _BODY.size + k * GROUPS:
            raise container.CorruptFileError("pca-dct body has the wrong length")
        step, bound = _BODY.unpack_from(body)
        return {
            "step": step,
            "symbol_bound": bound,
            "entropy_bytes": len(body) - _BODY.size - k * GROUPS,
        }
