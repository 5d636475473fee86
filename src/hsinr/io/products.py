"""Satellite products with a layout of their own, recognised by the NetCDF, HDF5 and TIFF
readers and read as one cube with their wavelengths, FWHM, bad bands, no-data value and
georeferencing. The layouts are those of the products' published specifications; what
is supported (README, "Satellite products"):

* **NASA EMIT** L2A reflectance (``EMIT_L2A_RFL_*.nc``, variable ``reflectance``), its
  uncertainty (``EMIT_L2A_RFLUNCERT_*.nc``, ``reflectance_uncertainty``) and L1B radiance
  (``EMIT_L1B_RAD_*.nc``, ``radiance``): NetCDF-4 with the cube as a root variable
  ``(downtrack, crosstrack, bands)``, group ``sensor_band_parameters`` with
  ``wavelengths`` (nm), ``fwhm`` and (L2A) ``good_wavelengths``, group ``location`` with
  the geometry lookup table ``glt_x`` / ``glt_y``, root attributes ``geotransform`` and
  ``spatial_ref`` (the GLT's grid) and ``_FillValue`` -9999. Read as the raw swath (not
  orthorectified, so no CRS / transform of its own): ``good_wavelengths`` 0 become
  ``bad_bands``, the ``_FillValue`` the no-data value, the ``geotransform``,
  ``spatial_ref`` and a description of the GLT stay in ``metadata.extra``;
  :func:`emit_glt` reads the GLT and :func:`emit_orthorectify` maps a swath onto its grid.
* **ASI PRISMA** L1, L2B, L2C and L2D (``PRS_*.he5``, HDF-EOS5): the
  ``HDFEOS/SWATHS/PRS_<level>_HCO/Data Fields/VNIR_Cube`` and ``SWIR_Cube`` datasets,
  stored (rows, bands, cols) uint16, with root attributes ``List_Cw_Vnir`` /
  ``List_Cw_Swir`` (centre wavelengths, nm, one per stored band, 0 for a band not
  acquired), ``List_Fwhm_Vnir`` / ``List_Fwhm_Swir`` and ``List_Cw_Vnir_Flags`` /
  ``List_Cw_Swir_Flags``. Read as one cube of both spectrometers, bands sorted by
  wavelength (the stored order is descending), zero-wavelength bands dropped, the
  bands of the VNIR / SWIR overlap (about 940-1010 nm) all kept (``band_names`` say
  which spectrometer and stored band each is: ``VNIR 3``); the values stay in the file,
  read by hyperslab from both datasets. The scaling is kept, not applied: L2
  ``L2ScaleVnirMin/Max``, ``L2ScaleSwirMin/Max`` (value = min + DN (max - min) /
  65535), L1 ``ScaleFactor_Vnir/Swir``, ``Offset_Vnir/Swir`` (value = DN / factor -
  offset) become ``scale_factor`` / ``offset`` when both spectrometers share them (else
  they stay in ``extra``, with a note). L2 DN 0 is the no-data value. L2D is
  georeferenced from ``Epsg_Code`` and ``Product_ULcorner_*`` / ``Product_LRcorner_*``
  (corner pixels' centres or outer corners, whichever gives the nominal 30 m pixel);
  L1 / L2B / L2C are swaths with per-pixel latitude / longitude only (named in
  ``extra``).
* **DLR EnMAP** L1C and L2A GeoTIFF delivery: ``*-SPECTRAL_IMAGE.TIF`` beside
  ``*-METADATA.XML`` (root ``level_X``), whose ``specific/bandCharacterisation/bandID``
  elements (attribute ``number``) give ``wavelengthCenterOfBand`` (nm), ``FWHMOfBand``,
  ``GainOfBand`` and ``OffsetOfBand`` (value = DN gain + offset: ``scale_factor`` /
  ``offset`` when the same for every band, else in ``extra``) and
  ``base/temporalCoverage/startTime`` the acquisition time; CRS, transform and no-data
  come from the GeoTIFF tags (:mod:`hsinr.io.tiff`, with rasterio). The XML is read
  only when it lies in the image's folder, is at most 16 MB, is UTF-8 and declares no
  DOCTYPE or ENTITY (so no entity expansion and no external reference).

Every HDF5 file is checked as :mod:`hsinr.io.netcdf` checks one (no external or soft
links, no external storage, no virtual datasets, no plugin filters); every declared
shape is checked against the limits before anything is read.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._checks import check_declared, companion
from hsinr.io.netcdf import (
    attribute,
    check_links,
    dataset,
    dimension_names,
    global_fields,
    lazy_cube,
    merged,
    number,
    one_text,
    per_band,
    read_generic,
    stored_bytes,
    variable_fields,
)
from hsinr.lazy import HDF5Cube
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

# -- NASA EMIT ------------------------------------------------------------------------------

EMIT_VARIABLES = {"reflectance": "L2A reflectance", "radiance": "L1B radiance",
                  "reflectance_uncertainty": "L2A reflectance uncertainty"}  # fmt: skip
EMIT_DIMENSIONS = ("downtrack", "crosstrack", "bands")
EMIT_BANDS = "sensor_band_parameters"
EMIT_LOCATION = "location"


def is_emit(file: h5py.File, var: str | None) -> bool:
    """Whether a (link-checked) NetCDF-4 file has the EMIT layout (see the module notes)."""
    group = file.get(EMIT_BANDS)
    if not isinstance(group, h5py.Group) or "wavelengths" not in group:
        return False
    names = [var] if var is not None else list(EMIT_VARIABLES)
    return any(isinstance(file.get(name), h5py.Dataset) and file[name].ndim == 3
               for name in names)  # fmt: skip


def open_emit(path: Path, file: h5py.File, var: str | None, limits: Limits = DEFAULT) -> Cube:
    """An EMIT L1B / L2A file's swath cube (see the module notes), values left in the file."""
    where = path.name
    key = var or next(name for name in EMIT_VARIABLES if isinstance(file.get(name), h5py.Dataset)
                      and file[name].ndim == 3)  # fmt: skip
    item = dataset(file, key, where)
    names = dimension_names(item)
    if not all(names):
        names = list(EMIT_DIMENSIONS)
    data, _, notes = lazy_cube(path, item, limits, where, names)
    bands = data.shape[2]
    group = file[EMIT_BANDS]
    found = per_band(group, ("wavelengths",), bands, where)
    if found is None:
        raise InputError(f"{where}: {EMIT_BANDS}/wavelengths is not {bands} numbers")
    wavelengths = found[1]
    fields: dict[str, Any] = {}
    units = one_text(attribute(group["wavelengths"].attrs, "units"))
    fields["wavelength_units"] = "Nanometers" if units in (None, "nm") else units
    found = per_band(group, ("fwhm",), bands, where)
    if found is not None:
        fields["fwhm"] = found[1]
    found = per_band(group, ("good_wavelengths",), bands, where)
    if found is not None and np.any(found[1] != 0):
        fields["bad_bands"] = tuple(int(b) for b in np.flatnonzero(found[1] == 0))
    found_globals = global_fields(file.attrs)
    title = found_globals.pop("name", None)
    extra: dict[str, Any] = {}
    if title is not None:
        fields["description"], extra["title"] = title, title
    glt = _glt_datasets(file, where)
    if glt is not None:
        extra["glt"] = (f"{EMIT_LOCATION}/glt_x, {EMIT_LOCATION}/glt_y "
                        f"({glt[0].shape[0]} x {glt[0].shape[1]}): the swath column / row "
                        "(1-based; 0: none) of each pixel of the grid of 'geotransform' and "
                        "'spatial_ref'; hsinr.io.products.emit_glt reads it")  # fmt: skip
    fields = merged(fields, {"extra": extra}, variable_fields(item, key), found_globals)
    product = EMIT_VARIABLES.get(key, key)
    notes.append(f"EMIT {product}: the raw swath (downtrack x crosstrack), not "
                 "orthorectified; its GLT, geotransform and spatial_ref are in the metadata's "
                 "extra (hsinr.io.products.emit_orthorectify maps it onto that grid)")  # fmt: skip
    return Cube(data, name=path.stem, wavelengths=wavelengths, metadata=Metadata(**fields),
                source=f"{where} (EMIT {product}, unorthorectified swath)",
                notes=tuple(notes))  # fmt: skip


