"""Pieces of file layout the classical codecs share: the cube header and length-prefixed parts.

Cube header (27 bytes, little-endian): rows uint32, cols uint32, bands uint16,
original dtype code uint8, min float64, max float64 (the global normalisation).
Parts: a uint32 length before each part (a band's codestream, a component's image).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hsinr import container
from hsinr.cube import Cube, Normalisation
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, Limits

CUBE_HEADER = struct.Struct("<IIHBdd")
RESTORE_CHUNK = 2**22  # values mapped back to original units at once


@dataclass(frozen=True)
class CubeHeader:
    """Shape, original dtype and global min / max of the coded cube."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    scale: Normalisation

    @classmethod
    def of(cls, cube: Cube) -> CubeHeader:
        if cube.bands > 0xFFFF:
            raise InputError(f"{cube.bands} bands: at most 65535 can be coded")
        return cls(cube.shape, cube.dtype, Normalisation.of(cube.data))

    def pack(self) -> bytes:
        code = container.dtype_code(self.dtype)
        return CUBE_HEADER.pack(*self.shape, code, self.scale.minimum, self.scale.maximum)

    @classmethod
    def unpack_from(cls, data: bytes, limits: Limits = DEFAULT) -> tuple[CubeHeader, int]:
        """The header at the start of ``data`` and its size; checks it (against
        ``limits`` too) before any use."""
        if len(data) < CUBE_HEADER.size:
            raise container.CorruptFileError("codec header too short")
        rows, cols, bands, code, low, high = CUBE_HEADER.unpack_from(data)
        if min(rows, cols, bands) < 1:
            raise container.CorruptFileError("codec header holds a zero size")
        limits.check_shape((rows, cols, bands), "the file")
        dtype = container.dtype_from_code(code)
        header = cls((rows, cols, bands), dtype, checked_scale(low, high, dtype))
        return header, CUBE_HEADER.size

    def describe(self) -> dict[str, object]:
        """The header's fields as plain values (for ``hsinr info``)."""
        return {
            "shape": list(self.shape),
            "dtype": str(self.dtype),
            "min": self.scale.minimum,
            "max": self.scale.maximum,
        }

    def restore(self, values: np.ndarray) -> Cube:
        """Normalised values (clipped to [0, 1]) back to a cube in original units and dtype."""
        values = np.clip(values, 0.0, 1.0)
        return Cube(self.scale.invert(values, self.dtype), name="decoded")

    def restore_pixels(self, spectra: Callable[[slice], np.ndarray]) -> Cube:
        """The cube from ``spectra(pixels)``, the normalised (n, bands) spectra of a range
        of pixels in row-major order, asked for a chunk at a time and written straight
        into the output in its original dtype (memory: the output and one chunk)."""
        rows, cols, bands = self.shape
        out = self.restore_spectra(spectra, rows * cols, bands)
        return Cube(out.reshape(rows, cols, bands), name="decoded")

    def restore_spectra(self, spectra: Callable[[slice], np.ndarray], count: int,
                        bands: int) -> np.ndarray:  # fmt: skip
        """(count, bands) values in the original dtype from ``spectra(part)``, the
        normalised spectra of a range of the ``count`` pixels, asked a chunk at a time."""
        out = np.empty((count, bands), dtype=self.dtype)
        step = max(1, RESTORE_CHUNK // max(bands, 1))
        for start in range(0, count, step):
            part = slice(start, min(start + step, count))
            out[part] = self.scale.invert(np.clip(spectra(part), 0.0, 1.0), self.dtype)
        return out


def checked_scale(low: float, high: float, dtype: np.dtype) -> Normalisation:
    """The normalisation a header stores, refused as corrupt unless its bounds are finite,
    ordered, a finite span apart and, for a floating-point original, within its range."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise container.CorruptFileError("codec header holds an invalid value range")
    if not math.isfinite(high - low):
        raise container.CorruptFileError("codec header holds a value range too wide to decode")
    if np.issubdtype(dtype, np.floating) and max(abs(low), abs(high)) > float(np.finfo(dtype).max):
        raise container.CorruptFileError(f"codec header's value range does not fit {dtype}")
    return Normalisation(low, high)


def finite_values(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as float64, refused as corrupt if any is NaN or infinite (checked before
    the conversion: a signalling NaN would make numpy warn)."""
    if not np.all(np.isfinite(values)):
        raise container.CorruptFileError(f"{what} holds NaN or infinite values")
    return np.asarray(values, dtype=np.float64)
