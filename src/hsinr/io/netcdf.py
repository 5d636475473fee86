"""NetCDF-4 files (``.nc``): read with h5py (a NetCDF-4 file is an HDF5 file), written with
h5netcdf (the optional extra ``hsinr[xarray]``).

Written as CF-NetCDF, readable by xarray, GDAL and netCDF-C:

=============================  ==========================================================
cube / metadata                NetCDF
=============================  ==========================================================
values                         variable ``reflectance`` (``var=`` names it), dimensions
                               ``(y, x, band)``, uncompressed
wavelengths, wavelength_units  variable ``wavelength(band)`` with ``units``
fwhm                           variable ``fwhm(band)`` (same ``units``)
band_names                     variable ``band_name(band)`` (strings)
bad_bands                      variable ``good_wavelengths(band)``: 1 good, 0 bad
nodata                         the variable's ``_FillValue`` (a global ``nodata`` when
                               the dtype cannot hold it)
scale_factor, offset           the variable's ``scale_factor``, ``add_offset`` (CF)
data_units                     the variable's ``units``
crs, transform                 grid-mapping variable ``crs`` (the variable's
                               ``grid_mapping``): ``crs_wkt`` and ``spatial_ref`` (WKT),
                               ``GeoTransform`` (GDAL's six numbers, as text), the CF
                               projection attributes when pyproj is installed, and
                               coordinate variables ``x``, ``y`` (pixel centres) for a
                               transform without rotation
name, description,             global ``title``, ``description``, ``acquisition_time``,
acquisition_time, map_info     ``map_info``
extra                          global attributes (text); ``VAR:NAME`` as attribute NAME
                               of the cube's variable
=============================  ==========================================================

Reading takes the variable named by ``var=`` (a path into groups allowed) or the largest
3-D numeric variable of the root group, and finds its axes by dimension names (``band`` /
``bands`` / ``wavelength`` ... for the bands, ``y`` / ``row`` / ``lat`` / ``downtrack``
... for rows, ``x`` / ``col`` / ``lon`` / ``crosstrack`` ... for columns; in any order;
without names, (rows, cols, bands) with a note). The values stay in the file, read a
window at a time by hyperslab (:class:`~hsinr.lazy.HDF5Cube`); the metadata comes back from the same
attributes and variables (``time_coverage_start`` as the acquisition time, x / y
coordinates as the transform when there is no ``GeoTransform``), every other global
attribute and attribute of the variable as text in ``extra``. Products with a layout of
their own (NASA EMIT) are recognised and read by :mod:`hsinr.io.products`.

A file is read only from inside itself, as MATLAB v7.3 files are: HDF5 external and soft
links anywhere in it, datasets with external storage, virtual datasets and filters that
are not HDF5's own (plugins) are refused; the cube's declared shape is checked against
the limits (and, stored contiguous, against what the file holds) before anything is
read, and every attribute read is size-checked first. NetCDF-3 (classic) files are not
read.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._checks import check_declared
from hsinr.io._writing import CubeWriter
from hsinr.io.mat import _check_dataset
from hsinr.lazy import AXES, HDF5Cube
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import MAX_EXTRA, MAX_TEXT, Metadata

DEFAULT_VAR = "reflectance"
XARRAY_EXTRA = 'pip install "hsinr[xarray]"'
MAX_LINKS = 100_000  # links a file may hold (each is checked before anything is read)
MAX_ATTRIBUTE_BYTES = 2**20  # stored bytes of one attribute read
MAX_ATTRIBUTE_ITEMS = 4096  # values of one attribute read
PHONY = b"This is a netCDF dimension but not a netCDF variable"
NETCDF3 = (b"CDF\x01", b"CDF\x02", b"CDF\x05")

BAND_DIMENSIONS = {"band", "bands", "wavelength", "wavelengths", "spectral", "spectrum",
                   "channel", "channels", "lambda", "wl", "bnd", "z"}  # fmt: skip
ROW_DIMENSIONS = {"y", "row", "rows", "line", "lines", "lat", "latitude", "downtrack",
                  "along_track", "northing", "ortho_y", "nrows", "height"}  # fmt: skip
COLUMN_DIMENSIONS = {"x", "col", "cols", "column", "columns", "sample", "samples", "lon",
                     "longitude", "crosstrack", "across_track", "easting", "ortho_x",
                     "ncols", "width"}  # fmt: skip
WAVELENGTH_VARIABLES = ("wavelength", "wavelengths", "wavelength_nm", "center_wavelength",
                        "central_wavelength")  # fmt: skip
FWHM_VARIABLES = ("fwhm", "FWHM", "fwhm_nm", "bandwidth")
GOOD_VARIABLES = ("good_wavelengths", "good_bands")
NAME_VARIABLES = ("band_name", "band_names")
# attributes of the cube's variable, of the file, that hsinr reads as fields of their own
VARIABLE_FIELDS = {"units", "scale_factor", "add_offset", "_FillValue", "missing_value",
                   "grid_mapping", "coordinates"}  # fmt: skip
GLOBAL_FIELDS = {"title", "description", "acquisition_time", "wavelength_units", "map_info",
                 "nodata", "Conventions"}  # fmt: skip
HDF5_INTERNAL = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"}
EXTRA_PREFIX = "hsinr_extra:"  # an extra field whose name NetCDF or hsinr uses otherwise
_WKT = re.compile(r"^\s*[A-Z_]+\s*\[", re.S)


# -- reading: safety and attributes -------------------------------------------------------


def check_links(file: h5py.File, where: str) -> None:
    """Refuse a file with an HDF5 external or soft link anywhere in it (links are listed,
    never followed), or with more than ``MAX_LINKS`` links (which also ends a walk round
    hard links that loop)."""
    groups: list[tuple[str, h5py.Group]] = [("", file)]
    count = 0
    while groups:
        prefix, group = groups.pop()
        for name in group:
            count += 1
            if count > MAX_LINKS:
                raise InputError(f"{where}: it holds more than {MAX_LINKS:,} HDF5 links")
            path = f"{prefix}/{name}".lstrip("/")
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise InputError(f"{where}: '{path}' is an HDF5 external link to "
                                 f"{link.filename}:{link.path}; hsinr reads only what is "
                                 "inside the file")  # fmt: skip
            if isinstance(link, h5py.SoftLink):
                raise InputError(f"{where}: '{path}' is an HDF5 soft link; hsinr reads only "
                                 "what is stored in the file")  # fmt: skip
            item = group.get(name)
            if isinstance(item, h5py.Group):
                groups.append((path, item))


def dataset(group: h5py.Group, name: str, where: str) -> h5py.Dataset | None:
    """The dataset ``name`` of ``group`` after the storage checks, or None if there is no
    dataset of that name."""
    item = group.get(name)
    if not isinstance(item, h5py.Dataset):
        return None
    _check_dataset(item, name, where)
    return item


def attribute(attrs: h5py.AttributeManager, name: str) -> Any:
    """An attribute's value when it is of a sane size (stored bytes and values), else None."""
    try:
        ident = attrs.get_id(name)
        if (ident.get_storage_size() > MAX_ATTRIBUTE_BYTES
                or math.prod(ident.shape or ()) > MAX_ATTRIBUTE_ITEMS):  # fmt: skip
            return None
        return attrs[name]
    except (OSError, KeyError, TypeError, ValueError):  # an attribute h5py cannot read
        return None


