"""ENVI files: a text ``.hdr`` header beside a raw binary file (bsq, bil or bip), via spectral.

Load by naming either the header or the data file. Wavelengths in the header are kept.
Saving ``x.hdr`` writes ``x.img``, then ``x.hdr`` (the header last, see ``_atomic``).

The header is checked by hsinr before spectral sees the data: at most
``MAX_HEADER_BYTES`` and ``MAX_HEADER_LINES`` (spectral's parser is quadratic in lines),
a known interleave (spectral would read anything else as bsq), positive sizes, a known
data type and byte order, no spectral library, and a data file that holds offset + rows x
cols x bands values. hsinr finds the data file itself, in spectral's order of names, and
it must be a file in the header's folder (``_checks.companion``): no header field, link
or search path can send the reader elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import spectral.io.envi as spectral_envi

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io import ENVI_HEADER_SUFFIX
from hsinr.io._checks import check_declared, companion
from hsinr.io._writing import RawWriter
from hsinr.io.envi_fields import read_fields, write_fields, write_header
from hsinr.lazy import RawArray
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

HEADER_SUFFIX = ENVI_HEADER_SUFFIX
INTERLEAVES = ("bsq", "bil", "bip")
# data-file names tried beside a header, in spectral's order: no suffix first
_LOOKUP = ("", ".img", ".dat", ".sli", ".hyspex", ".raw", ".bin")
MAX_HEADER_BYTES = 16 * 2**20
MAX_HEADER_LINES = 65536
_ENVI_DTYPES = {np.dtype(t) for t in (np.uint8, np.int16, np.uint16, np.int32, np.uint32)} | {
    np.dtype(t) for t in (np.float32, np.float64, np.int64, np.uint64)
}


def _header_and_data(path: Path) -> tuple[Path, Path | None]:
    if path.suffix.lower() == HEADER_SUFFIX:
        return path, None
    for header in (path.with_suffix(HEADER_SUFFIX), path.with_name(path.name + HEADER_SUFFIX)):
        if header.is_file():
            return companion(header, path), path
    raise InputError(f"{path.name}: no ENVI header ({path.stem}.hdr) beside the data file")


def read_header(header: Path) -> dict[str, object]:
    """The header's fields (lower-case keys), parsed only if it is of a sane size."""
    size = header.stat().st_size
    if size > MAX_HEADER_BYTES:
        raise InputError(f"{header.name}: an ENVI header of {size:,} bytes is not plausible")
    with open(header, "rb") as stream:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(2**20), b""))
    if lines > MAX_HEADER_LINES:
        raise InputError(f"{header.name}: an ENVI header of {lines:,} lines is not plausible")
    return spectral_envi.read_envi_header(str(header.resolve()))


def _integer(fields: dict[str, object], key: str, where: str, low: int, default=None) -> int:
    text = fields.get(key, default)
    try:
        value = int(str(text).strip())
    except ValueError:
        raise InputError(f"{where}: ENVI header field '{key}' = {text!r} is not a number") from None
    if value < low:
        raise InputError(f"{where}: ENVI header field '{key}' = {value} is out of range")
    return value


def _declared(fields: dict[str, object], where: str) -> tuple[tuple[int, int, int], np.dtype, int]:
    """(rows, cols, bands), the stored dtype and the data offset, each field checked (a
    header without ``byte order`` is little-endian, ENVI's default)."""
    interleave = str(fields.get("interleave", "bsq")).strip().lower()
    if interleave not in INTERLEAVES:
        raise InputError(
            f"{where}: unknown ENVI interleave {fields.get('interleave')!r}; expected one of "
            f"{', '.join(INTERLEAVES)}"
        )
    if "spectral library" in str(fields.get("file type", "")).lower():
        raise InputError(f"{where}: an ENVI spectral library, not an image cube")
    shape = tuple(_integer(fields, key, where, 1) for key in ("lines", "samples", "bands"))
    code = str(fields.get("data type", "")).strip()
    if code not in spectral_envi.envi_to_dtype:
        raise InputError(f"{where}: unknown ENVI data type {fields.get('data type')!r}")
    dtype = np.dtype(spectral_envi.envi_to_dtype[code])
    if "byte order" in fields:
        order = _integer(fields, "byte order", where, 0)
        if order > 1:
            raise InputError(f"{where}: ENVI byte order must be 0 or 1, not {order}")
        dtype = dtype.newbyteorder(">" if order else "<")
    offset = _integer(fields, "header offset", where, 0, default=0)
    return shape, dtype, offset  # type: ignore[return-value]


