"""Cubes as xarray DataArrays and back (the optional extra ``hsinr[xarray]``).

>>> import numpy as np, hsinr
>>> from hsinr.metadata import Metadata
>>> cube = hsinr.Cube(np.zeros((2, 3, 4), np.uint16), wavelengths=[450.0, 500.0, 550.0, 600.0],
...                   metadata=Metadata(wavelength_units="nm", fwhm=[10.0] * 4, bad_bands=(3,)))
>>> array = cube.to_xarray()
>>> array.dims, array.band.values.tolist()
(('y', 'x', 'band'), [450.0, 500.0, 550.0, 600.0])
>>> back = hsinr.Cube.from_xarray(array)
>>> back.metadata == cube.metadata
True

:func:`to_xarray` gives a DataArray of dims ``(y, x, band)``, named as the cube:

* ``band``: the wavelengths (``units`` and ``long_name`` attributes) when known, else the
  band index; ``fwhm``, ``band_name`` and ``bad_band`` (bool) coordinates on ``band``
  (they stay right when the array is cut by band);
* ``x`` / ``y``: pixel-centre coordinates from a geotransform without rotation;
* the CRS the rioxarray way when rioxarray is installed (a ``spatial_ref`` coordinate with
  ``crs_wkt`` and GDAL's ``GeoTransform``; ``array.rio.crs`` works), else an attribute
  ``crs_wkt``;
* the rest as attributes: ``units``, ``scale_factor``, ``add_offset``, ``_FillValue``
  (CF), ``description``, ``acquisition_time``, ``map_info``, ``transform`` (GDAL's six
  numbers), ``wavelength_units`` (when there are no wavelengths) and every ``extra`` field.

A lazy cube (values in its file) gives a dask-backed array read a block of rows at a
time when dask is installed; otherwise its values are read.

:func:`from_xarray` inverts it, for any DataArray (or the largest 3-D variable of a
Dataset) whose dims name the axes (``y`` / ``row`` / ``lat`` ..., ``x`` / ``col`` / ``lon``
..., ``band`` / ``wavelength`` ..., in any order; see :mod:`hsinr.io.netcdf`): the
wavelengths from a ``band`` coordinate that says it holds them (a ``units``, a
``long_name`` / ``standard_name`` with "wavelength", or a dim named ``wavelength``) or a
``wavelength`` coordinate, the transform from the ``transform`` attribute where it agrees
with evenly spaced x / y coordinates (or from those alone), the CRS from the grid-mapping
coordinate or the ``crs_wkt`` attribute, other attributes as ``extra`` text. A
dask-backed (or not yet loaded) array stays lazy: its values are computed a window at a
time when a codec reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io.netcdf import dimension_axes, numbers, text_of
from hsinr.lazy import AXES, LazyArray
from hsinr.metadata import MAX_EXTRA, Metadata

INSTALL = 'pip install "hsinr[xarray]"'
DIMS = ("y", "x", "band")
ATTRIBUTES = {"units", "scale_factor", "add_offset", "_FillValue", "missing_value", "description",
              "acquisition_time", "map_info", "transform", "wavelength_units", "crs_wkt", "crs",
              "grid_mapping", "coordinates"}  # fmt: skip
EXTRA_PREFIX = "hsinr_extra:"
GRID_MAPPINGS = ("spatial_ref", "crs")


def _xarray():
    try:
        import xarray
    except ImportError:
        raise InputError(f"xarray is not installed: {INSTALL}") from None
    return xarray


def _rioxarray() -> bool:
    try:
        import rioxarray  # noqa: F401  (registers the .rio accessor)
    except ImportError:
        return False
    return True


# -- to xarray ------------------------------------------------------------------------------


class _Window:
    """A :class:`~hsinr.lazy.LazyArray` as dask wants an array: indexable by slices."""

    def __init__(self, data: LazyArray) -> None:
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, 3

    def __getitem__(self, key: tuple) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (3 - len(key))
        ranges = [range(*part.indices(size)) for part, size in zip(key, self.shape, strict=True)]
        if any(len(r) == 0 for r in ranges):
            return np.empty([len(r) for r in ranges], dtype=self.dtype)
        return self.data.read(*ranges)


def _values(cube: Cube) -> Any:
    """The cube's values: a dask array over a lazy cube when dask is installed."""
    if not cube.lazy:
        return cube.data
    try:
        import dask.array
    except ImportError:
        return cube.read()
    step = next(iter(cube.data.row_blocks()), range(cube.height))
    return dask.array.from_array(_Window(cube.data), chunks=(len(step), -1, -1),
                                 meta=np.empty((0, 0, 0), cube.dtype))  # fmt: skip