def _glt_datasets(file: h5py.File, where: str) -> tuple[h5py.Dataset, h5py.Dataset] | None:
    group = file.get(EMIT_LOCATION)
    if not isinstance(group, h5py.Group):
        return None
    x, y = dataset(group, "glt_x", where), dataset(group, "glt_y", where)
    if x is None or y is None or x.ndim != 2 or x.shape != y.shape or x.dtype.kind not in "iu":
        return None
    return x, y


def emit_glt(path: str | Path, limits: Limits = DEFAULT,
             ) -> tuple[np.ndarray, np.ndarray, tuple[float, ...], str]:  # fmt: skip
    """(glt_x, glt_y, transform, crs) of an EMIT file: the 1-based swath column and row of
    each pixel of the orthorectified grid (0 where none), its GDAL geotransform and its
    CRS (WKT), from ``location/glt_x``, ``glt_y`` and the root attributes ``geotransform``
    and ``spatial_ref``."""
    path = Path(path)
    where = path.name
    with h5py.File(path, "r") as file:
        check_links(file, where)
        glt = _glt_datasets(file, where)
        transform = _numbers(attribute(file.attrs, "geotransform"), 6)
        crs = one_text(attribute(file.attrs, "spatial_ref"))
        if glt is None or transform is None or crs is None:
            raise InputError(f"{where}: not an EMIT file with location/glt_x, glt_y and the "
                             "geotransform and spatial_ref attributes")  # fmt: skip
        rows, cols = glt[0].shape
        limits.check_count(2 * rows * cols, f"{where}: its GLT holds 2 x {rows} x {cols} values")
        return (np.asarray(glt[0][()], np.int64), np.asarray(glt[1][()], np.int64), transform,
                crs)  # fmt: skip


