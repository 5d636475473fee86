"""Distortion and rate measures, as defined in the project's design notes (numpy + scipy only).

All functions take the ORIGINAL first, then the decoded cube (arrays of shape (H, W, C) or
:class:`hsinr.Cube`), and compute in float64 in the original units.

* ``mse``: mean of squared differences over all H*W*C values.
* ``psnr``: 10 log10(R^2 / MSE), R = max - min of the original cube (global).
* ``mpsnr``: mean over bands of per-band PSNR, R = that band's max - min in the original
  (a constant band falls back to the global R).
* ``sam``: mean spectral angle between original and decoded pixel spectra, in degrees.
* ``ssim``: mean over bands of the 2-D SSIM of Wang et al. (2004): Gaussian window
  sigma 1.5, K1 = 0.01, K2 = 0.03, data range = the global R (the same as SSIM on the
  normalised cube); the map's border of half a window is left out of the mean.
* ``bpppb``: 8 * n_bytes / (H * W * C).

When the original is a :class:`~hsinr.Cube` whose metadata marks bad bands or gives a
no-data value, those bands and the no-data pixels (every good band equal to the value,
as :mod:`hsinr.exclusion` defines them) are left out of every measure (SSIM, which needs
whole images, leaves out the bands only), and :func:`report` says how many it left out.

>>> import numpy as np
>>> a = np.array([0.0, 2.0, 4.0]).reshape(1, 1, 3)
>>> b = np.array([0.0, 2.0, 3.0]).reshape(1, 1, 3)
>>> round(mse(a, b), 4), round(psnr(a, b), 4)
(0.3333, 16.8124)
>>> bpppb(1000, (100, 100, 200))
0.004
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
_BAND_CHUNK = 16  # bands filtered at once by ssim, to bound memory on large scenes

ArrayOrCube = np.ndarray | Cube


def _values(x: ArrayOrCube) -> np.ndarray:
    return x.loaded().data if isinstance(x, Cube) else np.asarray(x)


def left_out(original: ArrayOrCube) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(valid-pixel mask, good band indices) of an original cube whose metadata marks
    no-data or bad bands; None for what is not left out."""
    if not isinstance(original, Cube):
        return None, None
    meta = original.metadata
    good = None
    if meta.bad_bands:
        good = np.setdiff1d(np.arange(original.bands), meta.bad_bands)
    valid = None
    if meta.nodata is not None:
        values = _values(original)
        values = values if good is None else values[:, :, good]
        valid = ~np.all(values == meta.nodata, axis=2)
        valid = None if valid.all() else valid
    return valid, good


