"""MATLAB ``.mat`` files: v5 (scipy) and v7.3 (HDF5, via h5py).

The cube is the variable named by ``var``, or else found automatically:

* the largest 3-D numeric array, read as (rows, cols, bands); or
* a 2-D bands x pixels matrix beside scalar ``nRow`` / ``nCol`` fields (the layout of the
  hyperspectral-unmixing scenes such as ``jasperRidge2_R198.mat``), whose pixels are in
  MATLAB's column-major order: pixel ``p`` is row ``p % nRow``, column ``p // nRow``.

v7.3 files store arrays with their axes reversed (HDF5 is row-major, MATLAB column-major);
they are transposed back on reading and writing. A variable named ``wavelength(s)`` with
one value per band becomes the cube's wavelengths; a uint8 vector ``hsinr_metadata`` (what
hsinr writes) holds the cube's metadata as JSON (:mod:`hsinr.io._metadata`).

Before anything is read, the declared shape of the chosen variable is checked against
the limits (``hsinr.io._checks``). A v7.3 file is read only from inside itself: HDF5
external or soft links, datasets with external storage, virtual datasets and datasets
whose filters are not HDF5's own (plugins, which HDF5 would load as code) are refused.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from hsinr.container import MAX_METADATA
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io import _metadata as metadata_json
from hsinr.io._checks import check_declared
from hsinr.io._mat5 import check_numeric, variable_layout
from hsinr.io._pick import pick_cube_variable
from hsinr.io._writing import BufferedWriter, CubeWriter
from hsinr.lazy import HDF5Array
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

WAVELENGTH_NAMES = ("wavelengths", "wavelength", "wavelengths_nm", "wavelength_nm")
NUMERIC_CLASSES = frozenset(
    {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
)
V5_MAX_BYTES = 2**31 - 1  # a v5 data element's size field; larger cubes need v7.3
HDF5_OWN_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                    6: "scaleoffset"}  # fmt: skip
_MATLAB_CLASS = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    **{np.dtype(t): np.dtype(t).name for t in (np.int8, np.uint8, np.int16, np.uint16)},
    **{np.dtype(t): np.dtype(t).name for t in (np.int32, np.uint32, np.int64, np.uint64)},
}
_DTYPE_OF = {name: dtype for dtype, name in _MATLAB_CLASS.items()}


class _V5Reader:
    """Lists and reads the variables of a v5 file without loading all of them."""

    version = "v5"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.layout = variable_layout(path)  # element framing checked before scipy reads
        listing = scipy.io.whosmat(path)
        self.shapes = {name: tuple(shape) for name, shape, _ in listing}
        self.numeric = {name for name, _, cls in listing if cls in NUMERIC_CLASSES}
        self.dtypes = {name: _DTYPE_OF[cls] for name, _, cls in listing if cls in NUMERIC_CLASSES}
        self.stored = {name: None for name in self.shapes}  # compressed: size not known

    def read(self, *names: str) -> dict[str, np.ndarray]:
        wanted = [name for name in names if name in self.shapes]
        check_numeric(self.layout, wanted, self.path.name)
        contents = scipy.io.loadmat(self.path, variable_names=wanted, squeeze_me=False)
        return {name: np.asarray(contents[name]) for name in wanted}


class _V73Reader:
    """Lists and reads the top-level datasets of a v7.3 (HDF5) file, axes put back; refuses
    a file with anything that would make HDF5 read outside it or load a plugin."""

    version = "v7.3"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.numeric: set[str] = set()
        self.dtypes: dict[str, np.dtype] = {}
        self.stored: dict[str, int | None] = {}
        with h5py.File(path, "r") as file:
            for name in file:  # link names only: nothing is opened or followed yet
                link = file.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    raise InputError(
                        f"{path.name}: '{name}' is an HDF5 external link to "
                        f"{link.filename}:{link.path}; hsinr reads only what is inside the file"
                    )
                if isinstance(link, h5py.SoftLink):
                    raise InputError(
                        f"{path.name}: '{name}' is an HDF5 soft link; hsinr reads only datasets "
                        "stored in the file"
                    )
                item = file[name]
                if not isinstance(item, h5py.Dataset):
                    continue
                _check_dataset(item, name, path.name)
                if name.startswith("#"):
                    continue
                self.shapes[name] = tuple(reversed(item.shape))
                self.dtypes[name] = item.dtype
                compressed = item.compression is not None or item.chunks is not None
                self.stored[name] = None if compressed else int(item.id.get_storage_size())
                matlab_class = item.attrs.get("MATLAB_class", b"")
                if isinstance(matlab_class, bytes):
                    matlab_class = matlab_class.decode("ascii", "replace")
                numeric_dtype = item.dtype.kind in "iuf"
                if numeric_dtype and (not matlab_class or matlab_class in NUMERIC_CLASSES):
                    self.numeric.add(name)

    def lazy(self, name: str) -> HDF5Array:
        return HDF5Array(self.path.resolve(), name, self.shapes[name], self.dtypes[name],
                         self.path.name)  # fmt: skip

    def read(self, *names: str) -> dict[str, np.ndarray]:
        with h5py.File(self.path, "r") as file:
            return {name: np.asarray(file[name][()]).T for name in names if name in self.shapes}


def _check_dataset(item: h5py.Dataset, name: str, where: str) -> None:
    """Refuse a dataset stored outside the file or filtered by a plugin."""
    if item.is_virtual:
        raise InputError(
            f"{where}: '{name}' is an HDF5 virtual dataset (its data lives in other files); "
            "hsinr reads only what is inside the file"
        )
    if item.external:
        raise InputError(
            f"{where}: '{name}' keeps its data in external file(s) "
            f"{', '.join(str(entry[0]) for entry in item.external[:2])}; hsinr reads only "
            "what is inside the file"
        )
    properties = item.id.get_create_plist()
    for index in range(properties.get_nfilters()):
        code = properties.get_filter(index)[0]
        if code not in HDF5_OWN_FILTERS:
            raise InputError(
                f"{where}: '{name}' needs HDF5 filter {code}, a plugin (HDF5 would load it "
                "as code); hsinr reads only HDF5's own filters: "
                + ", ".join(HDF5_OWN_FILTERS.values())
            )


def _small(reader, names: tuple[str, ...], size: int) -> dict[str, np.ndarray]:
    """The variables among ``names`` that are numeric and declare exactly ``size`` values
    (nothing else is read)."""
    wanted = [n for n in names if n in reader.numeric and int(np.prod(reader.shapes[n])) == size]
    return reader.read(*wanted) if wanted else {}


def _scalar(arrays: dict[str, np.ndarray], name: str) -> int | None:
    value = arrays.get(name)
    if value is None or value.size != 1:
        return None
    number = float(value.reshape(-1)[0])
    return int(number) if number.is_integer() and number > 0 else None


def _pixels_to_cube(matrix: np.ndarray, n_row: int, n_col: int, where: str) -> np.ndarray:
    """(bands, pixels) or (pixels, bands) in column-major pixel order -> (rows, cols, bands)."""
    n_pixels = n_row * n_col
    if matrix.shape[1] != n_pixels:
        matrix = matrix.T
    if matrix.shape[1] != n_pixels:
        raise InputError(f"{where}: no axis of length nRow x nCol = {n_pixels}")
    bands = matrix.shape[0]
    return np.ascontiguousarray(matrix.reshape(bands, n_col, n_row).transpose(2, 1, 0))


def open_mat(path: Path, var: str | None = None, limits: Limits = DEFAULT) -> Cube:
    """The cube of a ``.mat`` file (v5 or v7.3). A v7.3 3-D variable stays in the file
    (read a window at a time, :class:`~hsinr.lazy.HDF5Array`); a v5 file and a bands x
    pixels matrix are read whole."""
    reader = _V73Reader(path) if h5py.is_hdf5(path) else _V5Reader(path)
    where = path.name
    sizes = _small(reader, ("nRow", "nCol"), 1)
    n_row, n_col = _scalar(sizes, "nRow"), _scalar(sizes, "nCol")
    pixel_count = n_row * n_col if n_row and n_col else None
    key = pick_cube_variable(reader.shapes, reader.numeric, var, where, pixel_count=pixel_count)
    shape = reader.shapes[key]
    stored = reader.stored[key]
    if len(shape) == 3:
        check_declared(shape, reader.dtypes[key], where, limits, available=stored)
        data = reader.lazy(key) if reader.version == "v7.3" else reader.read(key)[key]
    elif len(shape) == 2 and pixel_count and pixel_count in shape:
        bands = shape[0] if shape[1] == pixel_count else shape[1]
        check_declared((n_row, n_col, bands), reader.dtypes[key], where, limits, available=stored)
        data = _pixels_to_cube(reader.read(key)[key], n_row, n_col, where)  # type: ignore[arg-type]
    else:
        raise InputError(
            f"{where}: variable '{key}' has shape {shape}; expected a 3-D cube or a "
            "bands x pixels matrix with nRow / nCol"
        )
    wavelengths = None
    for values in _small(reader, WAVELENGTH_NAMES, data.shape[2]).values():
        wavelengths = values.reshape(-1)
        break
    metadata = Metadata()
    stored_json = _metadata_variable(reader)
    if stored_json is not None:
        wavelengths, metadata = metadata_json.read_text(stored_json, data.shape[2], where)
    return Cube(
        data,
        name=path.stem,
        wavelengths=wavelengths,
        source=f"{path.name} (MATLAB {reader.version}, variable '{key}')",
        metadata=metadata,
    )


def _metadata_variable(reader) -> bytes | None:
    """The ``hsinr_metadata`` uint8 vector's bytes, if the file has one of a sane size."""
    key = metadata_json.KEY
    if key not in reader.numeric or reader.dtypes[key] != np.uint8:
        return None
    if int(np.prod(reader.shapes[key])) > MAX_METADATA:
        return None
    return reader.read(key)[key].reshape(-1).tobytes()