def _data_file(header: Path, interleave: str, given: Path) -> Path:
    """The data file beside ``header``, found as spectral would find it, within the folder."""
    suffixes = [*_LOOKUP, f".{interleave}"]
    for suffix in [*suffixes, *(s.upper() for s in suffixes)]:
        candidate = header.with_suffix(suffix)
        if candidate != header and candidate.exists():
            return companion(candidate, given)
    raise InputError(f"{header.name}: no ENVI data file ({header.stem}.img or similar) beside it")


def _located(path: Path) -> tuple[Path, Path, dict[str, object]]:
    header, data_file = _header_and_data(path)
    fields = read_header(header)
    if data_file is None:
        interleave = str(fields.get("interleave", "bsq")).strip().lower()
        data_file = _data_file(header, interleave if interleave in INTERLEAVES else "bsq", path)
    return header, data_file, fields


def storage_paths(path: Path) -> list[Path]:
    """The header and the data file of the ENVI image named by ``path``."""
    header, data_file, _ = _located(path)
    return [header, data_file]


ORDERS = {"bsq": ("bands", "rows", "cols"), "bil": ("rows", "bands", "cols"),
          "bip": ("rows", "cols", "bands")}  # fmt: skip


def open_envi(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """An ENVI image (header or data file path), its values left in the data file (read
    a window at a time, :class:`~hsinr.lazy.RawArray`)."""
    header, data_file, fields = _located(path)
    shape, dtype, offset = _declared(fields, header.name)
    available = data_file.stat().st_size - offset
    check_declared(shape, dtype, header.name, limits, available=available)
    interleave = str(fields.get("interleave", "bsq")).strip().lower()
    data = RawArray(data_file.resolve(), offset, dtype, ORDERS[interleave], shape, header.name)
    wavelengths, metadata, notes = read_fields(fields, shape[2])
    if "byte order" not in fields and dtype.itemsize > 1:
        notes.insert(0, f"{header.name}: no 'byte order' in the header: read as "
                        "little-endian, ENVI's default")  # fmt: skip
    return Cube(data, name=header.stem, wavelengths=wavelengths,
                source=f"{header.name} (ENVI, {interleave})", metadata=metadata,
                notes=tuple(notes))  # fmt: skip


def writer(
    path: Path,
    shape: tuple[int, int, int],
    dtype: np.dtype,
    *,
    name: str = "cube",
    wavelengths: np.ndarray | None = None,
    metadata: Metadata | None = None,
    interleave: str = "bsq",
) -> RawWriter:
    """``path`` (a ``.hdr``) and the raw data beside it as ``.img``, written block by
    block (little-endian; the header, with every metadata field, is committed last)."""
    dtype = np.dtype(dtype)
    if path.suffix.lower() != HEADER_SUFFIX:
        raise InputError(f"{path.name}: an ENVI output is named by its header, e.g. cube.hdr")
    if interleave not in INTERLEAVES:
        raise InputError(f"unknown ENVI interleave {interleave!r}; use one of {INTERLEAVES}")
    if dtype not in _ENVI_DTYPES:
        raise InputError(f"ENVI files cannot hold dtype {dtype}")
    rows, cols, bands = shape
    header: dict[str, object] = {
        "description": name if metadata is None or metadata.description is None else
        metadata.description, "samples": cols, "lines": rows, "bands": bands,
        "header offset": 0, "file type": "ENVI Standard",
        "data type": spectral_envi.dtype_to_envi[dtype.newbyteorder("=").char],
        "interleave": interleave, "byte order": 0,
    }  # fmt: skip
    write_fields(header, wavelengths, Metadata() if metadata is None else metadata)

    def prepare(temps: list[Path]) -> int:
        temp_data, temp_header = temps
        with open(temp_data, "wb") as stream:
            stream.truncate(rows * cols * bands * dtype.itemsize)
        write_header(temp_header, header)
        return 0

    return RawWriter([path.with_suffix(".img"), path], shape, dtype, dtype.newbyteorder("<"),
                     ORDERS[interleave], prepare)  # fmt: skip
