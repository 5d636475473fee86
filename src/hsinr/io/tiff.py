"""Multi-band TIFF / GeoTIFF files, via tifffile.

The band axis may come first (band-sequential pages or planar samples, as GDAL writes)
or last (pixel-interleaved samples); tifffile's axis labels say which. Saving writes one
planar (band-first) image, with the wavelengths, when known, in its JSON description.

Reading never leaves the file: tifffile's series that gather other files (OME-TIFF,
NDTiff, Micro-Manager stacks) are switched off and a series with a page from another file
is refused. The cube's shape comes from the declared series, checked against the limits
(and, stored uncompressed, every strip against the file's size) before it is read.

GeoTIFF georeferencing goes through rasterio (GDAL), the optional extra ``hsinr[geo]``;
the values are read by tifffile either way. Reading, GDAL gives the CRS (as WKT), the
geotransform, the no-data value, band descriptions (``band_names``), per-band
``wavelength`` / ``wavelength_units`` / ``fwhm`` items (as GDAL writes an ENVI file's,
or the ``IMAGERY`` domain's ``CENTRAL_WAVELENGTH_UM`` / ``FWHM_UM``), band scale / offset
/ units and the other dataset items (``extra``). What hsinr wrote in the description
(``hsinr_metadata``) comes first; where the GeoTIFF tags give another CRS or transform
(the file was edited by GDAL since), the tags win, with a note. Writing, after tifffile
has written the values and before the output is renamed into place, GDAL adds the tags
for the CRS, transform and no-data value (and the band items above) to the temporary
file. Without rasterio a GeoTIFF is read without its georeferencing (a note says so) and
written without GeoTIFF tags (a warning says so, once); the description keeps
everything either way. GDAL runs without side files (``GDAL_PAM_ENABLED=NO``: no
``.aux.xml`` is read or written; ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no
``.tfw`` / ``.prj`` / ``.ovr`` beside the file is looked at).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
GEO_TAGS = (33550, 33922, 34264, 34735)  # ModelPixelScale, ModelTiepoint, ModelTransformation,
GDAL_TAGS = (42112, 42113)  # GeoKeyDirectory; GDAL_METADATA, GDAL_NODATA
GEO_EXTRA = 'pip install "hsinr[geo]"'
_GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "NO", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
_warned: set[str] = set()  # the warnings given once per process
_PER_MICROMETRE = {"micrometers": 1.0, "micrometer": 1.0, "um": 1.0, "µm": 1.0, "microns": 1.0,
                   "nanometers": 1e3, "nanometer": 1e3, "nm": 1e3}  # fmt: skip


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
        tags = tif.pages.first.tags
        has_geo = any(code in tags for code in GEO_TAGS)
        has_gdal = has_geo or any(code in tags for code in GDAL_TAGS)
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
    notes: list[str] = []
    if has_gdal:
        wavelengths, metadata, notes = _with_geotiff(path, shape, has_geo, wavelengths, metadata)
    name, source = str(described.get("name", path.stem)), f"{where} (TIFF, axes {axes})"
    product = None
    if "SPECTRAL_IMAGE" in path.name.upper():  # maybe an EnMAP image beside its METADATA.XML
        from hsinr.io import products

        product = products.enmap_fields(path, shape[2], where)
    if product is not None:
        found, changes, product_notes, source = product
        extra = {**metadata.extra, **changes.pop("extra", {})}
        metadata = metadata.replace(**changes, extra=extra)
        wavelengths = wavelengths if found is None else found
        notes += product_notes
        name = path.stem
    return Cube(data, name=name, wavelengths=wavelengths, source=source, metadata=metadata,
                notes=tuple(notes))  # fmt: skip


# -- GeoTIFF georeferencing (rasterio, the optional extra hsinr[geo]) -----------------------


def _rasterio() -> Any:
    """The rasterio module, or None where it is not installed."""
    try:
        import rasterio
    except ImportError:
        return None
    return rasterio


def warn_once(key: str, message: str) -> None:
    """``warnings.warn(message)`` the first time ``key`` is given in this process."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


@contextmanager
def _gdal(rasterio: Any):
    """GDAL without side files (none read, none written) and without log lines or
    warnings reaching the user."""
    logger = logging.getLogger("rasterio")
    level = logger.level
    with warnings.catch_warnings(), rasterio.Env(**_GDAL_OPTIONS):
        warnings.simplefilter("ignore")
        logger.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            logger.setLevel(level)


def _band_numbers(tags: list[dict[str, str]], key: str) -> np.ndarray | None:
    """The number every band's ``key`` item holds, or None unless every band has one."""
    values = []
    for band in tags:
        found = next((v for k, v in band.items() if k.lower() == key.lower()), None)
        try:
            values.append(float(str(found).strip()))
        except ValueError:
            return None
    numbers = np.array(values, dtype=np.float64)
    return numbers if numbers.size and np.all(np.isfinite(numbers)) else None