def emit_orthorectify(cube: Cube, path: str | Path, limits: Limits = DEFAULT) -> Cube:
    """The swath ``cube`` of the EMIT file ``path`` (or a cube decoded from it) on the
    file's orthorectified grid, by its GLT: each grid pixel takes the swath pixel the GLT
    names; pixels it names none get the no-data value (-9999 for EMIT, else 0). The
    result has the grid's CRS and transform."""
    glt_x, glt_y, transform, crs = emit_glt(path, limits)
    rows, cols = glt_x.shape
    limits.check_shape((rows, cols, cube.bands), Path(path).name)
    valid = (glt_x > 0) & (glt_y > 0) & (glt_x <= cube.width) & (glt_y <= cube.height)
    nodata = cube.metadata.nodata if cube.metadata.nodata is not None else 0
    swath = cube.loaded().data
    out = np.full((rows, cols, cube.bands), nodata, dtype=cube.dtype)
    out[valid] = swath[glt_y[valid] - 1, glt_x[valid] - 1]
    metadata = cube.metadata.replace(crs=crs, transform=transform, nodata=nodata, map_info=None)
    return Cube(out, name=cube.name, wavelengths=cube.wavelengths, metadata=metadata,
                source=f"{cube.source or cube.name}, orthorectified by its GLT")  # fmt: skip


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    from hsinr.io.netcdf import numbers

    return numbers(value, count) if value is not None else None


# -- ASI PRISMA -----------------------------------------------------------------------------

PRISMA_LEVELS = ("L1", "L2B", "L2C", "L2D")
PRISMA_FIELDS = "HDFEOS/SWATHS/PRS_{level}_HCO/Data Fields"
PRISMA_ARMS = ("Vnir", "Swir")
PRISMA_STORED = ("rows", "bands", "cols")
PRISMA_PIXEL = 30.0  # metres, the nominal pixel of L2D
DN_MAX = 65535.0


def prisma_level(file: h5py.File) -> str | None:
    """The processing level of a (link-checked) PRISMA file, None for another HDF5 file."""
    for level in PRISMA_LEVELS:
        fields = file.get(PRISMA_FIELDS.format(level=level))
        if isinstance(fields, h5py.Group) and all(f"{arm.upper()}_Cube" in fields
                                                  for arm in PRISMA_ARMS):  # fmt: skip
            return level
    return None


