"""The one-byte Laplace scale codes the entropy-coded codecs store as side information.

A scale s is stored as ``code = round(8 log2 s) + 128`` (clipped to 0-255), so codes step
by 2^(1/8) (about 9 %) from 2^-16 to about 2^16; the coder and decoder both use the scale
the code stands for.

>>> float(scale_of(scale_code(np.array([1.0, 3.0])))[1])   # 3 is coded to within 5 %
3.0844...
"""

from __future__ import annotations

import numpy as np

MIN_SCALE = 2.0**-15


def scale_code(mean_abs: np.ndarray) -> np.ndarray:
    """The codes of Laplace scales estimated as mean absolute deviations."""
    log_scale = np.log2(np.maximum(np.asarray(mean_abs, dtype=np.float64), MIN_SCALE))
    return np.clip(np.rint(8 * log_scale + 128), 0, 255).astype(np.uint8)


def scale_of(codes: np.ndarray) -> np.ndarray:
    """The scales the codes stand for."""
    return 2.0 ** ((np.asarray(codes, dtype=np.float64) - 128) / 8)
