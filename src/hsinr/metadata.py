"""What a scene carries besides its values: band descriptions, units, no-data, bad bands,
acquisition and georeferencing, kept through compression and written back by every format.

>>> import numpy as np
>>> meta = Metadata(fwhm=np.array([10.0, 10.5, 11.0]), nodata=0.0, bad_bands=(2,),
...                 crs="EPSG:32611", transform=(500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0))
>>> section = meta.to_bytes(wavelengths=np.array([450.0, 550.0, 650.0]))
>>> wavelengths, back = Metadata.from_bytes(section, bands=3)
>>> back == meta, wavelengths.tolist()
(True, [450.0, 550.0, 650.0])
>>> meta.subset(range(10, 20), range(5, 15), range(1, 3)).transform
(500150.0, 30.0, 0.0, 4099700.0, 0.0, -30.0)

Wavelengths themselves stay on the :class:`~hsinr.cube.Cube` (``cube.wavelengths``); the
serialised section (:meth:`Metadata.to_bytes`, the container's metadata section, see
docs/FORMAT.md) holds them together with everything here, as UTF-8 JSON. Reading one
back checks every field's type and every per-band list's length before anything is built.

Fields follow the common meaning in ENVI, GDAL and CF-NetCDF: ``scale_factor`` and
``offset`` as in CF (physical = stored x scale_factor + offset; ENVI's ``reflectance
scale factor`` R is scale_factor = 1 / R), ``transform`` as GDAL's geotransform (x of the
top-left corner, pixel width, row rotation, y of the top-left corner, column rotation,
pixel height, negative for north-up), ``crs`` as WKT or ``EPSG:n``. ``extra`` keeps the
source format's other fields as text (an ENVI header's ``sensor type``, a NetCDF
attribute), so nothing the input said is dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsinr.errors import InputError

SCHEMA = 1  # version of the JSON layout below (the "hsinr_metadata" key)
MAX_TEXT = 2**16  # characters in one text field
MAX_EXTRA = 4096  # extra fields

_TEXT_FIELDS = ("wavelength_units", "data_units", "description", "acquisition_time", "crs")
_NUMBER_FIELDS = ("scale_factor", "offset", "nodata")


class MetadataError(InputError):
    """A metadata section or field that is not what it must be."""


@dataclass(frozen=True, eq=False)
class Metadata:
    """A scene's metadata (everything optional; see the module notes for the meanings)."""

    wavelength_units: str | None = None
    fwhm: np.ndarray | None = None
    band_names: tuple[str, ...] | None = None
    bad_bands: tuple[int, ...] = ()
    data_units: str | None = None
    scale_factor: float | None = None
    offset: float | None = None
    nodata: float | None = None
    description: str | None = None
    acquisition_time: str | None = None
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    map_info: tuple[str, ...] | None = None
    extra: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fwhm is not None:
            object.__setattr__(self, "fwhm", np.asarray(self.fwhm, np.float64).reshape(-1))
        if self.band_names is not None:
            object.__setattr__(self, "band_names", tuple(str(n) for n in self.band_names))
        object.__setattr__(self, "bad_bands", tuple(sorted({int(b) for b in self.bad_bands})))
        if self.transform is not None:
            transform = tuple(float(t) for t in self.transform)
            if len(transform) != 6 or not all(map(math.isfinite, transform)):
                raise MetadataError(f"a geotransform is 6 finite numbers, not {self.transform}")
            object.__setattr__(self, "transform", transform)
        if self.map_info is not None:
            object.__setattr__(self, "map_info", tuple(str(t) for t in self.map_info))
        extra = {str(k): v if isinstance(v, str) else tuple(str(x) for x in v)
                 for k, v in dict(self.extra).items()}  # fmt: skip
        object.__setattr__(self, "extra", extra)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metadata):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def empty(self) -> bool:
        """Whether nothing is recorded."""
        return not self.to_dict()

    @property
    def pixel_size(self) -> tuple[float, float] | None:
        """(width, height) of a pixel in the CRS's units, from the geotransform."""
        if self.transform is None:
            return None
        _, dx, rx, _, ry, dy = self.transform
        return math.hypot(dx, ry), math.hypot(rx, dy)

    def replace(self, **changes: Any) -> Metadata:
        return dataclasses.replace(self, **changes)

    def check(self, bands: int, where: str = "metadata") -> None:
        """Raise :class:`MetadataError` unless every per-band field has ``bands`` entries
        and the bad bands are band indices."""
        for name, values in (("fwhm", self.fwhm), ("band names", self.band_names)):
            if values is not None and len(values) != bands:
                raise MetadataError(f"{where}: {len(values)} {name} for {bands} bands")
        if self.bad_bands and not 0 <= self.bad_bands[0] <= self.bad_bands[-1] < bands:
            raise MetadataError(f"{where}: bad-band indices outside 0..{bands - 1}")
        if len(self.bad_bands) >= bands:
            raise MetadataError(f"{where}: every band is marked bad")

    # -- windows -----------------------------------------------------------------------

    def subset(self, rows: range, cols: range, bands: range) -> Metadata:
        """The metadata of a window: per-band fields cut to ``bands``, the geotransform
        and ENVI map info moved to the window's top-left pixel."""
        changes: dict[str, Any] = {}
        if self.fwhm is not None:
            changes["fwhm"] = self.fwhm[bands.start : bands.stop]
        if self.band_names is not None:
            changes["band_names"] = self.band_names[bands.start : bands.stop]
        changes["bad_bands"] = tuple(b - bands.start for b in self.bad_bands if b in bands)
        if self.transform is not None:
            x0, dx, rx, y0, ry, dy = self.transform
            changes["transform"] = (x0 + cols.start * dx + rows.start * rx, dx, rx,
                                    y0 + cols.start * ry + rows.start * dy, ry, dy)  # fmt: skip
        if self.map_info is not None and (rows.start or cols.start):
            changes["map_info"] = _moved_map_info(self.map_info, rows.start, cols.start)
        return self.replace(**changes)

    # -- serialised form ----------------------------------------------------------------

    def to_dict(self, wavelengths: np.ndarray | None = None) -> dict[str, Any]:
        """Plain JSON values of the recorded fields (and ``wavelengths`` if given)."""
        out: dict[str, Any] = {}
        if wavelengths is not None:
            out["wavelengths"] = [float(w) for w in wavelengths]
        for name in _TEXT_FIELDS + _NUMBER_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value if name in _TEXT_FIELDS else float(value)
        if self.fwhm is not None:
            out["fwhm"] = [float(w) for w in self.fwhm]
        if self.band_names is not None:
            out["band_names"] = list(self.band_names)
        if self.bad_bands:
            out["bad_bands"] = list(self.bad_bands)
        if self.transform is not None:
            out["transform"] = list(self.transform)
        if self.map_info is not None:
            out["map_info"] = list(self.map_info)
        if self.extra:
            out["extra"] = {k: v if isinstance(v, str) else list(v) for k, v in self.extra.items()}
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], bands: int,
                  where: str = "metadata") -> tuple[np.ndarray | None, Metadata]:  # fmt: skip
        """(wavelengths, metadata) from :meth:`to_dict`'s form, every field checked
        (type, finiteness, per-band length) before use."""
        if not isinstance(values, Mapping):
            raise MetadataError(f"{where}: not a mapping of fields")
        known = {"wavelengths", "fwhm", "band_names", "bad_bands", "transform", "map_info",
                 "extra", *_TEXT_FIELDS, *_NUMBER_FIELDS}  # fmt: skip
        unknown = sorted(set(values) - known)
        if unknown:
            raise MetadataError(f"{where}: unknown field {unknown[0]!r}")
        fields: dict[str, Any] = {}
        for name in _TEXT_FIELDS:
            if name in values:
                fields[name] = _text(values[name], name, where)
        for name in _NUMBER_FIELDS:
            if name in values:
                fields[name] = _numbers([values[name]], name, where, 1)[0]
        wavelengths = None
        if "wavelengths" in values:
            wavelengths = np.array(_numbers(values["wavelengths"], "wavelengths", where, bands))
        if "fwhm" in values:
            fields["fwhm"] = np.array(_numbers(values["fwhm"], "fwhm", where, bands))
        if "band_names" in values:
            fields["band_names"] = _texts(values["band_names"], "band_names", where, bands)
        if "bad_bands" in values:
            listed = values["bad_bands"]
            if not isinstance(listed, list) or not all(type(b) is int for b in listed):
                raise MetadataError(f"{where}: bad_bands is not a list of band indices")
            fields["bad_bands"] = tuple(listed)
        if "transform" in values:
            fields["transform"] = tuple(_numbers(values["transform"], "transform", where, 6))
        if "map_info" in values:
            listed = values["map_info"]
            fields["map_info"] = _texts(listed, "map_info", where, len(listed) if
                                        isinstance(listed, list) and len(listed) < 64 else -1)
        if "extra" in values:
            fields["extra"] = _extra(values["extra"], where)
        metadata = cls(**fields)
        metadata.check(bands, where)
        return wavelengths, metadata

    def to_bytes(self, wavelengths: np.ndarray | None = None) -> bytes:
        """UTF-8 JSON of :meth:`to_dict`, with the schema version."""
        body = {"hsinr_metadata": SCHEMA, **self.to_dict(wavelengths)}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes, bands: int,
                   where: str = "metadata") -> tuple[np.ndarray | None, Metadata]:  # fmt: skip
        """(wavelengths, metadata) from :meth:`to_bytes`'s form."""
        try:
            values = json.loads(bytes(data).decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise MetadataError(f"{where}: not valid JSON metadata ({exc})") from None
        if not isinstance(values, dict) or values.get("hsinr_metadata") != SCHEMA:
            raise MetadataError(f"{where}: not hsinr metadata of schema {SCHEMA}")
        values = {k: v for k, v in values.items() if k != "hsinr_metadata"}
        return cls.from_dict(values, bands, where)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise MetadataError(f"{where}: {name} is not text of at most {MAX_TEXT} characters")
    return value


def _texts(values: Any, name: str, where: str, count: int) -> tuple[str, ...]:
    if not isinstance(values, list) or len(values) != count:
        raise MetadataError(f"{where}: {name} is not a list of {count} texts")
    return tuple(_text(v, name, where) for v in values)


def _numbers(values: Any, name: str, where: str, count: int) -> list[float]:
    if (not isinstance(values, list) or len(values) != count
            or not all(type(v) in (int, float) and math.isfinite(v) for v in values)):  # fmt: skip
        raise MetadataError(f"{where}: {name} is not a list of {count} finite numbers")
    return [float(v) for v in values]


def _extra(values: Any, where: str) -> dict[str, str | tuple[str, ...]]:
    if not isinstance(values, dict) or len(values) > MAX_EXTRA:
        raise MetadataError(f"{where}: extra is not a mapping of at most {MAX_EXTRA} fields")
    out: dict[str, str | tuple[str, ...]] = {}
    for key, value in values.items():
        _text(key, "an extra field's name", where)
        if isinstance(value, list):
            out[key] = tuple(_text(v, key, where) for v in value)
        else:
            out[key] = _text(value, key, where)
    return out


# -- compact number lists --------------------------------------------------------------

MAX_DECIMALS = 9
_BOUND = 2**53  # integers JSON and float64 both hold exactly


def pack_numbers(values: list[float]) -> list[float] | dict[str, Any]:
    """A per-band list in the few bytes it needs when every value is an integer number of
    10^-d (d <= 9; wavelengths written with a fixed number of decimals): ``{"decimals":
    d, "first": q0, "step": q1 - q0, "second_differences": [...]}`` of the integers q =
    value x 10^d, whose second differences are small for a smooth grid. Decoding divides
    q by 10^d, which gives back exactly the float64 each value was; otherwise the list
    as it is."""
    if len(values) < 3:
        return values
    array = np.asarray(values, dtype=np.float64)
    for decimals in range(MAX_DECIMALS + 1):
        scaled = np.rint(array * 10**decimals)
        if np.all(np.abs(scaled) < _BOUND) and np.array_equal(scaled / 10**decimals, array):
            break
    else:
        return values
    q = [int(v) for v in scaled]
    steps = [b - a for a, b in itertools.pairwise(q)]
    second = [b - a for a, b in itertools.pairwise(steps)]
    return {"decimals": decimals, "first": q[0], "step": steps[0], "second_differences": second}


def unpack_numbers(packed: Any, count: int, name: str, where: str) -> Any:
    """The list of :func:`pack_numbers` (a list is given back as it is, for the checks
    of :meth:`Metadata.from_dict`), every integer and the result bounded."""
    if not isinstance(packed, dict):
        return packed
    ints = [packed.get("first"), packed.get("step"), *(packed.get("second_differences") or [])]
    if (set(packed) != {"decimals", "first", "step", "second_differences"}
            or type(packed["decimals"]) is not int or not 0 <= packed["decimals"] <= MAX_DECIMALS
            or not isinstance(packed["second_differences"], list)
            or len(packed["second_differences"]) != count - 2
            or not all(type(v) is int and abs(v) < _BOUND for v in ints)):  # fmt: skip
        raise MetadataError(f"{where}: {name} is not a packed list of {count} numbers")
    step, value, out = packed["step"], packed["first"], [packed["first"]]
    for change in [0, *packed["second_differences"]]:
        step += change
        value += step
        if abs(value) >= _BOUND or abs(step) >= _BOUND:
            raise MetadataError(f"{where}: {name} holds numbers out of range")
        out.append(value)
    return [v / 10 ** packed["decimals"] for v in out[:count]]


# -- ENVI map info ------------------------------------------------------------------------


def transform_from_map_info(map_info: tuple[str, ...]) -> tuple[float, ...] | None:
    """The GDAL geotransform of an ENVI ``map info`` list (projection name, reference
    pixel x, y (1-based), its easting, northing, pixel width, height, ...; an optional
    ``rotation=deg``), or None when it cannot be read as numbers."""
    try:
        ref_x, ref_y, east, north, dx, dy = (float(v) for v in map_info[1:7])
    except (ValueError, IndexError):
        return None
    if not all(map(math.isfinite, (ref_x, ref_y, east, north, dx, dy))):
        return None
    rotation = 0.0
    for item in map_info[7:]:
        match = re.fullmatch(r"\s*rotation\s*=\s*([-+0-9.eE]+)\s*", item)
        if match:
            rotation = math.radians(float(match.group(1)))
    cos, sin = math.cos(rotation), math.sin(rotation)
    a, b, d, e = dx * cos, dy * sin, dx * sin, -dy * cos
    x0 = east - (ref_x - 1) * a - (ref_y - 1) * b
    y0 = north - (ref_x - 1) * d - (ref_y - 1) * e
    return (x0, a, b, y0, d, e)


def _moved_map_info(map_info: tuple[str, ...], row: int, col: int) -> tuple[str, ...]:
    """``map_info`` with its reference pixel's numbers moved by a window's offset (the
    tie point stays on the same ground position)."""
    try:
        ref_x, ref_y = float(map_info[1]), float(map_info[2])
    except (ValueError, IndexError):
        return map_info
    return (map_info[0], repr(ref_x - col), repr(ref_y - row), *map_info[3:])


__all__ = ["Metadata", "MetadataError", "pack_numbers", "transform_from_map_info",
           "unpack_numbers"]
