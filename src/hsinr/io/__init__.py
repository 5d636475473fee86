"""Reading and writing hyperspectral cubes; the format is chosen by the file's suffix.

=============  ==========================================  ===========================
suffix         format                                      notes
=============  ==========================================  ===========================
.mat           MATLAB v5 (scipy) or v7.3 (h5py)            ``var=`` names the cube
.npy / .npz    NumPy array / archive (never unpickled)     ``var=`` for ``.npz``
.hdr + data    ENVI bsq / bil / bip (spectral)             every header field kept
.tif / .tiff   multi-band TIFF / GeoTIFF (tifffile)        band axis first or last;
                                                           GeoTIFF tags with rasterio
.nc            NetCDF-4 / CF (h5py; written by h5netcdf)   ``var=`` names the cube
.he5           HDF-EOS5: PRISMA L1 / L2B / L2C / L2D       read only (see products)
=============  ==========================================  ===========================

EMIT (``.nc``), PRISMA (``.he5``) and EnMAP (``*-SPECTRAL_IMAGE.TIF`` beside its
``*-METADATA.XML``) products are recognised by their layout (:mod:`hsinr.io.products`).

>>> import hsinr
>>> cube = hsinr.io.load(hsinr.datasets.sample_path())
>>> cube.dtype
dtype('uint16')

Every writer goes through a temporary file renamed into place, so an interrupted save
leaves no partial output. Save-then-load gives back the same values, bit for bit.
"""

from __future__ import annotations

import importlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsinr._options import check_options
from hsinr.cube import Cube
from hsinr.errors import HsinrError, InputError, UnsupportedFormatError
from hsinr.io._writing import CubeWriter, write_cube
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata

ENVI_HEADER_SUFFIX = ".hdr"
ENVI_DATA_SUFFIXES = (".img", ".dat", ".raw", ".bsq", ".bil", ".bip")


@dataclass(frozen=True)
class FileFormat:
    """One file format: the suffixes it answers to, and the module (``hsinr.io.NAME``,
    imported when the format is first used) with its reader, writer and, for formats of
    several files, the function listing them."""

    name: str
    load_suffixes: tuple[str, ...]
    save_suffixes: tuple[str, ...]
    module: str
    reader: str = "load"  # returns a Cube, lazy where the format allows
    writer: str = "writer"  # returns a CubeWriter (hsinr.io._writing)
    takes_var: bool = False
    lister: str | None = None

    def _function(self, name: str) -> Callable:
        return getattr(importlib.import_module(f"hsinr.io.{self.module}"), name)

    @property
    def read(self) -> Callable[[Path, str | None, Limits], Cube]:
        return self._function(self.reader)

    @property
    def write(self) -> Callable[..., None]:
        return self._function(self.writer)

    @property
    def parts(self) -> Callable[[Path], list[Path]] | None:
        return None if self.lister is None else self._function(self.lister)


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("MATLAB", (".mat",), (".mat",), "mat", "open_mat", takes_var=True),
    FileFormat("NumPy .npy", (".npy",), (".npy",), "npy", "open_npy", "npy_writer"),
    FileFormat("NumPy .npz", (".npz",), (".npz",), "npy", "load_npz", "npz_writer",
               takes_var=True),
    FileFormat("ENVI", (ENVI_HEADER_SUFFIX, *ENVI_DATA_SUFFIXES), (ENVI_HEADER_SUFFIX,), "envi",
               "open_envi", lister="storage_paths"),
    FileFormat("TIFF", (".tif", ".tiff"), (".tif", ".tiff"), "tiff", "open_tiff"),
    FileFormat("NetCDF", (".nc",), (".nc",), "netcdf", "open_netcdf", takes_var=True),
    FileFormat("HDF-EOS5", (".he5",), (), "products", "open_he5", takes_var=True),
)


QUIET_LOGGERS = ("tifffile", "spectral", "h5py", "PIL")


def _suffixes(kind: str) -> str:
    return " ".join(sorted({s for f in FORMATS for s in getattr(f, f"{kind}_suffixes")}))


def format_for(path: str | os.PathLike[str], *, saving: bool = False) -> FileFormat:
    """The :class:`FileFormat` that reads (or, with ``saving``, writes) ``path``."""
    suffix = Path(path).suffix.lower()
    kind = "save" if saving else "load"
    for file_format in FORMATS:
        if suffix in getattr(file_format, f"{kind}_suffixes"):
            return file_format
    raise UnsupportedFormatError(
        f"{Path(path).name}: unknown file type {suffix or '(no suffix)'!r}; "
        f"hsinr can {'write' if saving else 'read'}: {_suffixes(kind)}"
    )