def to_xarray(cube: Cube) -> Any:
    """``cube`` as an ``xarray.DataArray`` (see the module notes)."""
    xr = _xarray()
    meta = cube.metadata
    coords: dict[str, Any] = {}
    if cube.wavelengths is not None:
        attrs = {"long_name": "wavelength"}
        if meta.wavelength_units is not None:
            attrs["units"] = meta.wavelength_units
        coords["band"] = xr.Variable("band", cube.wavelengths, attrs)
    else:
        coords["band"] = xr.Variable("band", np.arange(cube.bands), {"long_name": "band index"})
    if meta.fwhm is not None:
        units = {"units": meta.wavelength_units} if meta.wavelength_units else {}
        coords["fwhm"] = xr.Variable("band", meta.fwhm, units)
    if meta.band_names is not None:
        coords["band_name"] = ("band", np.array(meta.band_names, dtype=object))
    if meta.bad_bands:
        bad = np.zeros(cube.bands, dtype=bool)
        bad[list(meta.bad_bands)] = True
        coords["bad_band"] = ("band", bad)
    if meta.transform is not None and meta.transform[2] == meta.transform[4] == 0:
        x0, dx, _, y0, _, dy = meta.transform
        coords["x"] = ("x", x0 + (np.arange(cube.width) + 0.5) * dx)
        coords["y"] = ("y", y0 + (np.arange(cube.height) + 0.5) * dy)
    attrs: dict[str, Any] = {}
    for key, value in meta.extra.items():
        stored = value if isinstance(value, str) else list(value)
        attrs[EXTRA_PREFIX + key if key in ATTRIBUTES or key.startswith(EXTRA_PREFIX)
              else key] = stored  # fmt: skip
    for key, value in (("units", meta.data_units), ("scale_factor", meta.scale_factor),
                       ("add_offset", meta.offset), ("_FillValue", meta.nodata),
                       ("description", meta.description),
                       ("acquisition_time", meta.acquisition_time)):  # fmt: skip
        if value is not None:
            attrs[key] = value
    if cube.wavelengths is None and meta.wavelength_units is not None:
        attrs["wavelength_units"] = meta.wavelength_units
    if meta.map_info is not None:
        attrs["map_info"] = list(meta.map_info)
    if meta.transform is not None:
        attrs["transform"] = list(meta.transform)
    array = xr.DataArray(_values(cube), dims=DIMS, coords=coords, attrs=attrs, name=cube.name)
    if meta.crs is not None:
        array = _with_crs(array, meta)
    return array


def _with_crs(array: Any, meta: Metadata) -> Any:
    """``array`` with the CRS written the rioxarray way, or as a ``crs_wkt`` attribute."""
    if _rioxarray():
        try:
            array = array.rio.write_crs(meta.crs)
            if meta.transform is not None:
                from affine import Affine

                array = array.rio.write_transform(Affine.from_gdal(*meta.transform))
        except Exception:  # a CRS pyproj cannot parse: kept as text
            pass
        else:
            name = array.encoding.get("grid_mapping", "spatial_ref")
            if array.coords[name].attrs.get("crs_wkt") != meta.crs:
                array.coords[name].attrs["hsinr_crs"] = meta.crs
            return array
    array.attrs["crs_wkt"] = meta.crs
    return array


# -- from xarray ----------------------------------------------------------------------------


class XarrayArray(LazyArray):
    """The values of a (dask-backed, or not yet loaded) DataArray in (rows, cols, bands)
    order, computed a window at a time."""

    def __init__(self, array: Any, where: str) -> None:
        self.array = array
        self.shape = tuple(int(n) for n in array.shape)  # type: ignore[assignment]
        self.dtype = np.dtype(array.dtype).newbyteorder("=")
        self.where = where

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        part = self.array[rows.start : rows.stop, cols.start : cols.stop,
                          bands.start : bands.stop]  # fmt: skip
        return np.ascontiguousarray(np.asarray(part.values)).astype(self.dtype, copy=False)


def _text(value: Any) -> str | tuple[str, ...] | None:
    if isinstance(value, list | tuple):
        texts = [text_of(v) for v in value]
        return tuple(texts) if all(isinstance(t, str) for t in texts) else None  # type: ignore[arg-type]
    return text_of(value)