def _text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def text_of(value: Any) -> str | tuple[str, ...] | None:
    """An attribute's value as hsinr metadata text: one text, a tuple of texts for an
    array, None when too long or not text-like."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufSUO" or value.size > MAX_ATTRIBUTE_ITEMS:
            return None
        texts = tuple(_text(v) for v in value.reshape(-1))
        if value.ndim == 0 or (value.size == 1 and value.dtype.kind in "SUO"):
            texts = texts[:1]
            return texts[0] if texts and len(texts[0]) <= MAX_TEXT else None
        return texts if all(len(t) <= MAX_TEXT for t in texts) else None
    text = _text(value)
    return text if len(text) <= MAX_TEXT else None


def one_text(value: Any) -> str | None:
    """An attribute's value as one text (a one-element array's element), else None."""
    text = text_of(value)
    if isinstance(text, tuple):
        return text[0] if len(text) == 1 else None
    return text


def number(value: Any) -> float | None:
    """An attribute's value as one finite number, else None."""
    try:
        found = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if found.size != 1 or not math.isfinite(found[0]):
        return None
    return float(found[0])


def numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """An attribute's value as ``count`` finite numbers (an array, or one text of numbers
    separated by spaces or commas, as GDAL's ``GeoTransform``), else None."""
    if isinstance(value, bytes | np.bytes_ | str):
        parts = re.split(r"[\s,]+", _text(value).strip().strip("[]()"))
    else:
        parts = list(np.asarray(value).reshape(-1)) if np.ndim(value) else [value]
    try:
        found = tuple(float(p) for p in parts if not isinstance(p, str) or p)
    except (TypeError, ValueError):
        return None
    if len(found) != count or not all(map(math.isfinite, found)):
        return None
    return found