def load(
    path: str | os.PathLike[str],
    *,
    var: str | None = None,
    limits: Limits = DEFAULT,
    lazy: bool = False,
) -> Cube:
    """Read the hyperspectral cube in ``path``; ``var`` names it in a ``.mat`` / ``.npz``.

    With ``lazy``, the values of a ``.npy``, an ENVI image, a TIFF (contiguous, or in
    tiles or strips, compressed or not) or a 3-D MATLAB v7.3 variable stay in the file
    (``cube.lazy``; read a window at a time, see :mod:`hsinr.lazy`), so that a scene
    larger than memory can be coded in tiles; other files (``.npz``, MATLAB v5, a bands x
    pixels matrix, TIFFs with 3-D tiles or subsampled colour) are read whole either way.

    Raises :class:`hsinr.InputError` (with a one-line reason naming the file) for a
    missing or unreadable file, a file without a 3-D numeric cube, a cube with NaN / Inf
    values (for a lazy cube: when the window holding them is read), or one whose
    declared size is over ``limits`` or over what the file holds (checked before
    anything is allocated; see ``hsinr.io._checks``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    file_format = format_for(path)
    if var is not None and not file_format.takes_var:
        raise InputError(f"{path.name}: var= applies to .mat and .npz files only")
    try:
        with quiet_libraries():
            cube = file_format.read(path, var, limits)
            return cube if lazy else cube.loaded()
    except (HsinrError, MemoryError):
        raise
    except RecursionError as exc:
        reason = "too deeply nested"
        raise InputError(f"{path.name}: cannot read as {file_format.name}: {reason}") from exc
    except Exception as exc:  # a parser's failure on a bad file is the file's fault
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path.name}: cannot read as {file_format.name}: {reason}") from exc


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """No log lines or warnings from the parsing libraries reach the user while a file is
    read: what matters becomes the one-line error (or nothing, if the file is fine)."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def storage_paths(path: str | os.PathLike[str]) -> list[Path]:
    """Every file that holds the cube of ``path`` (an ENVI header and its data file, say)."""
    path = Path(path)
    parts = format_for(path).parts
    return parts(path) if parts is not None else [path]


def writer(
    path: str | os.PathLike[str],
    shape: tuple[int, int, int],
    dtype: np.dtype | type,
    *,
    name: str = "cube",
    wavelengths: np.ndarray | None = None,
    metadata: Metadata | None = None,
    **options: object,
) -> CubeWriter:
    """An output in the format of ``path``'s suffix, written a block of whole spectra at a
    time: ``w.write(rows, cols, values)`` for each block, then ``w.close()`` (or use it
    as a context manager). ``.npy``, ENVI, TIFF and MATLAB v7.3 are written in place as
    the blocks come (memory: one block); ``.npz`` and MATLAB v5 are gathered in memory and
    written at the end. ``wavelengths`` and ``metadata`` are written in the format's own
    way (ENVI header fields; a ``hsinr_metadata`` JSON in ``.npz``, ``.mat`` and the TIFF
    description; a ``.npy`` holds values only). ``options`` as for :func:`save`.
    """
    path = Path(path)
    file_format = format_for(path, saving=True)
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such folder to write {path.name} into")
    check_options(file_format.write, options, f"{file_format.name} output")
    return file_format.write(path, tuple(shape), np.dtype(dtype), name=name,
                             wavelengths=wavelengths, metadata=metadata, **options)  # fmt: skip


def save(cube: Cube, path: str | os.PathLike[str], **options: object) -> None:
    """Write ``cube`` to ``path`` in the format its suffix names (a lazy cube is read a
    block of rows at a time).

    ``options`` go to the format's writer: ``var=`` and ``version="5" | "7.3"`` for
    ``.mat``, ``interleave="bsq" | "bil" | "bip"`` for ENVI.
    """
    output = writer(path, cube.shape, cube.dtype, name=cube.name, wavelengths=cube.wavelengths,
                    metadata=cube.metadata, **options)  # fmt: skip
    write_cube(output, cube)


__all__ = ["FORMATS", "CubeWriter", "FileFormat", "format_for", "load", "save", "storage_paths",
           "writer"]
