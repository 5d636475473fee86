"""Cube values that stay in their file until a window of them is asked for.

A :class:`LazyArray` is what :func:`hsinr.io.open` gives a :class:`~hsinr.cube.Cube`
for formats whose values can be read a window at a time: the shape and dtype are known
(and were checked against the file and the limits when it was opened), and
:meth:`LazyArray.read` reads rows x cols x bands on demand. Nothing of the file is
mapped or cached between reads, so the memory a reader holds is the window it returns
and one read buffer, whatever the size of the file.

* :class:`RawArray`: values stored uncompressed at an offset of one file, in any order
  of the three axes (``.npy``, ENVI bsq / bil / bip, contiguous TIFF). A window is read
  with one read per index of the outermost stored axis it touches.
* :class:`HDF5Cube`: 3-D HDF5 datasets stored in any axis order (NetCDF-4, HDF-EOS5,
  several joined band by band), read by hyperslab; :class:`HDF5Array` the MATLAB v7.3
  layout of it (axes reversed).
* :class:`hsinr.io.tiff.SegmentedArray`: a TIFF in tiles or strips, compressed or not,
  read by decoding only the segments a window touches.

>>> import numpy as np, tempfile, os
>>> values = np.arange(2 * 3 * 4, dtype="<u2").reshape(2, 3, 4)
>>> path = os.path.join(tempfile.mkdtemp(), "cube.raw")
>>> values.transpose(2, 0, 1).tofile(path)  # band-sequential
>>> lazy = RawArray(path, 0, np.dtype("<u2"), ("bands", "rows", "cols"), (2, 3, 4))
>>> bool((lazy.read(range(1, 2), range(0, 3), range(2, 4)) == values[1:2, :, 2:4]).all())
True
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from hsinr.errors import InputError

AXES = ("rows", "cols", "bands")
BLOCK_BYTES = 64 * 2**20  # values read at once when a whole cube is streamed in blocks


def _as_range(part: slice | range | None, size: int) -> range:
    """``part`` as a range, not clipped to ``size`` (a window past the cube is refused)."""
    if part is None:
        return range(size)
    if isinstance(part, range):
        return part
    start = 0 if part.start is None else int(part.start)
    stop = size if part.stop is None else int(part.stop)
    return range(start, stop, 1 if part.step is None else int(part.step))


class LazyArray(ABC):
    """(rows, cols, bands) values in a file, read a window at a time (see module notes).

    Subclasses set ``shape``, ``dtype`` (the values' dtype in native byte order) and
    ``where`` (the file, for messages) and implement :meth:`_read`.
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    where: str

    @abstractmethod
    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        """The window as a (rows, cols, bands) array of ``dtype`` (ranges checked)."""

    @property
    def ndim(self) -> int:
        return 3

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def read(self, rows=None, cols=None, bands=None) -> np.ndarray:
        """The values of a window (slices or ranges, step 1; None: the whole axis).

        Floating-point values are checked to be finite: a NaN or Inf is an
        :class:`~hsinr.errors.InputError` naming the file and the window.
        """
        ranges = [_as_range(part, n) for part, n in zip((rows, cols, bands), self.shape,
                                                        strict=True)]  # fmt: skip
        for span, size, axis in zip(ranges, self.shape, AXES, strict=True):
            if span.step != 1 or not 0 <= span.start <= span.stop <= size:
                raise InputError(f"{self.where}: {axis} {span.start}:{span.stop} are not "
                                 f"within its {size} {axis}")  # fmt: skip
        values = self._read(*ranges)
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            nan = int(np.count_nonzero(np.isnan(values)))
            inf = int(np.count_nonzero(np.isinf(values)))
            raise InputError(
                f"{self.where}: the cube holds {nan} NaN and {inf} Inf values in rows "
                f"{ranges[0].start}:{ranges[0].stop}, columns {ranges[1].start}:"
                f"{ranges[1].stop}; replace them (e.g. by interpolation) before compressing"
            )
        return values

    def row_blocks(self, max_bytes: int = BLOCK_BYTES) -> Iterator[range]:
        """Ranges of whole rows, each at most about ``max_bytes`` of values."""
        rows, cols, bands = self.shape
        step = max(1, max_bytes // max(1, cols * bands * self.dtype.itemsize))
        for start in range(0, rows, step):
            yield range(start, min(rows, start + step))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self.read()
        return values if dtype is None else values.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where}, shape={self.shape}, dtype={self.dtype})"