# -- reading: layout -------------------------------------------------------------------------


def dimension_names(item: h5py.Dataset) -> list[str]:
    """The NetCDF dimension names of ``item`` (its attached HDF5 dimension scales), ""
    where it has none."""
    names = []
    for dim in item.dims:
        try:
            names.append(posixpath.basename(dim[0].name) if len(dim) else "")
        except (OSError, KeyError, ValueError, RuntimeError):  # a damaged reference
            names.append("")
    return names


def _kind(name: str) -> str | None:
    lowered = name.lower()
    for kind, known in (("bands", BAND_DIMENSIONS), ("rows", ROW_DIMENSIONS),
                        ("cols", COLUMN_DIMENSIONS)):  # fmt: skip
        if lowered in known:
            return kind
    return None


def dimension_axes(names: Sequence[str], where: str) -> tuple[tuple[str, ...], list[str]]:
    """Which cube axis (``"rows"``, ``"cols"``, ``"bands"``) each of three named dimensions
    is, and the notes to give: by name (see the module notes); a dimension left over takes
    the axis left over, rows before columns in the stored order; without any name that
    says, (rows, cols, bands)."""
    kinds = [_kind(str(name)) for name in names]
    known = [k for k in kinds if k is not None]
    if len(known) != len(set(known)):
        raise InputError(f"{where}: dimensions {tuple(names)} name the same axis twice; "
                         "name the band dimension 'band'")  # fmt: skip
    notes: list[str] = []
    if not known:
        notes.append(f"dimensions {tuple(names)} do not say which is the band axis: "
                     "read as (rows, cols, bands)")  # fmt: skip
        return AXES, notes
    left = [axis for axis in AXES if axis not in known]
    order = tuple(kind if kind is not None else left.pop(0) for kind in kinds)
    return order, notes


def stored_bytes(item: h5py.Dataset) -> int | None:
    """Bytes the file holds for a contiguous, unfiltered dataset that has storage; None
    where that says nothing (chunked or filtered: the size is not known until read)."""
    if item.chunks is not None or item.compression is not None:
        return None
    size = int(item.id.get_storage_size())
    return size or None  # never written: reads give the fill value