def _extras(wavelengths: np.ndarray | None, metadata: Metadata | None) -> dict[str, np.ndarray]:
    """The variables beside the cube: wavelengths, fwhm and the metadata's JSON as uint8
    (in MATLAB: ``jsondecode(char(hsinr_metadata'))``)."""
    out = {}
    if wavelengths is not None:
        out["wavelengths"] = np.asarray(wavelengths, np.float64).reshape(-1, 1)
    if metadata is not None and metadata.fwhm is not None:
        out["fwhm"] = metadata.fwhm.reshape(-1, 1)
    text = metadata_json.text_of(wavelengths, metadata)
    if text is not None:
        out[metadata_json.KEY] = np.frombuffer(text, np.uint8).reshape(-1, 1)
    return out


def writer(path: Path, shape: tuple[int, int, int], dtype: np.dtype, *, name: str = "cube",
           wavelengths: np.ndarray | None = None, metadata: Metadata | None = None,
           var: str = "cube", version: str | None = None) -> CubeWriter:  # fmt: skip
    """The cube as variable ``var`` (and ``wavelengths``, ``fwhm`` and the metadata as
    ``hsinr_metadata`` JSON when known).

    ``version`` is ``"5"`` or ``"7.3"``; by default v5, or v7.3 when the cube is too large
    for v5 (over 2 GiB). A v7.3 file is written block by block; a v5 file whole at the end.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if version is None:
        version = "7.3" if nbytes > V5_MAX_BYTES else "5"
    if dtype not in _MATLAB_CLASS:
        raise InputError(f"MATLAB files cannot hold dtype {dtype}")
    if version == "7.3":
        return _V73Writer(path, shape, dtype, var, _extras(wavelengths, metadata))
    if version != "5":
        raise InputError(f"unknown MATLAB file version {version!r}; use '5' or '7.3'")
    if nbytes > V5_MAX_BYTES:
        raise InputError("the cube is over 2 GiB: MATLAB v5 cannot hold it; use v7.3")

    def save(cube: Cube, temps: list[Path]) -> None:
        variables = {var: cube.data, **_extras(cube.wavelengths, cube.metadata)}
        scipy.io.savemat(temps[0], variables, do_compression=True, oned_as="column")

    return BufferedWriter([path], shape, dtype, save, name, wavelengths, metadata)


class _V73Writer(CubeWriter):
    """An HDF5 file laid out as MATLAB writes ``save -v7.3`` (512-byte header, axes
    reversed), the cube written a block at a time by hyperslab."""

    def __init__(self, path: Path, shape, dtype: np.dtype, var: str,
                 extras: dict[str, np.ndarray]) -> None:  # fmt: skip
        super().__init__([path], shape, dtype)
        self._file = self._stack.enter_context(h5py.File(self.temps[0], "w", userblock_size=512))
        rows, cols, bands = self.shape
        self._dataset = self._file.create_dataset(var, shape=(bands, cols, rows), dtype=dtype)
        self._dataset.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASS[dtype])
        for name, column in extras.items():
            stored = self._file.create_dataset(name, data=np.ascontiguousarray(column.T))
            stored.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASS[column.dtype])

    def _write(self, rows: range, cols: range, values: np.ndarray) -> None:
        self._dataset[:, cols.start : cols.stop, rows.start : rows.stop] = values.T

    def _finish(self) -> None:
        self._file.close()
        created = datetime.datetime.now(datetime.UTC).strftime("%a %b %d %H:%M:%S %Y")
        text = f"MATLAB 7.3 MAT-file, Platform: hsinr, Created on: {created} HDF5 schema 1.00 ."
        header = text.encode("ascii").ljust(116, b" ") + b" " * 8 + b"\x00\x02IM"
        with open(self.temps[0], "r+b") as stream:
            stream.write(header)
