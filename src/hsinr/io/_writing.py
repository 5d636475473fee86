"""Writing a cube a piece at a time, so that a decoder streaming tiles never holds the
whole cube (``hsinr decompress`` of a large file).

:class:`CubeWriter` is what every format's ``writer(...)`` returns: ``write(rows, cols,
values)`` puts a block of whole spectra in place, ``close()`` commits the output (a
temporary file renamed into place, :mod:`hsinr.io._atomic`); used as a context manager,
an exception discards it. :class:`RawWriter` writes blocks straight into values stored
uncompressed at an offset of a file (``.npy``, ENVI, contiguous TIFF), one ``pwrite``
per contiguous run; :class:`BufferedWriter` gathers the blocks in memory for formats
that can only be written whole (``.npz``, MATLAB v5) and writes them at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from hsinr.cube import Cube
from hsinr.io._atomic import atomic_outputs
from hsinr.lazy import AXES
from hsinr.metadata import Metadata


class CubeWriter:
    """An output being written block by block (see the module notes). Subclasses
    implement :meth:`_write` and may add to :meth:`_finish`."""

    def __init__(self, targets: Sequence[Path], shape: tuple[int, int, int],
                 dtype: np.dtype) -> None:  # fmt: skip
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self._stack = ExitStack()
        self.temps: list[Path] = self._stack.enter_context(atomic_outputs(*targets))

    def write(self, rows: range, cols: range, values: np.ndarray) -> None:
        """Put ``values`` (rows, cols, bands) at ``rows`` x ``cols``."""
        values = np.asarray(values)
        if values.shape != (len(rows), len(cols), self.shape[2]):
            raise ValueError(f"a block of shape {values.shape} for rows {rows} x cols {cols}")
        self._write(rows, cols, values.astype(self.dtype, copy=False))

    def _write(self, rows: range, cols: range, values: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Complete the temporary files before they are renamed into place."""

    def close(self) -> None:
        try:
            self._finish()
        except BaseException:
            self.discard()
            raise
        self._stack.close()

    def discard(self) -> None:
        """Remove what was written; the target is left as it was."""
        self._stack.__exit__(RuntimeError, RuntimeError("discarded"), None)

    def __enter__(self) -> CubeWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        else:
            self._stack.__exit__(kind, error, trace)


class RawWriter(CubeWriter):
    """Writes into values stored uncompressed from ``offset`` in the temporary file
    ``temps[index]``, a C-order array whose axes are ``order`` (outermost first) of the
    cube's ``shape``, each value of ``stored`` dtype. ``prepare(temp)`` creates the file
    (its header and its full size) before any block is written."""

    def __init__(self, targets: Sequence[Path], shape: tuple[int, int, int], dtype: np.dtype,
                 stored: np.dtype, order: Sequence[str],
                 prepare: Callable[[list[Path]], int], index: int = 0) -> None:  # fmt: skip
        super().__init__(targets, shape, dtype)
        self.stored = np.dtype(stored)
        self.order = tuple(order)
        self._axis = [AXES.index(name) for name in self.order]
        self.offset = prepare(self.temps)
        self._handle = self._stack.enter_context(open(self.temps[index], "r+b"))

    def _write(self, rows: range, cols: range, values: np.ndarray) -> None:
        ranges = (rows, cols, range(self.shape[2]))
        stored = np.ascontiguousarray(values.transpose(self._axis)).astype(self.stored, copy=False)
        sizes = [self.shape[axis] for axis in self._axis]
        outer, middle, inner = (ranges[axis] for axis in self._axis)
        item = self.stored.itemsize
        descriptor = self._handle.fileno()
        whole_inner = len(inner) == sizes[2]
        for i, position in enumerate(outer):
            if whole_inner:  # a run of whole inner lines: contiguous
                start = ((position * sizes[1] + middle.start) * sizes[2]) * item
                _write_all(descriptor, stored[i].tobytes(), self.offset + start)
                continue
            for j, line in enumerate(middle):
                start = ((position * sizes[1] + line) * sizes[2] + inner.start) * item
                _write_all(descriptor, stored[i, j].tobytes(), self.offset + start)


def _write_all(descriptor: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        view, offset = view[written:], offset + written


class BufferedWriter(CubeWriter):
    """Gathers the blocks in memory and hands the whole cube to ``save(cube, temps)``."""

    def __init__(self, targets: Sequence[Path], shape: tuple[int, int, int], dtype: np.dtype,
                 save: Callable[[Cube, list[Path]], None], name: str = "cube",
                 wavelengths: np.ndarray | None = None,
                 metadata: Metadata | None = None) -> None:  # fmt: skip
        super().__init__(targets, shape, dtype)
        self._values = np.empty(self.shape, dtype=self.dtype)
        self._save, self._name, self._wavelengths = save, name, wavelengths
        self._metadata = Metadata() if metadata is None else metadata

    def _write(self, rows: range, cols: range, values: np.ndarray) -> None:
        self._values[rows.start : rows.stop, cols.start : cols.stop] = values

    def _finish(self) -> None:
        self._save(Cube(self._values, name=self._name, wavelengths=self._wavelengths,
                        metadata=self._metadata), self.temps)  # fmt: skip


def write_cube(writer: CubeWriter, cube: Cube) -> None:
    """Write all of ``cube`` (a lazy one a block of rows at a time) and commit."""
    with writer:
        if cube.lazy:
            for rows in cube.data.row_blocks():
                writer.write(rows, range(cube.width), cube.read(rows))
        else:
            writer.write(range(cube.height), range(cube.width), cube.data)