def lazy_cube(path: Path, item: h5py.Dataset, limits: Limits, where: str,
              names: Sequence[str] | None = None,
              ) -> tuple[HDF5Cube, tuple[str, ...], list[str]]:  # fmt: skip
    """The :class:`HDF5Cube` of one checked 3-D dataset, its axes found from ``names`` (by
    default its dimension names), the declared shape checked against the limits; with
    the stored axis order and the notes."""
    if item.ndim != 3:
        raise InputError(f"{where}: '{item.name}' has shape {item.shape}, not a 3-D cube")
    names = dimension_names(item) if names is None else list(names)
    order, notes = dimension_axes(names, where)
    shape = tuple(item.shape[order.index(axis)] for axis in AXES)
    check_declared(shape, item.dtype, where, limits, available=stored_bytes(item))
    cube = HDF5Cube(path.resolve(), [(item.name, order)], shape, item.dtype, where)
    return cube, order, notes


def per_band(group: h5py.Group, names: Iterable[str], bands: int, where: str,
             text: bool = False) -> tuple[str, np.ndarray] | None:  # fmt: skip
    """(name, values) of the first dataset among ``names`` in ``group`` that holds one
    number (or, with ``text``, one string) per band; nothing else is read."""
    for name in names:
        item = dataset(group, name, where)
        if item is None or item.shape not in ((bands,), (bands, 1), (1, bands)):
            continue
        kind = item.dtype.kind
        if text and (kind in "SO" or h5py.check_string_dtype(item.dtype) is not None):
            values = np.array([_text(v) for v in np.asarray(item[()]).reshape(-1)], dtype=object)
            if all(len(v) <= MAX_TEXT for v in values):
                return name, values
        elif not text and kind in "iuf":
            values = np.asarray(item[()], dtype=np.float64).reshape(-1)
            if np.all(np.isfinite(values)):
                return name, values
    return None


# -- reading: the metadata -------------------------------------------------------------------


def band_fields(group: h5py.Group, bands: int, where: str, band_dimension: str | None = None,
                ) -> tuple[np.ndarray | None, dict[str, Any]]:  # fmt: skip
    """(wavelengths, metadata fields) from the per-band variables of ``group`` (see the
    module notes); the band dimension's own coordinate variable counts as wavelengths."""
    fields: dict[str, Any] = {}
    wavelengths = None
    candidates = list(WAVELENGTH_VARIABLES)
    if band_dimension and band_dimension not in candidates:
        coordinate = group.get(band_dimension)
        if isinstance(coordinate, h5py.Dataset) and not bytes(
                attribute(coordinate.attrs, "NAME") or b"").startswith(PHONY):  # fmt: skip
            candidates.append(band_dimension)
    found = per_band(group, candidates, bands, where)
    if found is not None:
        wavelengths = found[1]
        units = one_text(attribute(group[found[0]].attrs, "units"))
        if units:
            fields["wavelength_units"] = units
    found = per_band(group, FWHM_VARIABLES, bands, where)
    if found is not None:
        fields["fwhm"] = found[1]
    found = per_band(group, GOOD_VARIABLES, bands, where)
    if found is not None and np.any(found[1] != 0):
        fields["bad_bands"] = tuple(int(b) for b in np.flatnonzero(found[1] == 0))
    found = per_band(group, NAME_VARIABLES, bands, where, text=True)
    if found is not None:
        fields["band_names"] = tuple(found[1])
    return wavelengths, fields


