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
from hsinr.io import _metadata as metadata_json
from hsinr.io._checks import check_declared
from hsinr.io._writing import RawWriter
from hsinr.lazy import AXES, LazyArray, RawArray
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

SPATIAL = "YX"
EXTRA_PAGES = 64  # pages beyond one a band (overviews, masks, thumbnails)
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


class SegmentedArray(LazyArray):
    """A TIFF image series stored in segments (tiles or strips, compressed or not), read a
    window at a time: only the segments the window touches are read and decoded (by
    tifffile's decoder for the series' first page). The bands are the series' pages, or
    the samples of one page (planar or interleaved). The file is opened for each read."""

    def __init__(self, path: Path, keyframe: int, grid: tuple[int, int, int, int, int],
                 offsets: np.ndarray, counts: np.ndarray, band_axis: str,
                 shape: tuple[int, int, int], dtype: np.dtype, where: str) -> None:  # fmt: skip
        self.path, self.keyframe, self.where = path, keyframe, where
        self.planes, self.down, self.across, self.height, self.width = grid
        self.offsets, self.counts = offsets, counts  # (pages, segments)
        self.band_axis = band_axis  # "pages", "planes" (separate samples) or "samples"
        self.shape = shape
        self.dtype = np.dtype(dtype).newbyteorder("=")

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        out = np.empty((len(rows), len(cols), len(bands)), dtype=self.dtype)
        pages = bands if self.band_axis == "pages" else range(1)
        planes = bands if self.band_axis == "planes" else range(1)
        down = range(rows.start // self.height, (rows.stop - 1) // self.height + 1)
        across = range(cols.start // self.width, (cols.stop - 1) // self.width + 1)
        from hsinr.io import quiet_libraries

        with quiet_libraries(), tifffile.TiffFile(self.path, is_ome=False, is_ndtiff=False,
                                                  is_mmstack=False) as tif:  # fmt: skip
            page = tif.pages[self.keyframe]
            decode, tables, handle = page.decode, page.jpegtables, tif.filehandle
            for p in pages:
                for plane in planes:
                    for d in down:
                        for a in across:
                            index = (plane * self.down + d) * self.across + a
                            handle.seek(int(self.offsets[p, index]))
                            data = handle.read(int(self.counts[p, index]))
                            try:
                                segment, _, _ = decode(data or None, index, jpegtables=tables)
                                self._paste(out, segment, (p, plane, d, a), rows, cols, bands)
                            except Exception as exc:  # a damaged segment is the file's fault
                                raise InputError(f"{self.where}: cannot decode its image "
                                                 f"segment {index} of page {p}: "
                                                 f"{str(exc) or type(exc).__name__}") from exc
        return out

    def _paste(self, out, segment, where, rows: range, cols: range, bands: range) -> None:
        """The part of a decoded segment (1, height, width, samples; padded at the image's
        edges) inside the window, into ``out``."""
        page, plane, d, a = where
        r0, c0 = d * self.height, a * self.width
        r = range(max(rows.start, r0), min(rows.stop, r0 + self.height))
        c = range(max(cols.start, c0), min(cols.stop, c0 + self.width))
        target = out[r.start - rows.start : r.stop - rows.start,
                     c.start - cols.start : c.stop - cols.start]  # fmt: skip
        if segment is None:  # an empty segment: tifffile's fill value
            segment = np.zeros((1, self.height, self.width, 1), dtype=self.dtype)
        part = segment[0, r.start - r0 : r.stop - r0, c.start - c0 : c.stop - c0]
        if self.band_axis == "samples":
            target[...] = part[:, :, bands.start : bands.stop]
        else:
            band = page if self.band_axis == "pages" else plane
            target[:, :, band - bands.start] = part[..., 0]

    def __reduce__(self):
        return (SegmentedArray, (self.path, self.keyframe, (self.planes, self.down, self.across,
                self.height, self.width), self.offsets, self.counts, self.band_axis, self.shape,
                self.dtype, self.where))  # fmt: skip


def _segmented(path: Path, series, kept: list[int], order: list[int], where: str):
    """A :class:`SegmentedArray` of the series when its layout is one this reader knows
    (2-D segments, the bands as pages, planes or samples, every segment inside the file),
    else None (read whole)."""
    pages = list(series.pages)
    key = pages[0].keyframe
    samples, depth, height, width, contig = key.shaped
    if depth != 1 or key.is_subsampled or key.photometric not in (0, 1):
        return None
    if len(pages) > 1 and samples == contig == 1:
        band_axis = "pages"
    elif len(pages) == 1 and contig == 1:
        band_axis = "planes"
    elif len(pages) == 1 and samples == 1:
        band_axis = "samples"
    else:
        return None
    seg_h = key.tilelength if key.is_tiled else min(key.rowsperstrip or height, height)
    seg_w = key.tilewidth if key.is_tiled else width
    if seg_h < 1 or seg_w < 1:
        return None
    grid = (samples, -(-height // seg_h), -(-width // seg_w), seg_h, seg_w)
    offsets = np.array([page.dataoffsets for page in pages], dtype=np.int64)
    counts = np.array([page.databytecounts for page in pages], dtype=np.int64)
    if offsets.ndim != 2 or offsets.shape[1] != grid[0] * grid[1] * grid[2]:
        return None
    if offsets.size and (offsets.min() < 0 or counts.min() < 0
                         or (offsets + counts).max() > series.parent.filehandle.size):  # fmt: skip
        raise InputError(f"{where}: image data declared past the end of the file")
    shape = tuple(kept[i] for i in order)
    return SegmentedArray(path.resolve(), key.index, grid, offsets, counts, band_axis,
                          shape, series.dtype, where)  # fmt: skip


def _check_page_count(tif: tifffile.TiffFile, limits: Limits, where: str) -> None:
    """Refuse a file with more pages (image file directories) than a cube of
    ``limits.max_bands`` bands can use, before anything asks for all of them: a crafted
    chain of directories can otherwise make tifffile list pages without end."""
    most = limits.max_bands + EXTRA_PAGES
    for count, _ in enumerate(tif.pages, start=1):
        if count > most:
            raise InputError(f"{where}: more than {most:,} pages (image file "
                             f"directories); a cube has at most {limits.max_bands:,} bands "
                             "(--max-bands)")  # fmt: skip


def open_tiff(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """The first image series of a TIFF as a (rows, cols, bands) cube. Its values stay in
    the file, read a window at a time: stored uncompressed and contiguous, by
    :class:`~hsinr.lazy.RawArray`; in tiles or strips (compressed or not), by
    :class:`SegmentedArray`, which decodes only the segments a window touches. Other
    layouts (3-D tiles, subsampled or colour-mapped images) are read whole."""
    where = path.name
    with tifffile.TiffFile(path, is_ome=False, is_ndtiff=False, is_mmstack=False) as tif:
        _check_page_count(tif, limits, where)
        series = tif.series[0]
        axes = series.axes
        kept, order = _layout(series.shape, axes, where)
        shape = tuple(kept[i] for i in order)
        available = _stored_bytes(tif, series, where)
        check_declared(shape, series.dtype, where, limits, available=available)
        offset = series.dataoffset if available is not None else None
        stored = series.dtype.newbyteorder(tif.byteorder)
        segmented = _segmented(path, series, kept, order, where) if offset is None else None
        array = series.asarray() if offset is None and segmented is None else None
        described = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    if segmented is not None:
        data = segmented
    elif array is None:
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
    metadata = Metadata()
    if isinstance(described.get(metadata_json.KEY), str):
        text = described[metadata_json.KEY].encode()
        wavelengths, metadata = metadata_json.read_text(text, shape[2], where)
    return Cube(
        data,
        name=str(described.get("name", path.stem)),
        wavelengths=wavelengths,
        source=f"{where} (TIFF, axes {axes})",
        metadata=metadata,
    )


def writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
           wavelengths: np.ndarray | None = None,
           metadata: Metadata | None = None) -> RawWriter:  # fmt: skip
    """A planar (band-first) multi-band TIFF, uncompressed and contiguous (BigTIFF when
    the cube needs it), written block by block; name, wavelengths and the metadata as
    ``hsinr_metadata`` JSON in its JSON description."""
    dtype = np.dtype(dtype)
    rows, cols, bands = shape
    described: dict[str, object] = {"name": name}
    if wavelengths is not None:
        described["wavelengths"] = [float(w) for w in wavelengths]
    text = metadata_json.text_of(wavelengths, metadata)
    if text is not None:
        described[metadata_json.KEY] = text.decode()
    stored = []

    def prepare(temps: list[Path]) -> int:
        nbytes = rows * cols * bands * dtype.itemsize
        mapped = tifffile.memmap(temps[0], shape=(bands, rows, cols), dtype=dtype,
                                 photometric="minisblack", planarconfig="separate",
                                 bigtiff=nbytes > BIGTIFF_BYTES, metadata=described)  # fmt: skip
        offset = int(mapped.offset)
        stored.append(mapped.dtype)
        del mapped
        return offset

    output = RawWriter([path], shape, dtype, dtype, ("bands", "rows", "cols"), prepare)
    output.stored = stored[0]  # the byte order tifffile wrote
    return output
