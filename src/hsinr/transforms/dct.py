"""The 8 x 8 block DCT of ``pca-dct`` (orthonormal DCT-II, scipy.fft).

>>> import numpy as np
>>> images = np.random.default_rng(0).random((12, 9, 2))
>>> np.allclose(from_blocks(to_blocks(images), 12, 9), images)
True
"""

from __future__ import annotations

import numpy as np

BLOCK = 8


def to_blocks(images: np.ndarray) -> np.ndarray:
    """(H, W, k) -> DCT coefficients (k, H/8, W/8, 8, 8), edges padded by replication."""
    import scipy.fft

    rows, cols, k = images.shape
    padded = np.pad(images, ((0, -rows % BLOCK), (0, -cols % BLOCK), (0, 0)), mode="edge")
    hb, wb = padded.shape[0] // BLOCK, padded.shape[1] // BLOCK
    blocks = padded.transpose(2, 0, 1).reshape(k, hb, BLOCK, wb, BLOCK).transpose(0, 1, 3, 2, 4)
    return scipy.fft.dctn(blocks, axes=(3, 4), norm="ortho")


def from_blocks(coefficients: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The inverse of :func:`to_blocks`, cropped to (rows, cols, k)."""
    import scipy.fft

    k, hb, wb = coefficients.shape[:3]
    blocks = scipy.fft.idctn(coefficients, axes=(3, 4), norm="ortho")
    images = blocks.transpose(0, 1, 3, 2, 4).reshape(k, hb * BLOCK, wb * BLOCK)
    return images.transpose(1, 2, 0)[:rows, :cols]