def _number(value: Any) -> float | None:
    try:
        found = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return float(found[0]) if found.size == 1 and math.isfinite(found[0]) else None


def _pick(data: Any, xr: Any) -> Any:
    """The DataArray of ``data``: itself, or a Dataset's largest 3-D numeric variable."""
    if isinstance(data, xr.Dataset):
        found = [v for v in data.data_vars.values()
                 if v.ndim == 3 and np.dtype(v.dtype).kind in "iuf"]  # fmt: skip
        if not found:
            raise InputError("the Dataset has no 3-D numeric variable; pass the DataArray")
        return max(found, key=lambda v: v.size)
    if not isinstance(data, xr.DataArray):
        raise InputError(f"expected an xarray DataArray, not {type(data).__name__}")
    return data


def _band_values(array: Any, band: str) -> tuple[np.ndarray | None, str | None]:
    """(wavelengths, their units) from the band dimension's coordinates."""
    candidates = []
    if band in array.coords:
        coordinate = array.coords[band]
        attrs = coordinate.attrs
        said = " ".join(str(attrs.get(k, "")) for k in ("long_name", "standard_name")).lower()
        if "units" in attrs or "wavelength" in said or band.lower().startswith("wavelength"):
            candidates.append(coordinate)
    for name in ("wavelength", "wavelengths"):
        if name != band and name in array.coords and array.coords[name].dims == (band,):
            candidates.append(array.coords[name])
    for coordinate in candidates:
        if np.dtype(coordinate.dtype).kind in "iuf":
            values = np.asarray(coordinate.values, dtype=np.float64)
            if np.all(np.isfinite(values)):
                units = coordinate.attrs.get("units")
                return values, None if units is None else str(units)
    return None, None


def _band_coordinate(array: Any, band: str, names: tuple[str, ...]) -> np.ndarray | None:
    for name in names:
        if name in array.coords and array.coords[name].dims == (band,):
            return np.asarray(array.coords[name].values)
    return None


def _centres(array: Any, dim: str) -> np.ndarray | None:
    if dim not in array.coords or array.coords[dim].dims != (dim,):
        return None
    values = array.coords[dim].values
    if np.dtype(values.dtype).kind not in "iuf" or values.size < 2:
        return None
    values = np.asarray(values, dtype=np.float64)
    steps = np.diff(values)
    if not np.all(np.isfinite(values)) or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        return None
    return values


def _transform(array: Any, rows: str, cols: str,
               given: tuple[float, ...] | None) -> tuple[float, ...] | None:  # fmt: skip
    """``given`` where the x / y coordinates agree with it (or there are none), else the
    transform of the coordinates."""
    ys, xs = _centres(array, rows), _centres(array, cols)
    if ys is None or xs is None:
        return given
    if given is not None and given[2] == given[4] == 0:
        x0, dx, _, y0, _, dy = given
        expected_x = x0 + (np.arange(xs.size) + 0.5) * dx
        expected_y = y0 + (np.arange(ys.size) + 0.5) * dy
        if (np.allclose(xs, expected_x, rtol=0, atol=abs(dx) * 1e-6)
                and np.allclose(ys, expected_y, rtol=0, atol=abs(dy) * 1e-6)):  # fmt: skip
            return given
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    return (float(xs[0]) - dx / 2, dx, 0.0, float(ys[0]) - dy / 2, 0.0, dy)


def _same_crs(first: str, second: str) -> bool:
    try:
        import pyproj

        return pyproj.CRS.from_user_input(first) == pyproj.CRS.from_user_input(second)
    except Exception:  # no pyproj, or a CRS it cannot parse: trust hsinr's own record
        return True


def _grid(array: Any, dataset: Any = None) -> tuple[str | None, tuple[float, ...] | None]:
    """(crs, GeoTransform) from the grid-mapping coordinate (or, given the Dataset, its
    grid-mapping variable) or the attributes."""
    names = [array.encoding.get("grid_mapping"), array.attrs.get("grid_mapping"),
             *GRID_MAPPINGS]  # fmt: skip
    for name in names:
        if not isinstance(name, str):
            continue
        if name in array.coords:
            attrs = array.coords[name].attrs
        elif dataset is not None and name in dataset.variables:
            attrs = dataset.variables[name].attrs
        else:
            continue
        wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
        own = attrs.get("hsinr_crs")
        crs = own if isinstance(own, str) and (not wkt or _same_crs(own, str(wkt))) else wkt
        transform = numbers(attrs["GeoTransform"], 6) if "GeoTransform" in attrs else None
        if crs or transform:
            return (str(crs) if crs else None), transform
    crs = array.attrs.get("crs_wkt") or array.attrs.get("crs")
    return (str(crs) if isinstance(crs, str) else None), None


