"""Multi-band TIFF / GeoTIFF files, via tifffile.

The band axis may come first (band-sequential pages or planar samples, as GDAL writes)
or last (pixel-interleaved samples); tifffile's axis labels say which. Saving writes one
planar (band-first) image, with the wavelengths, when known, in its JSON description.

Reading never leaves the file: tifffile's series that gather other files (OME-TIFF,
NDTiff, Micro-Manager stacks) are switched off and a series with a page from another file
is refused. The cube's shape comes from the declared series, checked against the limits
(and, stored uncompressed, every strip against the file's size) before it is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._checks import check_declared
from hsinr.io._writing import RawWriter
from hsinr.lazy import AXES, RawArray
from hsinr.limits import DEFAULT, Limits

SPATIAL = "YX"
BIGTIFF_BYTES = 2**32 - 2**25  # leave room for tags below the classic-TIFF 4 GiB limit


def _layout(shape: tuple[int, ...], axes: str, where: str) -> tuple[list[int], list[int]]:
    """How an array of tifffile ``shape`` and ``axes`` becomes (rows, cols, bands): the
    shape without its length-1 non-spatial axes, and the order of those three axes."""
    kept = [i for i, n in enumerate(shape) if n != 1 or axes[i] in SPATIAL]
    kept_axes = "".join(axes[i] for i in kept)
    if len(kept) != 3 or SPATIAL[0] not in kept_axes or SPATIAL[1] not in kept_axes:
        raise InputError(
            f"{where}: expected a multi-band image (3 axes incl. Y and X), "
            f"got axes {kept_axes!r} with shape {tuple(shape[i] for i in kept)}"
        )
    band_axis = next(i for i, label in enumerate(kept_axes) if label not in SPATIAL)
    return [shape[i] for i in kept], [kept_axes.index("Y"), kept_axes.index("X"), band_axis]


def _stored_bytes(tif: tifffile.TiffFile, series, where: str) -> int | None:
    """Bytes of the series' data when every page is uncompressed (each strip checked to
    lie inside the file), else None; a page from another file is refused."""
    pages = list(series.pages)
    if getattr(series, "is_multifile", False) or any(
        page is None or page.parent is not tif for page in pages
    ):
        raise InputError(f"{where}: its image series spans other files; hsinr reads one file")
    if any(page.keyframe.compression != tifffile.COMPRESSION.NONE for page in pages):
        return None
    size, total = tif.filehandle.size, 0
    for page in pages:
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
            if offset + count > size:
                raise InputError(f"{where}: image data declared past the end of the file")
            total += count
    return total


def open_tiff(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """The first image series of a TIFF as a (rows, cols, bands) cube. Stored
    uncompressed and contiguous, its values stay in the file (read a window at a time,
    :class:`~hsinr.lazy.RawArray`); otherwise (compressed, tiled) it is read whole."""
    where = path.name
    with tifffile.TiffFile(path, is_ome=False, is_ndtiff=False, is_mmstack=False) as tif:
        series = tif.series[0]
        axes = series.axes
        kept, order = _layout(series.shape, axes, where)
        shape = tuple(kept[i] for i in order)
        available = _stored_bytes(tif, series, where)
        check_declared(shape, series.dtype, where, limits, available=available)
        offset = series.dataoffset if available is not None else None
        stored = series.dtype.newbyteorder(tif.byteorder)
        array = series.asarray() if offset is None else None
        described = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    if array is None:
        storage = [AXES[order.index(position)] for position in range(3)]  # file order
        data = RawArray(path.resolve(), offset, stored, storage, shape, where)
    else:
        data = np.ascontiguousarray(array.reshape(kept).transpose(order))
        data = data.astype(data.dtype.newbyteorder("="), copy=False)
    if not isinstance(described, dict):
        described = {}
    wavelengths = described.get("wavelengths")
    if not isinstance(wavelengths, list) or len(wavelengths) != shape[2]:
        wavelengths = None
    return Cube(
        data,
        name=str(described.get("name", path.stem)),
        wavelengths=wavelengths,
        source=f"{where} (TIFF, axes {axes})",
    )


def writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
           wavelengths: np.ndarray | None = None) -> RawWriter:  # fmt: skip
    """A planar (band-first) multi-band TIFF, uncompressed and contiguous (BigTIFF when
    the cube needs it), written block by block; name and wavelengths in its JSON
    description."""
    dtype = np.dtype(dtype)
    rows, cols, bands = shape
    metadata: dict[str, object] = {"name": name}
    if wavelengths is not None:
        metadata["wavelengths"] = [float(w) for w in wavelengths]
    stored = []

    def prepare(temps: list[Path]) -> int:
        nbytes = rows * cols * bands * dtype.itemsize
        mapped = tifffile.memmap(temps[0], shape=(bands, rows, cols), dtype=dtype,
                                 photometric="minisblack", planarconfig="separate",
                                 bigtiff=nbytes > BIGTIFF_BYTES, metadata=metadata)  # fmt: skip
        offset = int(mapped.offset)
        stored.append(mapped.dtype)
        del mapped
        return offset

    output = RawWriter([path], shape, dtype, dtype, ("bands", "rows", "cols"), prepare)
    output.stored = stored[0]  # the byte order tifffile wrote
    return output
