"""No-data pixels and bad bands: left out of what a codec fits, coded exactly, restored.

A scene's metadata may mark bands bad (ENVI ``bbl``) and give a no-data value (ENVI
``data ignore value``, GDAL nodata, CF ``_FillValue``). A pixel is *no-data* when every
one of its good bands holds that value (the convention of image-edge fill). Before a
codec sees the cube, :class:`Exclusion` drops the bad bands and fills each no-data pixel
with the mean spectrum of the valid ones (so the fill costs few bits and does not pull
the cube's min / max, which every codec normalises by); the no-data pixel mask is stored
losslessly in the file's metadata section. Decoding puts the bad bands back (filled
with the no-data value, or 0 without one) and every no-data pixel back as the no-data
value exactly. A value equal to the no-data value inside a valid pixel is an ordinary
value. The metrics leave the same pixels and bands out (:func:`hsinr.metrics.report`).

>>> import numpy as np
>>> from hsinr import Cube
>>> from hsinr.metadata import Metadata
>>> values = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
>>> values[0, 0] = -1                                    # a no-data pixel
>>> cube = Cube(values, metadata=Metadata(nodata=-1.0, bad_bands=(3,)))
>>> exclusion = Exclusion.of(cube)
>>> exclusion.coded_bands, int(exclusion.mask.sum())
((0, 1, 2), 1)
>>> coded = exclusion.coded(cube).data
>>> coded.shape, coded[0, 0].tolist()                     # filled with the valid mean
((2, 3, 3), [12, 13, 14])
>>> restored = exclusion.restore(coded, range(2), range(3), range(4))
>>> restored[0, 0].tolist(), restored[1, 2, 3].tolist()  # no-data exactly, bad band
([-1, -1, -1, -1], -1)
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsinr.cube import Cube, integer_bounds
from hsinr.lazy import LazyArray
from hsinr.metadata import Metadata, MetadataError


@dataclass(frozen=True, eq=False)
class Exclusion:
    """What a file leaves out: ``bands`` in all, the ``coded_bands`` among them, the
    no-data value (``fill``: what restored bad bands and no-data pixels hold) and the
    (rows, cols) mask of no-data pixels (None: there are none)."""

    bands: int
    coded_bands: tuple[int, ...]
    fill: float
    mask: np.ndarray | None
    mean: np.ndarray | None = None  # the valid pixels' mean spectrum (encoding only)

    @classmethod
    def of(cls, cube: Cube) -> Exclusion | None:
        """The exclusion a cube's metadata asks for (None when there is nothing to leave
        out), with the valid pixels' mean spectrum found in the same pass (a lazy cube is
        read once, a block of rows at a time)."""
        meta = cube.metadata
        good = tuple(b for b in range(cube.bands) if b not in set(meta.bad_bands))
        if meta.nodata is None:
            return None if len(good) == cube.bands else cls(cube.bands, good, 0.0, None)
        mask = np.zeros(cube.shape[:2], dtype=bool)
        total = np.zeros(len(good))
        for rows in _row_blocks(cube):
            block = cube.read(rows, None, range(good[0], good[-1] + 1))
            block = block[:, :, [b - good[0] for b in good]]
            mask[rows.start : rows.stop] = np.all(block == meta.nodata, axis=2)
            total += block[~mask[rows.start : rows.stop]].sum(axis=0, dtype=np.float64)
        if mask.all():
            raise MetadataError(f"{cube.source or cube.name}: every pixel is no-data "
                                f"({meta.nodata:g}); there is nothing to compress")  # fmt: skip
        if not mask.any():
            return None if len(good) == cube.bands else cls(cube.bands, good, meta.nodata, None)
        mean = total / int((~mask).sum())
        if np.issubdtype(cube.dtype, np.integer):
            mean = np.clip(np.rint(mean), *integer_bounds(cube.dtype))
        return cls(cube.bands, good, float(meta.nodata), mask, mean.astype(cube.dtype))

    # -- encoding --------------------------------------------------------------------------

    def coded(self, cube: Cube) -> Cube:
        """The cube a codec codes: good bands only, no-data pixels filled with the mean
        spectrum of the valid pixels (lazy stays lazy)."""
        data = _Coded(cube.data, self, self.mean) if cube.lazy else _fill(
            np.asarray(cube.data)[:, :, list(self.coded_bands)], self.mask, self.mean)
        wavelengths = None if cube.wavelengths is None else cube.wavelengths[list(self.coded_bands)]
        return Cube(data, name=cube.name, wavelengths=wavelengths, source=cube.source)

    # -- decoding --------------------------------------------------------------------------

    def coded_window(self, bands: range) -> range:
        """The coded bands that the original bands ``bands`` hold (a contiguous range)."""
        inside = [i for i, b in enumerate(self.coded_bands) if b in bands]
        return range(inside[0], inside[-1] + 1) if inside else range(0, 0)

    def restore(self, values: np.ndarray, rows: range, cols: range, bands: range) -> np.ndarray:
        """The original bands ``bands`` of the pixels (``rows``, ``cols``) from their coded
        ``values`` (the coded bands of :meth:`coded_window`): bad bands and no-data
        pixels as the fill value."""
        out = np.empty((len(rows), len(cols), len(bands)), dtype=values.dtype)
        out[...] = _fill_value(self.fill, values.dtype)
        window = self.coded_window(bands)
        targets = [self.coded_bands[i] - bands.start for i in window]
        if targets:
            out[:, :, targets] = values
        if self.mask is not None:
            out[self.mask[rows.start : rows.stop, cols.start : cols.stop]] = _fill_value(
                self.fill, values.dtype)
        return out

    def valid(self, rows: range | None = None, cols: range | None = None) -> np.ndarray | None:
        """The valid-pixel mask of a window (None: every pixel is valid)."""
        if self.mask is None:
            return None
        rows = range(self.mask.shape[0]) if rows is None else rows
        cols = range(self.mask.shape[1]) if cols is None else cols
        return ~self.mask[rows.start : rows.stop, cols.start : cols.stop]

    # -- serialised form -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The section's ``excluded`` entry: band count and the packed, compressed mask."""
        out: dict[str, Any] = {"bands": self.bands}
        if self.mask is not None:
            packed = zlib.compress(np.packbits(self.mask, axis=None).tobytes(), 9)
            out["nodata_pixels"] = base64.b64encode(packed).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, values: Any, meta: Metadata, shape: tuple[int, int, int],
                  where: str = "metadata") -> Exclusion:  # fmt: skip
        """The exclusion of a file whose codec decodes ``shape`` (coded bands), every
        size checked before the mask is unpacked."""
        rows, cols, coded = shape
        if not isinstance(values, dict) or set(values) - {"bands", "nodata_pixels"}:
            raise MetadataError(f"{where}: a malformed exclusion entry")
        bands = values.get("bands")
        if type(bands) is not int or bands != coded + len(meta.bad_bands):
            raise MetadataError(f"{where}: {bands!r} bands do not match {coded} coded bands "
                                f"and {len(meta.bad_bands)} bad ones")  # fmt: skip
        meta.check(bands, where)
        good = tuple(b for b in range(bands) if b not in set(meta.bad_bands))
        mask = None
        if "nodata_pixels" in values:
            if meta.nodata is None or not isinstance(values["nodata_pixels"], str):
                raise MetadataError(f"{where}: a no-data mask without a no-data value")
            need = (rows * cols + 7) // 8
            try:
                packed = base64.b64decode(values["nodata_pixels"], validate=True)
                inflate = zlib.decompressobj()
                bits = inflate.decompress(packed, need + 1)
            except (ValueError, zlib.error):
                raise MetadataError(f"{where}: the no-data mask does not decode") from None
            if len(bits) != need or not inflate.eof:
                raise MetadataError(f"{where}: the no-data mask is not {rows} x {cols} pixels")
            mask = np.unpackbits(np.frombuffer(bits, np.uint8), count=rows * cols)
            mask = mask.reshape(rows, cols).astype(bool)
        fill = 0.0 if meta.nodata is None else meta.nodata
        return cls(bands, good, fill, mask)


