"""ENVI header fields <-> :class:`~hsinr.metadata.Metadata`: every field an ENVI header
holds besides the image's layout is kept, the known ones by meaning, the others as text.

=============================  ==================================================
ENVI field                     kept as
=============================  ==================================================
wavelength, wavelength units   ``cube.wavelengths``, ``wavelength_units``
band names                     ``band_names`` (and the wavelengths, when they are
                               given only there, as ``band 1 (0.4554 Micrometers)``)
fwhm                           ``fwhm``
bbl                            ``bad_bands`` (the bands whose entry is 0)
data ignore value              ``nodata``
reflectance scale factor R     ``scale_factor`` = 1 / R
data units                     ``data_units``
description, acquisition time  ``description``, ``acquisition_time``
map info                       ``map_info`` and the ``transform`` it implies
coordinate system string       ``crs`` (WKT)
anything else                  ``extra`` (text), written back as it was
=============================  ==================================================

A field that does not parse (a ``fwhm`` of the wrong length, say) is kept as text in
``extra`` with a note, rather than refusing the file.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from hsinr.metadata import Metadata, transform_from_map_info

LAYOUT = {"samples", "lines", "bands", "header offset", "data type", "interleave",
          "byte order", "file type", "data file"}  # fmt: skip
MAPPED = {"wavelength", "wavelength units", "band names", "fwhm", "bbl", "data ignore value",
          "reflectance scale factor", "data units", "description", "acquisition time",
          "map info", "coordinate system string"}  # fmt: skip
_IN_NAME = re.compile(
    r"\(\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
    r"(nm|nanometers?|um|µm|micrometers?|microns?)\s*\)", re.IGNORECASE)
_UNITS = {"nm": "Nanometers", "nanometer": "Nanometers", "nanometers": "Nanometers"}


def _numbers(value: Any, count: int | None = None) -> np.ndarray | None:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        return None
    try:
        numbers = np.array([float(v) for v in value], dtype=np.float64)
    except ValueError:
        return None
    return numbers if np.all(np.isfinite(numbers)) else None


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def wavelengths_in_names(names: list[str]) -> tuple[np.ndarray, str] | None:
    """The wavelengths and their unit when every band name carries one in brackets,
    e.g. ``band 1 (0.455400 Micrometers)``."""
    found = [_IN_NAME.search(name) for name in names]
    if not names or not all(found):
        return None
    units = {match.group(2).lower() for match in found}  # type: ignore[union-attr]
    if len(units) != 1:
        return None
    unit = units.pop()
    values = np.array([float(match.group(1)) for match in found])  # type: ignore[union-attr]
    return values, _UNITS.get(unit, "Micrometers")


def read_fields(fields: dict[str, Any],
                bands: int) -> tuple[np.ndarray | None, Metadata, list[str]]:  # fmt: skip
    """(wavelengths, metadata, notes) of a parsed header with ``bands`` bands."""
    notes: list[str] = []
    extra: dict[str, Any] = {k: v for k, v in fields.items() if k not in LAYOUT | MAPPED}
    meta: dict[str, Any] = {}

    def keep_as_text(key: str, why: str) -> None:
        extra[key] = fields[key]
        notes.append(f"ENVI field '{key}' {why}: kept as text")

    wavelengths = None
    if "wavelength" in fields:
        wavelengths = _numbers(fields["wavelength"], bands)
        if wavelengths is None:
            keep_as_text("wavelength", f"is not {bands} numbers")
    if "band names" in fields:
        names = fields["band names"]
        if isinstance(names, list) and len(names) == bands:
            meta["band_names"] = names
            found = wavelengths_in_names(names) if wavelengths is None else None
            if found is not None:
                wavelengths, meta["wavelength_units"] = found
                notes.append("wavelengths read from the band names")
        else:
            keep_as_text("band names", f"is not {bands} names")
    if "wavelength units" in fields:
        meta["wavelength_units"] = str(fields["wavelength units"])
    if "fwhm" in fields:
        meta["fwhm"] = _numbers(fields["fwhm"], bands)
        if meta["fwhm"] is None:
            del meta["fwhm"]
            keep_as_text("fwhm", f"is not {bands} numbers")
    if "bbl" in fields:
        listed = _numbers(fields["bbl"], bands)
        if listed is None or len(np.flatnonzero(listed == 0)) >= bands:
            keep_as_text("bbl", f"is not {bands} flags with a good band")
        else:
            meta["bad_bands"] = tuple(int(b) for b in np.flatnonzero(listed == 0))
    for key, name in (("data ignore value", "nodata"), ("reflectance scale factor", "scale")):
        if key in fields:
            number = _number(fields[key])
            if number is None or (name == "scale" and number == 0):
                keep_as_text(key, "is not a usable number")
            elif name == "nodata":
                meta["nodata"] = number
            else:
                meta["scale_factor"] = 1.0 / number
    for key, name in (("data units", "data_units"), ("description", "description"),
                      ("acquisition time", "acquisition_time"),
                      ("coordinate system string", "crs")):  # fmt: skip
        if key in fields:
            value = fields[key]
            meta[name] = ",".join(value) if isinstance(value, list) else str(value)
    if "map info" in fields:
        listed = fields["map info"]
        listed = listed if isinstance(listed, list) else [str(listed)]
        meta["map_info"] = tuple(listed)
        transform = transform_from_map_info(tuple(listed))
        if transform is not None:
            meta["transform"] = transform
        else:
            notes.append("ENVI 'map info' does not give a geotransform: kept as it was")
    meta["extra"] = {k: v if isinstance(v, str) else tuple(v) for k, v in extra.items()}
    return wavelengths, Metadata(**meta), notes


def _text(value: float) -> str:
    return repr(float(value))


def write_fields(header: dict[str, Any], wavelengths: np.ndarray | None,
                 metadata: Metadata) -> None:  # fmt: skip
    """Add the fields of ``wavelengths`` and ``metadata`` to ``header`` (in place)."""
    for key, value in metadata.extra.items():
        if key.lower() not in LAYOUT | MAPPED:
            header[key] = value if isinstance(value, str) else list(value)
    if wavelengths is not None:
        header["wavelength"] = [_text(w) for w in wavelengths]
    if metadata.wavelength_units is not None:
        header["wavelength units"] = metadata.wavelength_units
    if metadata.band_names is not None:
        header["band names"] = list(metadata.band_names)
    if metadata.fwhm is not None:
        header["fwhm"] = [_text(w) for w in metadata.fwhm]
    if metadata.bad_bands and "bands" in header:
        bad = set(metadata.bad_bands)
        header["bbl"] = ["0" if b in bad else "1" for b in range(int(header["bands"]))]
    if metadata.nodata is not None:
        header["data ignore value"] = _text(metadata.nodata)
    if metadata.scale_factor is not None and metadata.scale_factor != 0:
        header["reflectance scale factor"] = _text(float(f"{1 / metadata.scale_factor:.12g}"))
    for key, name in (("data units", "data_units"), ("description", "description"),
                      ("acquisition time", "acquisition_time"),
                      ("coordinate system string", "crs")):  # fmt: skip
        value = getattr(metadata, name)
        if value is not None:
            header[key] = value
    if metadata.map_info is not None:
        header["map info"] = list(metadata.map_info)
    elif metadata.transform is not None and metadata.transform[2] == metadata.transform[4] == 0:
        x0, dx, _, y0, _, dy = metadata.transform
        header["map info"] = ["Arbitrary", "1", "1", _text(x0), _text(y0), _text(dx), _text(-dy)]




def write_header(path, header: dict[str, Any]) -> None:
    """Write ``header`` as an ENVI header: lists in braces, comma-separated; a text with
    a comma, a brace or a line break in braces (ENVI's reader splits a braced value at
    its commas, except ``description``, so hsinr's reader joins a ``coordinate system
    string`` back with commas)."""
    lines = ["ENVI"]
    for key, value in header.items():
        if isinstance(value, list | tuple):
            text = "{" + ", ".join(str(v).replace("\n", " ") for v in value) + "}"
        else:
            text = str(value)
            if key == "description" or any(c in text for c in ",{}\n"):
                text = "{" + text.replace("}", ")").replace("{", "(") + "}"
        lines.append(f"{key} = {text}")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")


__all__ = ["read_fields", "wavelengths_in_names", "write_fields", "write_header"]