def open_he5(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """An HDF-EOS5 file: a PRISMA product (see the module notes), or else any HDF5 file read
    as NetCDF (``var`` or the largest 3-D numeric dataset of the root group)."""
    where = path.name
    if not h5py.is_hdf5(path):
        raise InputError(f"{where}: not an HDF5 (HDF-EOS5) file")
    with h5py.File(path, "r") as file:
        check_links(file, where)
        level = prisma_level(file)
        if level is None:
            return read_generic(path, file, var, limits, "HDF5")
        if var is not None:
            raise InputError(f"{where}: a PRISMA {level} product is read as one cube; var= "
                             "does not apply")  # fmt: skip
        return _open_prisma(path, file, level, limits)


def _list(file: h5py.File, name: str, size: int, where: str,
          required: bool = True) -> np.ndarray | None:  # fmt: skip
    value = attribute(file.attrs, name) if name in file.attrs else None
    values = None
    if value is not None:
        try:
            values = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            values = None
    if values is None or values.size != size or not np.all(np.isfinite(values)):
        if required:
            raise InputError(f"{where}: PRISMA attribute {name} is not {size} numbers")
        return None
    return values


def _prisma_scale(file: h5py.File, level: str, arm: str) -> tuple[float, float] | None:
    """(scale_factor, offset) of one spectrometer's DN, in the CF sense."""
    attrs = file.attrs
    if level == "L1":
        factor = number(attribute(attrs, f"ScaleFactor_{arm}")) if f"ScaleFactor_{arm}" in attrs \
            else None  # fmt: skip
        offset = number(attribute(attrs, f"Offset_{arm}")) if f"Offset_{arm}" in attrs else None
        if not factor or offset is None:
            return None
        return 1.0 / factor, -offset
    low = number(attribute(attrs, f"L2Scale{arm}Min")) if f"L2Scale{arm}Min" in attrs else None
    high = number(attribute(attrs, f"L2Scale{arm}Max")) if f"L2Scale{arm}Max" in attrs else None
    if low is None or high is None:
        return None
    return (high - low) / DN_MAX, low


def _open_prisma(path: Path, file: h5py.File, level: str, limits: Limits) -> Cube:
    where = path.name
    fields_group = file[PRISMA_FIELDS.format(level=level)]
    parts, bands_found, sizes = [], [], set()
    consumed = set()
    dtypes = []
    for part, arm in enumerate(PRISMA_ARMS):
        item = dataset(fields_group, f"{arm.upper()}_Cube", where)
        if item is None or item.ndim != 3:
            raise InputError(f"{where}: PRISMA {arm.upper()}_Cube is not a 3-D dataset")
        rows, count, cols = item.shape
        check_declared((rows, cols, count), item.dtype, where, limits,
                       available=stored_bytes(item), what=f"its {arm.upper()} cube")  # fmt: skip
        sizes.add((rows, cols))
        dtypes.append(item.dtype)
        centres = _list(file, f"List_Cw_{arm}", count, where)
        fwhm = _list(file, f"List_Fwhm_{arm}", count, where, required=False)
        flags = _list(file, f"List_Cw_{arm}_Flags", count, where, required=False)
        consumed |= {f"List_Cw_{arm}", f"List_Fwhm_{arm}", f"List_Cw_{arm}_Flags"}
        for index in np.flatnonzero(centres > 0):
            bands_found.append((float(centres[index]), part, int(index),
                                None if fwhm is None else float(fwhm[index]),
                                flags is not None and flags[index] == 0, arm.upper()))  # fmt: skip
        parts.append((item.name, PRISMA_STORED))
    if len(sizes) != 1:
        raise InputError(f"{where}: PRISMA VNIR and SWIR cubes of different sizes {sorted(sizes)}")
    if not bands_found:
        raise InputError(f"{where}: no PRISMA band with a wavelength")
    rows, cols = sizes.pop()
    bands_found.sort(key=lambda band: (band[0], band[1]))  # by wavelength, VNIR first on a tie
    shape = (rows, cols, len(bands_found))
    dtype = np.result_type(*dtypes)
    check_declared(shape, dtype, where, limits)
    band_map = np.array([(band[1], band[2]) for band in bands_found], dtype=np.int64)
    data = HDF5Cube(path.resolve(), parts, shape, dtype, where, band_map)
    wavelengths = np.array([band[0] for band in bands_found])
    fields: dict[str, Any] = {"wavelength_units": "Nanometers",
                              "band_names": tuple(f"{band[5]} {band[2] + 1}"
                                                  for band in bands_found)}  # fmt: skip
    if all(band[3] is not None for band in bands_found):
        fields["fwhm"] = np.array([band[3] for band in bands_found])
    bad = tuple(i for i, band in enumerate(bands_found) if band[4])
    if bad and len(bad) < len(bands_found):
        fields["bad_bands"] = bad
    notes = []
    scales = {_prisma_scale(file, level, arm) for arm in PRISMA_ARMS}
    if len(scales) == 1 and None not in scales:
        fields["scale_factor"], fields["offset"] = scales.pop()
    elif scales != {None}:
        notes.append("PRISMA VNIR and SWIR values have different scales (attributes in the "
                     "metadata's extra); scale_factor / offset say neither")  # fmt: skip
    kind = "radiance" if level in ("L1", "L2B") else "reflectance"
    fields["description"] = f"PRISMA {level} {kind} (VNIR and SWIR joined by wavelength)"
    if level != "L1":
        fields["nodata"] = 0.0
    start = one_text(attribute(file.attrs, "Product_StartTime")) \
        if "Product_StartTime" in file.attrs else None  # fmt: skip
    if start:
        fields["acquisition_time"] = start
    extra: dict[str, Any] = {}
    if level == "L2D":
        fields.update(_prisma_grid(file, rows, cols, where))
    else:
        extra["geolocation"] = (f"HDFEOS/SWATHS/PRS_{level}_HCO/Geolocation Fields: per-pixel "
                                "Latitude / Longitude (a swath, not a map grid)")  # fmt: skip
    fields = merged(fields, {"extra": extra}, global_fields(file.attrs, skip=consumed))
    fields.pop("name", None)
    return Cube(data, name=path.stem, wavelengths=wavelengths, metadata=Metadata(**fields),
                source=f"{where} (PRISMA {level}, VNIR + SWIR)", notes=tuple(notes))  # fmt: skip


def _prisma_grid(file: h5py.File, rows: int, cols: int, where: str) -> dict[str, Any]:
    """``crs`` and ``transform`` of an L2D product from its EPSG code and corners."""
    attrs = file.attrs
    values = {}
    for name in ("Epsg_Code", "Product_ULcorner_easting", "Product_ULcorner_northing",
                 "Product_LRcorner_easting", "Product_LRcorner_northing"):  # fmt: skip
        values[name] = number(attribute(attrs, name)) if name in attrs else None
    if any(v is None for v in values.values()):
        return {}
    west, north = values["Product_ULcorner_easting"], values["Product_ULcorner_northing"]
    east, south = values["Product_LRcorner_easting"], values["Product_LRcorner_northing"]

    def step(span: float, count: int) -> tuple[float, float]:
        """(pixel size, half a pixel when the corners are pixel centres, else 0)."""
        centres = span / (count - 1) if count > 1 else math.inf
        edges = span / count
        if abs(abs(centres) - PRISMA_PIXEL) < abs(abs(edges) - PRISMA_PIXEL):
            return centres, centres / 2
        return edges, 0.0

    dx, half_x = step(east - west, cols)
    dy, half_y = step(south - north, rows)
    transform = (west - half_x, dx, 0.0, north - half_y, 0.0, dy)
    return {"crs": f"EPSG:{int(values['Epsg_Code'])}", "transform": transform}


# -- DLR EnMAP ------------------------------------------------------------------------------

ENMAP_IMAGE = re.compile(r"^(?P<stem>ENMAP.*)-SPECTRAL_IMAGE\.TIFF?$", re.IGNORECASE)
MAX_XML_BYTES = 16 * 2**20


def read_xml(path: Path, given: Path) -> ET.Element:
    """The root of the XML file ``path`` found beside ``given``, parsed only when it lies in
    that folder, is at most 16 MB, is UTF-8 (no NUL bytes, so no UTF-16 hiding what follows)
    and declares no DOCTYPE or ENTITY."""
    companion(path, given)
    size = path.stat().st_size
    if size > MAX_XML_BYTES:
        raise InputError(f"{path.name}: an XML file of {size:,} bytes (at most "
                         f"{MAX_XML_BYTES:,})")  # fmt: skip
    data = path.read_bytes()
    lowered = data.lower()
    if b"\x00" in data:
        raise InputError(f"{path.name}: not UTF-8 XML")
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise InputError(f"{path.name}: declares a DOCTYPE or ENTITY; hsinr does not expand "
                         "XML entities")  # fmt: skip
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{path.name}: not well-formed XML ({exc})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _path(element: ET.Element, *names: str) -> ET.Element | None:
    for name in names:
        found = _child(element, name)
        if found is None:
            return None
        element = found
    return element


def _float(element: ET.Element, name: str) -> float | None:
    found = _child(element, name)
    try:
        value = float((found.text or "").strip()) if found is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def enmap_metadata_path(path: Path) -> Path | None:
    """The ``*-METADATA.XML`` beside an EnMAP ``*-SPECTRAL_IMAGE.TIF``, or None."""
    match = ENMAP_IMAGE.match(path.name)
    if match is None:
        return None
    for suffix in ("-METADATA.XML", "-METADATA.xml", "-metadata.xml"):
        candidate = path.with_name(match["stem"] + suffix)
        if candidate.is_file():
            return candidate
    return None


def enmap_fields(path: Path, bands: int, where: str,
                 ) -> tuple[np.ndarray | None, dict[str, Any], list[str], str] | None:  # fmt: skip
    """For an EnMAP spectral image beside its METADATA.XML: (wavelengths, metadata fields,
    notes, source) from the XML (see the module notes); None for any other TIFF."""
    xml_path = enmap_metadata_path(path)
    if xml_path is None:
        return None
    root = read_xml(xml_path, path)
    level = re.search(r"(L1B|L1C|L2A)", path.name.upper())
    product = f"EnMAP {level.group(1) if level else ''}".strip()
    source = f"{where} ({product} GeoTIFF, with {xml_path.name})"
    characterisation = _path(root, "specific", "bandCharacterisation")
    found = []
    if characterisation is not None:
        for band in characterisation:
            if _local(band.tag) != "bandID":
                continue
            try:
                number_ = int(band.get("number", ""))
            except ValueError:
                continue
            found.append((number_, _float(band, "wavelengthCenterOfBand"),
                          _float(band, "FWHMOfBand"), _float(band, "GainOfBand"),
                          _float(band, "OffsetOfBand")))  # fmt: skip
    found.sort()
    notes: list[str] = []
    if [b[0] for b in found] != list(range(1, bands + 1)) or any(b[1] is None for b in found):
        notes.append(f"{xml_path.name}: its bandCharacterisation does not describe bands "
                     f"1..{bands} with wavelengths; they are not used")  # fmt: skip
        return None, {}, notes, source
    wavelengths = np.array([b[1] for b in found])
    fields: dict[str, Any] = {"wavelength_units": "Nanometers", "description": product}
    extra: dict[str, Any] = {}
    if all(b[2] is not None for b in found):
        fields["fwhm"] = np.array([b[2] for b in found])
    gains, offsets = {b[3] for b in found}, {b[4] for b in found}
    if len(gains) == 1 and None not in gains and len(offsets) <= 1:
        gain, offset = gains.pop(), (offsets.pop() if offsets else None) or 0.0
        if (gain, offset) != (1.0, 0.0):
            fields["scale_factor"], fields["offset"] = gain, offset
    elif gains != {None}:
        extra["GainOfBand"] = tuple(repr(b[3]) for b in found)
        extra["OffsetOfBand"] = tuple(repr(b[4]) for b in found)
        notes.append(f"{product}: the gain / offset differ by band (in the metadata's extra); "
                     "scale_factor / offset say none")  # fmt: skip
    start = _path(root, "base", "temporalCoverage", "startTime")
    if start is not None and (start.text or "").strip():
        fields["acquisition_time"] = start.text.strip()
    name = _path(root, "metadata", "name")
    if name is not None and (name.text or "").strip():
        extra["enmap product"] = name.text.strip()
    fields["extra"] = extra
    return wavelengths, fields, notes, source


__all__ = ["emit_glt", "emit_orthorectify", "enmap_fields", "is_emit", "open_emit",
           "open_he5", "prisma_level", "read_xml"]