class _Coded(LazyArray):
    """A lazy cube seen through an :class:`Exclusion` (good bands, filled pixels)."""

    def __init__(self, data: LazyArray, exclusion: Exclusion, mean: np.ndarray | None) -> None:
        self._data, self._exclusion, self._mean = data, exclusion, mean
        self.shape = (*data.shape[:2], len(exclusion.coded_bands))
        self.dtype = data.dtype
        self.where = data.where

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        wanted = [self._exclusion.coded_bands[i] for i in bands]
        span = range(wanted[0], wanted[-1] + 1) if wanted else range(0, 0)
        block = self._data.read(rows, cols, span)[:, :, [b - span.start for b in wanted]]
        mask = self._exclusion.mask
        if mask is None:
            return block
        mean = None if self._mean is None else self._mean[bands.start : bands.stop]
        return _fill(block, mask[rows.start : rows.stop, cols.start : cols.stop], mean)


def _fill(block: np.ndarray, mask: np.ndarray | None, mean: np.ndarray | None) -> np.ndarray:
    if mask is not None and mean is not None:
        block = np.array(block)
        block[mask] = mean
    return block


def _fill_value(fill: float, dtype: np.dtype):
    if np.issubdtype(dtype, np.integer):
        return np.clip(fill, *integer_bounds(dtype)).astype(dtype)
    return np.asarray(fill, dtype=dtype)


def _row_blocks(cube: Cube):
    if isinstance(cube.data, LazyArray):
        yield from cube.data.row_blocks()
    else:
        yield range(cube.height)


__all__ = ["Exclusion"]