def variable_fields(item: h5py.Dataset, var: str) -> dict[str, Any]:
    """Metadata fields from the CF attributes of the cube's variable (``units``,
    ``scale_factor``, ``add_offset``, ``_FillValue`` / ``missing_value``), the others
    as ``extra`` text named ``VAR:NAME``."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    attrs = item.attrs
    for name in attrs:
        value = attribute(attrs, name)
        if value is None:
            continue
        if name == "units" and one_text(value) is not None:
            fields["data_units"] = one_text(value)
        elif name == "scale_factor" and number(value) is not None:
            fields["scale_factor"] = number(value)
        elif name == "add_offset" and number(value) is not None:
            fields["offset"] = number(value)
        elif name in ("_FillValue", "missing_value") and number(value) is not None:
            fields.setdefault("nodata", number(value))
        elif name in VARIABLE_FIELDS or name in HDF5_INTERNAL or name.startswith("_"):
            continue
        elif text_of(value) is not None:
            extra[f"{var}:{name}"] = text_of(value)
    if extra:
        fields["extra"] = extra
    return fields


def _wkt_like(text: str) -> bool:
    return bool(_WKT.match(text))


def grid_fields(group: h5py.Group, item: h5py.Dataset, order: Sequence[str],
                names: Sequence[str], where: str) -> dict[str, Any]:  # fmt: skip
    """``crs`` and ``transform`` from the cube variable's grid mapping (its ``crs_wkt``
    / ``spatial_ref`` and GDAL ``GeoTransform``), or the transform from evenly spaced x
    / y coordinate variables (pixel centres)."""
    fields: dict[str, Any] = {}
    mapping = one_text(attribute(item.attrs, "grid_mapping"))
    candidates = [mapping.split(":")[0].split()[0]] if mapping and mapping.strip() else []
    candidates += [name for name in ("crs", "spatial_ref") if name not in candidates]
    for name in candidates:
        holder = group.get(name)
        if not isinstance(holder, h5py.Dataset | h5py.Group):
            continue
        attrs = holder.attrs
        texts = [one_text(attribute(attrs, key)) for key in ("hsinr_crs", "crs_wkt", "spatial_ref")
                 if key in attrs]  # fmt: skip
        crs = next((text for text in texts if text), None)
        transform = None
        if "GeoTransform" in attrs:
            transform = numbers(attribute(attrs, "GeoTransform"), 6)
        if crs is None and transform is None:
            continue
        if crs is not None:
            fields["crs"] = crs
        if transform is not None:
            fields["transform"] = transform
        break
    if "transform" not in fields:
        transform = _transform_from_coordinates(group, order, names, where)
        if transform is not None:
            fields["transform"] = transform
    return fields


def _centres(group: h5py.Group, name: str, size: int, where: str) -> np.ndarray | None:
    item = dataset(group, name, where) if name else None
    if item is None or item.shape != (size,) or item.dtype.kind not in "iuf" or size < 2:
        return None
    if bytes(attribute(item.attrs, "NAME") or b"").startswith(PHONY):
        return None
    values = np.asarray(item[()], dtype=np.float64)
    steps = np.diff(values)
    if not np.all(np.isfinite(values)) or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        return None
    return values


def _transform_from_coordinates(group: h5py.Group, order: Sequence[str], names: Sequence[str],
                                where: str) -> tuple[float, ...] | None:  # fmt: skip
    rows_name, cols_name = names[order.index("rows")], names[order.index("cols")]
    item = group.get(rows_name) if rows_name else None
    rows = item.shape[0] if isinstance(item, h5py.Dataset) and item.ndim == 1 else 0
    item = group.get(cols_name) if cols_name else None
    cols = item.shape[0] if isinstance(item, h5py.Dataset) and item.ndim == 1 else 0
    ys, xs = _centres(group, rows_name, rows, where), _centres(group, cols_name, cols, where)
    if ys is None or xs is None:
        return None
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    return (float(xs[0]) - dx / 2, dx, 0.0, float(ys[0]) - dy / 2, 0.0, dy)


def global_fields(attrs: h5py.AttributeManager, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Metadata fields from a file's global attributes (see the module notes): ``title``
    (as ``"name"``), description, acquisition time, map info, ``nodata``; the others
    (up to the metadata's limit) as ``extra`` text."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    skipped = set(skip)
    for name in attrs:
        if name in skipped or name.startswith("_") or name in HDF5_INTERNAL:
            continue
        value = attribute(attrs, name)
        text = text_of(value) if value is not None else None
        if text is None:
            continue
        if name == "title" and isinstance(text, str):
            fields["name"] = text
        elif name in ("description", "acquisition_time", "wavelength_units") and \
                isinstance(text, str):  # fmt: skip
            fields[name] = text
        elif name == "map_info":
            fields["map_info"] = (text,) if isinstance(text, str) else text
        elif name == "nodata" and number(value) is not None:
            fields["nodata"] = number(value)
        elif name == "Conventions":
            continue
        elif len(extra) < MAX_EXTRA:
            extra[name[len(EXTRA_PREFIX):] if name.startswith(EXTRA_PREFIX) else name] = text
    if "acquisition_time" not in fields and isinstance(extra.get("time_coverage_start"), str):
        fields["acquisition_time"] = extra.pop("time_coverage_start")
    if extra:
        fields["extra"] = extra
    return fields


def merged(*parts: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata fields of several sources, the earlier first; ``extra`` joined."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "extra":
                extra = {**value, **extra}
            else:
                fields.setdefault(key, value)
    if extra:
        fields["extra"] = extra
    return fields


def _netcdf3(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(4) in NETCDF3


def open_netcdf(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """The cube of a NetCDF-4 file (see the module notes), its values left in the file."""
    where = path.name
    if not h5py.is_hdf5(path):
        if _netcdf3(path):
            raise InputError(f"{where}: a NetCDF-3 (classic) file; hsinr reads NetCDF-4 "
                             "(convert with: nccopy -k nc4 in.nc out.nc)")  # fmt: skip
        raise InputError(f"{where}: not a NetCDF-4 (HDF5) file")
    with h5py.File(path, "r") as file:
        check_links(file, where)
        from hsinr.io import products

        if products.is_emit(file, var):
            return products.open_emit(path, file, var, limits)
        return read_generic(path, file, var, limits, "NetCDF")


def read_generic(path: Path, file: h5py.File, var: str | None, limits: Limits,
                 kind: str) -> Cube:  # fmt: skip
    """The cube of a checked HDF5 / NetCDF-4 file read as CF-NetCDF: ``var`` or the largest
    3-D numeric dataset of the root group."""
    where = path.name
    if var is None:
        found = {name: item.shape for name, item in file.items()
                 if isinstance(item, h5py.Dataset) and item.ndim == 3
                 and item.dtype.kind in "iuf"}  # fmt: skip
        if not found:
            listing = ", ".join(f"{name} {item.shape}" for name, item in list(file.items())[:12]
                                if isinstance(item, h5py.Dataset)) or "no datasets"  # fmt: skip
            raise InputError(f"{where}: no 3-D numeric variable in its root group (it holds: "
                             f"{listing}); var= names one inside a group")  # fmt: skip
        var = max(found, key=lambda name: math.prod(found[name]))
    item = dataset(file, var, where)
    if item is None:
        raise InputError(f"{where}: no variable '{var}'")
    if item.dtype.kind not in "iuf":
        raise InputError(f"{where}: variable '{var}' is not numeric (dtype {item.dtype})")
    names = dimension_names(item)
    data, order, notes = lazy_cube(path, item, limits, where, names)
    group = item.parent
    band_dimension = names[order.index("bands")] or None
    wavelengths, per_band_fields = band_fields(group, data.shape[2], where, band_dimension)
    fields = merged(per_band_fields, variable_fields(item, posixpath.basename(item.name)),
                    grid_fields(group, item, order, names, where),
                    global_fields(file.attrs))  # fmt: skip
    name = fields.pop("name", None)
    name = name if isinstance(name, str) and 0 < len(name) <= 200 else path.stem
    return Cube(data, name=name, wavelengths=wavelengths, metadata=Metadata(**fields),
                source=f"{where} ({kind}, variable '{item.name.lstrip('/')}' "
                f"{tuple(names)})", notes=tuple(notes))  # fmt: skip


# -- writing ----------------------------------------------------------------------------------


def _h5netcdf():
    try:
        import h5netcdf
    except ImportError:
        raise InputError(f"writing NetCDF needs h5netcdf: {XARRAY_EXTRA}") from None
    return h5netcdf


def _as_wkt(crs: str) -> str:
    """``crs`` as WKT (``EPSG:n`` and the like converted with pyproj or rasterio when one is
    installed; as given otherwise)."""
    if _wkt_like(crs):
        return crs
    try:
        import pyproj

        return pyproj.CRS.from_user_input(crs).to_wkt("WKT1_GDAL")
    except Exception:  # no pyproj, or a CRS it cannot parse
        pass
    try:
        from rasterio.crs import CRS

        return CRS.from_user_input(crs).to_wkt()
    except Exception:  # no rasterio either: kept as it was
        return crs


def _cf_projection(crs: str) -> dict[str, Any]:
    """CF grid-mapping attributes of ``crs`` (pyproj's), or none without pyproj."""
    try:
        import pyproj

        attrs = pyproj.CRS.from_user_input(crs).to_cf()
    except Exception:  # no pyproj, or a CRS it cannot describe
        return {}
    return {k: v for k, v in attrs.items() if k not in ("crs_wkt", "spatial_ref")
            and isinstance(v, str | int | float)}  # fmt: skip


def _fill_value(nodata: float | None, dtype: np.dtype) -> Any:
    """``nodata`` as a value of ``dtype`` when it is one exactly, else None."""
    if nodata is None:
        return None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not float(nodata).is_integer() or not info.min <= nodata <= info.max:
            return None
    value = np.array(nodata, dtype=dtype)
    return value if float(value) == nodata else None


def _attribute_value(value: str | tuple[str, ...]) -> Any:
    return value if isinstance(value, str) else list(value)


class NetCDFWriter(CubeWriter):
    """A CF-NetCDF-4 file (see the module notes), written a block at a time by
    hyperslab into variable ``var``."""

    def __init__(self, path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, var: str,
                 name: str, wavelengths: np.ndarray | None,
                 metadata: Metadata) -> None:  # fmt: skip
        h5netcdf = _h5netcdf()
        super().__init__([path], shape, dtype)
        rows, cols, bands = self.shape
        meta = metadata
        out = self._file = self._stack.enter_context(h5netcdf.File(self.temps[0], "w"))
        out.dimensions = {"y": rows, "x": cols, "band": bands}
        fill = _fill_value(meta.nodata, self.dtype)
        self._values = out.create_variable(var, ("y", "x", "band"), self.dtype, fillvalue=fill)
        attrs = self._values.attrs
        coordinates = []
        if wavelengths is not None:
            item = out.create_variable("wavelength", ("band",), np.float64,
                                       data=np.asarray(wavelengths, np.float64))  # fmt: skip
            item.attrs["long_name"] = "centre wavelength"
            if meta.wavelength_units is not None:
                item.attrs["units"] = meta.wavelength_units
            coordinates.append("wavelength")
        elif meta.wavelength_units is not None:
            out.attrs["wavelength_units"] = meta.wavelength_units
        if meta.fwhm is not None:
            item = out.create_variable("fwhm", ("band",), np.float64, data=meta.fwhm)
            item.attrs["long_name"] = "full width at half maximum"
            if meta.wavelength_units is not None:
                item.attrs["units"] = meta.wavelength_units
            coordinates.append("fwhm")
        if meta.band_names is not None:
            item = out.create_variable("band_name", ("band",), h5py.string_dtype())
            item[:] = np.array(meta.band_names, dtype=object)
            coordinates.append("band_name")
        if meta.bad_bands:
            good = np.ones(bands, np.uint8)
            good[list(meta.bad_bands)] = 0
            item = out.create_variable("good_wavelengths", ("band",), np.uint8, data=good)
            item.attrs["long_name"] = "1: good band, 0: bad band"
            coordinates.append("good_wavelengths")
        if coordinates:
            attrs["coordinates"] = " ".join(coordinates)
        if meta.data_units is not None:
            attrs["units"] = meta.data_units
        if meta.scale_factor is not None:
            attrs["scale_factor"] = np.float64(meta.scale_factor)
        if meta.offset is not None:
            attrs["add_offset"] = np.float64(meta.offset)
        if meta.nodata is not None and fill is None:
            out.attrs["nodata"] = np.float64(meta.nodata)
        if meta.crs is not None or meta.transform is not None:
            self._grid(out, meta)
            attrs["grid_mapping"] = "crs"
        out.attrs["Conventions"] = "CF-1.8"
        out.attrs["title"] = name
        for key, field in (("description", meta.description),
                           ("acquisition_time", meta.acquisition_time)):  # fmt: skip
            if field is not None:
                out.attrs[key] = field
        if meta.map_info is not None:
            out.attrs["map_info"] = list(meta.map_info)
        for key, value in meta.extra.items():
            if key.startswith(f"{var}:") and key[len(var) + 1 :] not in VARIABLE_FIELDS:
                attrs[key[len(var) + 1 :]] = _attribute_value(value)
            elif key in GLOBAL_FIELDS or key.startswith("_") or key in HDF5_INTERNAL:
                out.attrs[EXTRA_PREFIX + key] = _attribute_value(value)
            else:
                out.attrs[key] = _attribute_value(value)

    def _grid(self, out: Any, meta: Metadata) -> None:
        """The ``crs`` grid-mapping variable and, for a transform without rotation, the
        x / y coordinate variables."""
        grid = out.create_variable("crs", (), np.int32)
        grid[()] = 0
        if meta.crs is not None:
            wkt = _as_wkt(meta.crs)
            for key, value in _cf_projection(wkt).items():
                grid.attrs[key] = value
            grid.attrs["crs_wkt"] = grid.attrs["spatial_ref"] = wkt
            if wkt != meta.crs:
                grid.attrs["hsinr_crs"] = meta.crs
        geographic = meta.crs is not None and _as_wkt(meta.crs).lstrip().upper().startswith(
            ("GEOGCS", "GEOGCRS"))  # fmt: skip
        if meta.transform is None:
            return
        grid.attrs["GeoTransform"] = " ".join(repr(t) for t in meta.transform)
        x0, dx, rx, y0, ry, dy = meta.transform
        if rx != 0 or ry != 0:
            return
        rows, cols, _ = self.shape
        for axis, size, start, step in (("x", cols, x0, dx), ("y", rows, y0, dy)):
            item = out.create_variable(axis, (axis,), np.float64,
                                       data=start + (np.arange(size) + 0.5) * step)  # fmt: skip
            item.attrs["axis"] = axis.upper()
            if geographic:
                item.attrs["standard_name"] = "longitude" if axis == "x" else "latitude"
                item.attrs["units"] = "degrees_east" if axis == "x" else "degrees_north"
            else:
                item.attrs["standard_name"] = f"projection_{axis}_coordinate"

    def _write(self, rows: range, cols: range, values: np.ndarray) -> None:
        self._values[rows.start : rows.stop, cols.start : cols.stop, :] = values

    def _finish(self) -> None:
        self._file.close()


RESERVED_VARIABLES = {"wavelength", "fwhm", "band_name", "good_wavelengths", "crs", "x", "y",
                      "band"}  # fmt: skip


def writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
           wavelengths: np.ndarray | None = None, metadata: Metadata | None = None,
           var: str = DEFAULT_VAR) -> CubeWriter:  # fmt: skip
    """A CF-NetCDF-4 file with the cube as variable ``var`` (``reflectance`` by default)
    and the metadata as the module notes say."""
    if not isinstance(var, str) or not var or "/" in var or var in RESERVED_VARIABLES:
        raise InputError(f"a NetCDF variable name cannot be {var!r} (no '/', and not one of "
                         f"{', '.join(sorted(RESERVED_VARIABLES))})")  # fmt: skip
    return NetCDFWriter(path, shape, np.dtype(dtype), var=var, name=name,
                        wavelengths=wavelengths,
                        metadata=Metadata() if metadata is None else metadata)  # fmt: skip


__all__ = ["NetCDFWriter", "check_links", "dimension_axes", "dimension_names",
           "open_netcdf", "writer"]