def from_xarray(data: Any, name: str | None = None) -> Cube:
    """A :class:`~hsinr.cube.Cube` of an ``xarray.DataArray`` (see the module notes), or of
    a Dataset's largest 3-D variable (its grid-mapping variable then counts too)."""
    xr = _xarray()
    array = _pick(data, xr)
    dataset = data if isinstance(data, xr.Dataset) else None
    where = f"xarray '{name or array.name or 'cube'}'"
    if array.ndim != 3:
        raise InputError(f"{where}: {array.ndim} dims {array.dims}; a cube has 3 (y, x, band)")
    order, notes = dimension_axes([str(d) for d in array.dims], where)
    dim = {axis: str(array.dims[order.index(axis)]) for axis in AXES}
    array = array.transpose(dim["rows"], dim["cols"], dim["bands"])
    if np.dtype(array.dtype).kind not in "iuf":
        raise InputError(f"{where}: the values are not numeric (dtype {array.dtype})")
    in_memory = array.chunks is None and getattr(array.variable, "_in_memory", True)
    values = np.ascontiguousarray(array.values) if in_memory else XarrayArray(array, where)
    fields: dict[str, Any] = {}
    wavelengths, units = _band_values(array, dim["bands"])
    if units is not None:
        fields["wavelength_units"] = units
    fwhm = _band_coordinate(array, dim["bands"], ("fwhm", "FWHM"))
    if fwhm is not None and fwhm.dtype.kind in "iuf":
        fields["fwhm"] = fwhm
    found = _band_coordinate(array, dim["bands"], ("band_name", "band_names"))
    if found is not None:
        fields["band_names"] = tuple(str(v) for v in found)
    found = _band_coordinate(array, dim["bands"], ("bad_band",))
    if found is not None and found.dtype.kind == "b" and not found.all():
        fields["bad_bands"] = tuple(int(b) for b in np.flatnonzero(found))
    found = _band_coordinate(array, dim["bands"], ("good_wavelengths", "good_band"))
    if found is not None and found.dtype.kind in "biu" and found.any():
        fields.setdefault("bad_bands", tuple(int(b) for b in np.flatnonzero(found == 0)))
    attrs: Mapping[str, Any] = {**array.encoding, **array.attrs}
    for key, field in (("units", "data_units"), ("description", "description"),
                       ("acquisition_time", "acquisition_time"),
                       ("wavelength_units", "wavelength_units")):  # fmt: skip
        if isinstance(attrs.get(key), str):
            fields.setdefault(field, attrs[key])
    for key, field in (("scale_factor", "scale_factor"), ("add_offset", "offset"),
                       ("_FillValue", "nodata"), ("missing_value", "nodata")):  # fmt: skip
        if key in attrs and _number(attrs[key]) is not None:
            fields.setdefault(field, _number(attrs[key]))
    if "map_info" in attrs and _text(attrs["map_info"]) is not None:
        found_text = _text(attrs["map_info"])
        fields["map_info"] = (found_text,) if isinstance(found_text, str) else found_text
    crs, geotransform = _grid(array, dataset)
    given = numbers(attrs["transform"], 6) if "transform" in attrs else None
    transform = _transform(array, dim["rows"], dim["cols"], given or geotransform)
    if crs is not None:
        fields["crs"] = crs
    if transform is not None:
        fields["transform"] = transform
        if transform != (given or geotransform):  # cut since: ENVI's map info no longer fits
            fields.pop("map_info", None)
    extra: dict[str, Any] = {}
    for key, value in array.attrs.items():
        if key in ATTRIBUTES or key.startswith("_") or len(extra) >= MAX_EXTRA:
            continue
        text = _text(value)
        if text is not None:
            extra[key[len(EXTRA_PREFIX):] if key.startswith(EXTRA_PREFIX) else str(key)] = text
    if extra:
        fields["extra"] = extra
    cube_name = name or (str(array.name) if array.name is not None else "cube")
    return Cube(values, name=cube_name, wavelengths=wavelengths, metadata=Metadata(**fields),
                source=f"xarray DataArray '{cube_name}' {tuple(array.dims)}",
                notes=tuple(notes))  # fmt: skip


__all__ = ["XarrayArray", "from_xarray", "to_xarray"]