class RawArray(LazyArray):
    """Values stored uncompressed from ``offset`` in ``path``: a C-order array whose axes
    are ``order`` (a permutation of ``("rows", "cols", "bands")``, outermost first) of the
    cube's ``shape``, each value of ``stored`` dtype (its byte order included)."""

    def __init__(
        self,
        path: str | Path,
        offset: int,
        stored: np.dtype,
        order: Sequence[str],
        shape: Sequence[int],
        where: str | None = None,
    ) -> None:
        if sorted(order) != sorted(AXES):
            raise ValueError(f"order {order} is not a permutation of {AXES}")
        self.path = Path(path)
        self.offset = int(offset)
        self.stored = np.dtype(stored)
        self.order = tuple(order)
        self.shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
        self.dtype = self.stored.newbyteorder("=")
        self.where = where or self.path.name
        self._axis = [AXES.index(name) for name in self.order]  # cube axis of each stored axis

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        wanted = [(rows, cols, bands)[axis] for axis in self._axis]
        sizes = [self.shape[axis] for axis in self._axis]
        outer, middle, inner = wanted
        item = self.stored.itemsize
        line = sizes[2] * item  # bytes of one stored innermost line
        out = np.empty([len(r) for r in wanted], dtype=self.stored)
        whole_lines = len(inner) == sizes[2]
        with open(self.path, "rb") as stream:
            if whole_lines and len(middle) == sizes[1]:
                # whole planes: consecutive outer indices are contiguous, read in blocks
                plane = sizes[1] * line
                per_read = max(1, BLOCK_BYTES // max(plane, 1))
                for first in range(0, len(outer), per_read):
                    count = min(per_read, len(outer) - first)
                    start = self.offset + (outer.start + first) * plane
                    self._read_into(stream, start, out[first : first + count])
                return self._arranged(out)
            buffer = np.empty((len(middle), sizes[2]), dtype=self.stored)
            for index, position in enumerate(outer):
                start = self.offset + (position * sizes[1] + middle.start) * line
                if whole_lines:
                    self._read_into(stream, start, out[index])
                else:
                    self._read_into(stream, start, buffer)
                    out[index] = buffer[:, inner.start : inner.stop]
        return self._arranged(out)

    def _read_into(self, stream, start: int, target: np.ndarray) -> None:
        stream.seek(start)
        view = memoryview(target.reshape(-1).view(np.uint8))
        done = 0
        while done < len(view):
            count = stream.readinto(view[done:])
            if not count:
                raise InputError(f"{self.where}: the file ends before its declared data")
            done += count

    def _arranged(self, stored: np.ndarray) -> np.ndarray:
        cube_order = [self._axis.index(axis) for axis in range(3)]
        return np.ascontiguousarray(stored.transpose(cube_order)).astype(self.dtype, copy=False)

    def __reduce__(self):
        return (RawArray, (self.path, self.offset, self.stored, self.order, self.shape,
                           self.where))  # fmt: skip


class HDF5Cube(LazyArray):
    """(rows, cols, bands) values from 3-D HDF5 datasets stored in any order of their axes,
    read a window at a time by hyperslab. ``parts`` are (dataset path, stored axis order)
    pairs; with more than one (a product's spectrometers), ``band_map`` gives each cube
    band's (part, band within it). The file is opened for each read (the reader checked
    its links, storage and filters)."""

    def __init__(self, path: str | Path, parts: Sequence[tuple[str, Sequence[str]]],
                 shape: Sequence[int], dtype: np.dtype, where: str | None = None,
                 band_map: np.ndarray | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        self.parts = tuple((str(name), tuple(order)) for name, order in parts)
        self.shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.where = where or self.path.name
        self.band_map = None if band_map is None else np.asarray(band_map, dtype=np.int64)

    def _slab(self, file, part: int, rows: range, cols: range,
              first: int, stop: int) -> np.ndarray:  # fmt: skip
        name, order = self.parts[part]
        wanted = {"rows": slice(rows.start, rows.stop), "cols": slice(cols.start, cols.stop),
                  "bands": slice(first, stop)}  # fmt: skip
        block = np.asarray(file[name][tuple(wanted[axis] for axis in order)])
        return block.transpose([order.index(axis) for axis in AXES])

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as file:
            if self.band_map is None:
                block = self._slab(file, 0, rows, cols, bands.start, bands.stop)
                return np.ascontiguousarray(block).astype(self.dtype, copy=False)
            out = np.empty((len(rows), len(cols), len(bands)), dtype=self.dtype)
            wanted = self.band_map[bands.start : bands.stop]
            for part in np.unique(wanted[:, 0]):
                positions = np.flatnonzero(wanted[:, 0] == part)
                inner = wanted[positions, 1]
                first = int(inner.min())
                block = self._slab(file, int(part), rows, cols, first, int(inner.max()) + 1)
                out[:, :, positions] = block[:, :, inner - first]
            return out

    def __reduce__(self):
        return (HDF5Cube, (self.path, self.parts, self.shape, self.dtype, self.where,
                           self.band_map))  # fmt: skip


class HDF5Array(HDF5Cube):
    """A 3-D dataset ``name`` of the HDF5 file ``path`` stored with its axes reversed
    (bands, cols, rows), as MATLAB v7.3 writes a (rows, cols, bands) array."""

    def __init__(self, path: str | Path, name: str, shape: Sequence[int], dtype: np.dtype,
                 where: str | None = None) -> None:  # fmt: skip
        super().__init__(path, [(name, ("bands", "cols", "rows"))], shape, dtype, where)
        self.name = name

    def __reduce__(self):
        return (HDF5Array, (self.path, self.name, self.shape, self.dtype, self.where))


__all__ = ["AXES", "HDF5Array", "HDF5Cube", "LazyArray", "RawArray"]
