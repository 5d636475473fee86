"""NumPy ``.npy`` (the bare array) and ``.npz`` (the cube plus metadata) files.

Pickled objects are never loaded: ``allow_pickle=False`` everywhere. Every array's header
(shape, dtype) is read and checked against the file's real size and the limits before its
data is read (``hsinr.io._checks``); a ``.npz`` member is read only if it is the cube or
its small metadata.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from hsinr.container import MAX_METADATA
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io import _metadata as metadata_json
from hsinr.io._checks import check_declared
from hsinr.io._pick import pick_cube_variable
from hsinr.io._writing import BufferedWriter, RawWriter
from hsinr.lazy import RawArray
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

CUBE_KEY = "cube"
WAVELENGTHS_KEY = "wavelengths"
NAME_KEY = "name"
MAX_NAME_CHARS = 4096


@dataclass(frozen=True)
class ArrayHeader:
    """What a ``.npy`` header declares, where its data starts and how many bytes of data
    follow the header."""

    shape: tuple[int, ...]
    dtype: np.dtype
    data_bytes: int  # bytes available after the header
    offset: int = 0  # where the data starts
    fortran_order: bool = False


def read_header(stream: IO[bytes], size: int, where: str) -> ArrayHeader:
    """The header at the start of ``stream`` (``size`` bytes in all), nothing more read."""
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise InputError(f"{where}: .npy format version {version} is not supported")
    except ValueError as exc:
        raise InputError(f"{where}: not a valid .npy array ({exc})") from None
    offset = stream.tell()
    return ArrayHeader(tuple(shape), np.dtype(dtype), size - offset, offset, bool(fortran))


def _native(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def open_npy(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """A ``.npy`` file holding one (H, W, C) array, its values left in the file (read a
    window at a time, :class:`~hsinr.lazy.RawArray`)."""
    with open(path, "rb") as stream:
        header = read_header(stream, path.stat().st_size, path.name)
    if len(header.shape) != 3:
        raise InputError(
            f"{path.name}: expected a 3-D (rows, cols, bands) array, got "
            f"{len(header.shape)}-D with shape {header.shape}"
        )
    check_declared(header.shape, header.dtype, path.name, limits, available=header.data_bytes)
    order = ("bands", "cols", "rows") if header.fortran_order else ("rows", "cols", "bands")
    data = RawArray(path, header.offset, header.dtype, order, header.shape)
    return Cube(data, name=path.stem, source=f"{path.name} (NumPy .npy)")


def npy_writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
               wavelengths: np.ndarray | None = None,
               metadata: Metadata | None = None) -> RawWriter:  # fmt: skip
    """A ``.npy`` written block by block (the array alone: name, wavelengths and metadata
    are not kept; use ``.npz`` for them)."""
    dtype = np.dtype(dtype)

    def prepare(temps: list[Path]) -> int:
        header = {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": tuple(shape)}  # fmt: skip
        with open(temps[0], "wb") as stream:
            try:
                npy_format.write_array_header_1_0(stream, header)
            except ValueError:  # a header too long for version 1.0
                stream.seek(0)
                npy_format.write_array_header_2_0(stream, header)
            offset = stream.tell()
            stream.truncate(offset + int(np.prod(shape)) * dtype.itemsize)
        return offset

    return RawWriter([path], shape, dtype, dtype, ("rows", "cols", "bands"), prepare)


def _members(archive: zipfile.ZipFile, where: str) -> dict[str, ArrayHeader]:
    """Every ``.npy`` member's header, from the zip directory and each member's first bytes
    (a member's data is bounded by its declared uncompressed size)."""
    headers = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue
        with archive.open(info) as member:
            header = read_header(member, info.file_size, f"{where} member {info.filename}")
        headers[info.filename[: -len(".npy")]] = header
    return headers


def load_npz(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """Read the cube from a ``.npz`` archive: ``var``, else ``cube``, else the largest 3-D array."""
    where = path.name
    with zipfile.ZipFile(path) as archive:
        headers = _members(archive, where)
    shapes = {key: header.shape for key, header in headers.items()}
    numeric = {key for key, header in headers.items() if header.dtype.kind in "iuf"}
    if var is None and CUBE_KEY in numeric and len(shapes[CUBE_KEY]) == 3:
        var = CUBE_KEY
    key = pick_cube_variable(shapes, numeric, var, where=where)
    header = headers[key]
    if len(header.shape) != 3:
        raise InputError(f"{where}: variable '{key}' is {len(header.shape)}-D, not a 3-D cube")
    check_declared(header.shape, header.dtype, where, limits, available=header.data_bytes)
    bands = header.shape[2]
    small = {
        WAVELENGTHS_KEY: lambda h: h.dtype.kind in "iuf" and int(np.prod(h.shape)) == bands,
        NAME_KEY: lambda h: h.shape == () and h.dtype.kind in "US"
        and h.dtype.itemsize <= 4 * MAX_NAME_CHARS,
        metadata_json.KEY: lambda h: h.shape == () and h.dtype.kind in "US"
        and h.dtype.itemsize <= 4 * MAX_METADATA,
    }  # fmt: skip
    wanted = [key, *(n for n, fits in small.items() if n in headers and fits(headers[n]))]
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in wanted}
    data = _native(arrays[key])
    wavelengths = arrays[WAVELENGTHS_KEY].reshape(-1) if WAVELENGTHS_KEY in arrays else None
    name = str(arrays[NAME_KEY]) if NAME_KEY in arrays else path.stem
    source = f"{where} (NumPy .npz, '{key}')"
    metadata = Metadata()
    if metadata_json.KEY in arrays:
        text = str(arrays[metadata_json.KEY]).encode()
        wavelengths, metadata = metadata_json.read_text(text, bands, where)
    return Cube(data, name=name, wavelengths=wavelengths, source=source, metadata=metadata)


def npz_writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
               wavelengths: np.ndarray | None = None,
               metadata: Metadata | None = None) -> BufferedWriter:  # fmt: skip
    """A compressed archive of ``cube``, ``name`` and, when known, ``wavelengths``,
    ``fwhm`` and all the metadata as JSON text ``hsinr_metadata`` (written whole at the
    end: a zip member cannot be written out of order)."""

    def save(cube: Cube, temps: list[Path]) -> None:
        arrays = {CUBE_KEY: cube.data, NAME_KEY: np.array(cube.name)}
        if cube.wavelengths is not None:
            arrays[WAVELENGTHS_KEY] = cube.wavelengths
        if cube.metadata.fwhm is not None:
            arrays["fwhm"] = cube.metadata.fwhm
        text = metadata_json.text_of(cube.wavelengths, cube.metadata)
        if text is not None:
            arrays[metadata_json.KEY] = np.array(text.decode())
        with open(temps[0], "wb") as stream:
            np.savez_compressed(stream, **arrays)

    return BufferedWriter([path], shape, dtype, save, name, wavelengths, metadata)
