"""The uniform quantiser the neural codecs share: ``bits``-bit symbols over a tensor's
own [min, max] range, stored as (low, step) in float32.

value = low + step * symbol, symbol in [0, 2**bits - 1]; the error is at most step / 2.

>>> symbols, low, step = quantise(np.array([-1.0, 0.0, 0.5, 1.0], np.float32), bits=2)
>>> symbols.tolist(), low, round(step, 4)
([0, 2, 2, 3], -1.0, 0.6667)
>>> [round(float(v), 4) for v in dequantise(symbols, low, step)]
[-1.0, 0.3333, 0.3333, 1.0]
"""

from __future__ import annotations

import numpy as np


def quantise(values: np.ndarray, bits: int) -> tuple[np.ndarray, float, float]:
    """Uniform ``bits``-bit symbols over the values' range, with (low, step)."""
    values = np.asarray(values, dtype=np.float32)
    low, high = np.float32(values.min()), np.float32(values.max())
    levels = 2**bits - 1
    step = np.float32((high - low) / np.float32(levels)) if high > low else np.float32(1.0)
    symbols = np.clip(np.rint((values - low) / step), 0, levels).astype(np.int32)
    return symbols, float(low), float(step)


def valid_quantiser(low, step, bits: int) -> np.ndarray:
    """Whether (low, step) can be a quantiser of ``bits`` bits: finite, a positive step, and
    every level ``low + step * q`` a finite float32 (as it is for any range of finite
    float32 values)."""
    low, step = np.asarray(low, np.float64), np.asarray(step, np.float64)
    with np.errstate(all="ignore"):
        reach = np.abs(low) + step * (2**bits - 1)
    return np.isfinite(low) & np.isfinite(step) & (step > 0) & (
        reach <= np.finfo(np.float32).max
    )


def dequantise(symbols: np.ndarray, low: float, step: float) -> np.ndarray:
    """The float32 values of :func:`quantise`'s symbols."""
    return (np.float32(low) + np.float32(step) * np.asarray(symbols, np.float32)).astype(np.float32)