def _one_text(tags: list[dict[str, str]], key: str) -> str | None:
    """The text every band's ``key`` item holds when it is the same for all."""
    found = {next((v for k, v in band.items() if k.lower() == key.lower()), None)
             for band in tags}  # fmt: skip
    return found.pop() if len(found) == 1 and None not in found else None


def _gdal_fields(rasterio: Any, path: Path, shape: tuple[int, int, int],
                 has_geo: bool) -> tuple[dict[str, Any], np.ndarray | None]:  # fmt: skip
    """(metadata fields, wavelengths) GDAL reads from the tags of ``path`` (see the
    module notes); the band items only when GDAL sees the cube's bands as its own."""
    fields: dict[str, Any] = {}
    extra: dict[str, str] = {}
    wavelengths = None
    with _gdal(rasterio), rasterio.open(path) as src:
        if (src.height, src.width) != tuple(shape[:2]):
            return fields, None  # GDAL reads another image of the file
        if has_geo and src.crs is not None:
            fields["crs"] = src.crs.to_wkt()
        if has_geo and not src.transform.is_identity:
            fields["transform"] = tuple(src.transform.to_gdal())
        if src.nodata is not None:
            if math.isfinite(src.nodata):
                fields["nodata"] = float(src.nodata)
            else:
                extra["nodata"] = str(src.nodata)
        if src.count == shape[2]:
            if any(src.descriptions):
                fields["band_names"] = tuple(d or "" for d in src.descriptions)
            tags = [src.tags(band + 1) for band in range(src.count)]
            wavelengths = _band_numbers(tags, "wavelength")
            units = _one_text(tags, "wavelength_units") if wavelengths is not None else None
            fwhm = _band_numbers(tags, "fwhm")
            imagery = [src.tags(band + 1, ns="IMAGERY") for band in range(src.count)]
            if wavelengths is None:  # GDAL's own names (GDAL >= 3.10)
                wavelengths = _band_numbers(imagery, "CENTRAL_WAVELENGTH_UM")
                units = "Micrometers" if wavelengths is not None else None
            if fwhm is None and wavelengths is not None:
                fwhm = _band_numbers(imagery, "FWHM_UM")  # in micrometers, to 3 decimals
                per_um = _PER_MICROMETRE.get(str(units).strip().lower())
                fwhm = None if fwhm is None or per_um is None else fwhm * per_um
            if units is not None:
                fields["wavelength_units"] = units
            if fwhm is not None:
                fields["fwhm"] = fwhm
            scales, offsets = set(src.scales), set(src.offsets)
            if len(scales) == len(offsets) == 1:  # GDAL's defaults (1, 0) mean none
                scale, offset = float(scales.pop()), float(offsets.pop())
                if math.isfinite(scale) and scale != 1:
                    fields["scale_factor"] = scale
                if math.isfinite(offset) and offset != 0:
                    fields["offset"] = offset
            units = set(src.units)
            if len(units) == 1 and next(iter(units)):
                fields["data_units"] = str(units.pop())
        for key, value in src.tags().items():
            if (key.startswith("TIFFTAG_") or (key == "AREA_OR_POINT" and value == "Area")
                    or re.fullmatch(r"Band_\d+", key)):  # GDAL's copy of ENVI band names
                continue
            if key.lower() == "wavelength_units":
                fields.setdefault("wavelength_units", value)
            else:
                extra[key] = value
    if extra:
        fields["extra"] = extra
    return fields, wavelengths


def _same(key: str, ours: Any, theirs: Any) -> bool:
    """Whether hsinr's description and the GeoTIFF tags say the same ``key``."""
    if key == "transform":
        return all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
                   for a, b in zip(ours, theirs, strict=True))  # fmt: skip
    if key == "crs":
        try:
            from rasterio.crs import CRS

            return CRS.from_user_input(ours) == CRS.from_user_input(theirs)
        except Exception:  # a CRS one of them cannot parse
            return ours == theirs
    return ours == theirs


def _with_geotiff(path: Path, shape: tuple[int, int, int], has_geo: bool, wavelengths: Any,
                  metadata: Metadata) -> tuple[Any, Metadata, list[str]]:  # fmt: skip
    """The wavelengths and metadata with what GDAL reads from the GeoTIFF tags added (see
    the module notes), and the notes for the user."""
    rasterio = _rasterio()
    if rasterio is None:
        if has_geo and metadata.crs is None and metadata.transform is None:
            return wavelengths, metadata, [
                f"GeoTIFF georeferencing not read (it needs rasterio): {GEO_EXTRA}"]
        return wavelengths, metadata, []
    try:
        fields, found = _gdal_fields(rasterio, path, shape, has_geo)
    except Exception as exc:  # GDAL's failure on the tags does not make the values unreadable
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return wavelengths, metadata, [f"GeoTIFF tags not read by GDAL: {reason}"]
    notes: list[str] = []
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        current = getattr(metadata, key)
        if key == "extra":
            changes["extra"] = {**value, **metadata.extra}
        elif current is None:
            changes[key] = value
        elif key in ("crs", "transform", "nodata") and not _same(key, current, value):
            changes[key] = value
            notes.append(f"the GeoTIFF tags give another {key} than hsinr's description "
                         "(edited since hsinr wrote it): the tags' is used")  # fmt: skip
            if key == "transform":
                changes["map_info"] = None
    if wavelengths is None:
        wavelengths = found
    return wavelengths, metadata.replace(**changes), notes


def writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
           wavelengths: np.ndarray | None = None,
           metadata: Metadata | None = None) -> RawWriter:  # fmt: skip
    """A planar (band-first) multi-band TIFF, uncompressed and contiguous (BigTIFF when
    the cube needs it), written block by block; name, wavelengths and the metadata as
    ``hsinr_metadata`` JSON in its JSON description, and, when the metadata has a CRS,
    a geotransform or a no-data value, GeoTIFF tags for them (with rasterio; see the
    module notes)."""
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

    metadata = Metadata() if metadata is None else metadata
    geo = metadata.crs is not None or metadata.transform is not None or metadata.nodata is not None
    if geo and _rasterio() is None:
        warn_once("geotiff", "GeoTIFF tags (CRS, geotransform, no-data) need rasterio: "
                  f"written in hsinr's description only, which GDAL does not read; "
                  f"{GEO_EXTRA}")  # fmt: skip
        geo = False
    kind = GeoTiffWriter if geo else RawWriter
    output = kind([path], shape, dtype, dtype, ("bands", "rows", "cols"), prepare)
    output.stored = stored[0]  # the byte order tifffile wrote
    if geo:
        output.georeference, output.target = (metadata, wavelengths), path
    return output


class GeoTiffWriter(RawWriter):
    """A TIFF output whose GeoTIFF tags GDAL adds once the values are written, before the
    temporary file is renamed into place (``georeference``: the metadata and wavelengths)."""

    georeference: tuple[Metadata, np.ndarray | None]
    target: Path

    def _finish(self) -> None:
        super()._finish()
        for problem in write_geotiff_tags(self.temps[0], *self.georeference):
            warnings.warn(f"{self.target.name}: {problem}", UserWarning, stacklevel=4)


def write_geotiff_tags(path: Path, metadata: Metadata,
                       wavelengths: np.ndarray | None = None) -> list[str]:  # fmt: skip
    """Add to the TIFF ``path``, with GDAL (rasterio), the GeoTIFF tags for the metadata's
    CRS, geotransform and no-data value, and band descriptions and ``wavelength`` /
    ``wavelength_units`` / ``fwhm`` band items, scale / offset and units; the values are
    not touched. Gives back what GDAL could not take (a CRS it cannot parse, a no-data
    value outside the dtype), each kept in the description only."""
    rasterio = _rasterio()
    from affine import Affine
    from rasterio.crs import CRS

    problems: list[str] = []
    with _gdal(rasterio), rasterio.open(path, "r+") as dst:
        if metadata.crs is not None:
            try:
                dst.crs = CRS.from_user_input(metadata.crs)
            except Exception as exc:  # a CRS GDAL cannot parse: the description keeps it
                problems.append(f"no GeoTIFF CRS tags: GDAL cannot read the CRS ({exc})")
        if metadata.transform is not None:
            dst.transform = Affine.from_gdal(*metadata.transform)
        if metadata.nodata is not None:
            try:
                dst.nodata = metadata.nodata
            except Exception as exc:  # outside the dtype's range
                problems.append(f"no GDAL no-data tag: {exc}")
        count = dst.count
        if metadata.band_names is not None and len(metadata.band_names) == count:
            for band, text in enumerate(metadata.band_names, start=1):
                dst.set_band_description(band, text)
        for band in range(count):
            items = {}
            if wavelengths is not None and len(wavelengths) == count:
                items["wavelength"] = repr(float(wavelengths[band]))
                if metadata.wavelength_units is not None:
                    items["wavelength_units"] = metadata.wavelength_units
            if metadata.fwhm is not None and len(metadata.fwhm) == count:
                items["fwhm"] = repr(float(metadata.fwhm[band]))
            if items:
                dst.update_tags(band + 1, **items)
        if metadata.scale_factor is not None or metadata.offset is not None:
            scale = 1.0 if metadata.scale_factor is None else metadata.scale_factor
            offset = 0.0 if metadata.offset is None else metadata.offset
            dst.scales, dst.offsets = (scale,) * count, (offset,) * count
        if metadata.data_units is not None:
            dst.units = (metadata.data_units,) * count
    return problems