def _pair(original: ArrayOrCube, decoded: ArrayOrCube,
          spatial: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The two cubes' values to compare, in float64: bad bands and (unless ``spatial``)
    no-data pixels left out, as a (pixels, 1, bands) array."""
    a, b = _values(original), _values(decoded)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: original {a.shape} vs decoded {b.shape}")
    if a.ndim != 3:
        raise InputError(f"expected (rows, cols, bands) arrays, got shape {a.shape}")
    valid, good = left_out(original)
    if good is not None:
        a, b = a[:, :, good], b[:, :, good]
    if valid is not None and not spatial:
        a, b = a[valid][:, None, :], b[valid][:, None, :]
    return a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)


def psnr_of_mse(mse: float, data_range: float = 1.0) -> float:
    """PSNR in dB of a mean squared error at peak ``data_range`` (1 for normalised
    values): ``10 log10(R^2) - 10 log10(MSE)``; inf for no error, -inf for an error
    where the original has no range at all.

    >>> psnr_of_mse(0.01), psnr_of_mse(4.0, data_range=20.0)
    (20.0, 20.0)
    """
    if mse <= 0:
        return math.inf
    if data_range <= 0:
        return -math.inf
    return 10.0 * math.log10(data_range**2) - 10.0 * math.log10(mse)


def data_range(original: ArrayOrCube) -> float:
    """R: the original cube's max - min."""
    values = _values(original)
    return float(np.max(values)) - float(np.min(values))


class ErrorSum:
    """The squared error of a cube summed a block at a time (for cubes too large to hold
    twice): :meth:`add` each (original, decoded) pair of blocks, then :meth:`psnr`.

    >>> total = ErrorSum()
    >>> total.add(np.zeros((1, 2, 3)), np.ones((1, 2, 3)))
    >>> total.mse, round(total.psnr(10.0), 4)
    (1.0, 20.0)
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    BLOCK_VALUES = 2**22  # values compared at once (float64 work of a few blocks)

    def add(self, original: np.ndarray, decoded: np.ndarray) -> None:
        if np.shape(original) != np.shape(decoded):
            raise InputError(f"shapes differ: {np.shape(original)} vs {np.shape(decoded)}")
        original, decoded = np.asarray(original), np.asarray(decoded)
        if original.ndim == 0:
            original, decoded = original.reshape(1), decoded.reshape(1)
        step = max(1, self.BLOCK_VALUES // max(1, original[:1].size))
        for start in range(0, len(original), step):
            difference = (original[start : start + step].astype(np.float64)
                          - decoded[start : start + step].astype(np.float64))  # fmt: skip
            self.total += float(np.sum(difference * difference))
            self.count += difference.size

    @property
    def mse(self) -> float:
        return self.total / max(self.count, 1)

    def psnr(self, data_range: float) -> float:
        """PSNR in dB with R = ``data_range`` (the original's global max - min)."""
        return psnr_of_mse(self.mse, data_range)


def mse(original: ArrayOrCube, decoded: ArrayOrCube) -> float:
    """Mean squared error over all values, in the original units squared."""
    a, b = _pair(original, decoded)
    return float(np.mean(np.square(a - b)))


def psnr(original: ArrayOrCube, decoded: ArrayOrCube) -> float:
    """PSNR in dB with R = the original's global max - min (``inf`` when identical)."""
    a, b = _pair(original, decoded)
    return psnr_of_mse(float(np.mean(np.square(a - b))), data_range(a))


def mpsnr(original: ArrayOrCube, decoded: ArrayOrCube) -> float:
    """Mean over bands of per-band PSNR, R = that band's range in the original. A band
    that is constant in the original has no PSNR (R = 0) and is left out; when no band
    varies (a single pixel, say) MPSNR is undefined: NaN.

    >>> import numpy as np
    >>> original = np.zeros((1, 1, 3)); decoded = original + 0.1
    >>> mpsnr(original, decoded)
    nan
    """
    a, b = _pair(original, decoded)
    band_ranges = a.max(axis=(0, 1)) - a.min(axis=(0, 1))
    band_errors = np.mean(np.square(a - b), axis=(0, 1))
    scores = [
        psnr_of_mse(float(e), float(r))
        for r, e in zip(band_ranges, band_errors, strict=True)
        if r > 0
    ]
    return float(np.mean(scores)) if scores else math.nan


def sam(original: ArrayOrCube, decoded: ArrayOrCube) -> float:
    """Mean spectral angle in degrees between original and decoded pixel spectra.

    Two all-zero spectra have angle 0; a zero spectrum against a non-zero one, 90 degrees.
    """
    a, b = _pair(original, decoded)
    dot = np.einsum("ijk,ijk->ij", a, b)
    norm_a, norm_b = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
    norms = norm_a * norm_b
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0)
    angles = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    angles[(norm_a == 0) & (norm_b == 0)] = 0.0
    return float(np.mean(angles))


def ssim(original: ArrayOrCube, decoded: ArrayOrCube) -> float:
    """Mean over bands of 2-D SSIM (Gaussian window, data range = the global R)."""
    from scipy.ndimage import gaussian_filter

    a, b = _pair(original, decoded, spatial=True)
    value_range = data_range(a) or 1.0
    c1, c2 = (SSIM_K1 * value_range) ** 2, (SSIM_K2 * value_range) ** 2
    pad = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    height, width, bands = a.shape
    rows = slice(pad, height - pad) if height > 2 * pad else slice(None)
    cols = slice(pad, width - pad) if width > 2 * pad else slice(None)

    def smooth(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(
            x, sigma=(SSIM_SIGMA, SSIM_SIGMA, 0), truncate=SSIM_TRUNCATE, mode="reflect"
        )

    band_means = []
    for start in range(0, bands, _BAND_CHUNK):
        x, y = a[:, :, start : start + _BAND_CHUNK], b[:, :, start : start + _BAND_CHUNK]
        mu_x, mu_y = smooth(x), smooth(y)
        var_x = smooth(x * x) - mu_x * mu_x
        var_y = smooth(y * y) - mu_y * mu_y
        cov = smooth(x * y) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        band_means.extend(ssim_map[rows, cols].mean(axis=(0, 1)))
    return float(np.mean(band_means))


def amortised_bpppb(file_bytes: int, shared_bytes: int, files: int, shape: Sequence[int]) -> float:
    """bpppb of one file with the bytes of a model it needs (``meta``'s base network)
    shared among ``files`` files of this shape: stated as such, never left out.

    >>> amortised_bpppb(1000, 20000, 10, (10, 10, 100))  # (1000 + 2000) bytes over 10^4 values
    2.4
    """
    return 8 * (file_bytes + shared_bytes / files) / float(np.prod(shape))


def bpppb(n_bytes: int, shape: Sequence[int]) -> float:
    """Bits per pixel per band of a file of ``n_bytes`` holding a cube of ``shape`` (H, W, C)."""
    if len(shape) != 3 or any(int(n) <= 0 for n in shape):
        raise InputError(f"bpppb needs a (rows, cols, bands) shape, got {tuple(shape)}")
    if n_bytes < 0:
        raise InputError(f"a file size cannot be negative ({n_bytes})")
    height, width, bands = (int(n) for n in shape)
    return 8.0 * n_bytes / (height * width * bands)


def report(original: ArrayOrCube, decoded: ArrayOrCube) -> dict[str, float]:
    """All distortion measures at once: psnr, mpsnr, sam, ssim, mse; and, when the
    original's metadata left some out, ``nodata_pixels_left_out`` and
    ``bad_bands_left_out``."""
    scores = {
        "psnr": psnr(original, decoded),
        "mpsnr": mpsnr(original, decoded),
        "sam": sam(original, decoded),
        "ssim": ssim(original, decoded),
        "mse": mse(original, decoded),
    }
    valid, good = left_out(original)
    if valid is not None:
        scores["nodata_pixels_left_out"] = int((~valid).sum())
    if good is not None:
        scores["bad_bands_left_out"] = int(_values(original).shape[2] - len(good))
    return scores
