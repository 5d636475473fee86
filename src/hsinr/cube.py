"""The hyperspectral cube: an (H, W, C) array and what is known about it.

>>> import numpy as np
>>> from hsinr import Cube
>>> cube = Cube(np.arange(24, dtype=np.uint16).reshape(2, 3, 4), name="toy")
>>> values, scale = cube.normalise()
>>> float(values.min()), float(values.max())
(0.0, 1.0)
>>> restored = Cube.denormalise(values, scale, dtype=cube.dtype)
>>> bool((restored.data == cube.data).all())
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from hsinr.errors import InputError
from hsinr.lazy import LazyArray
from hsinr.metadata import Metadata


@dataclass(frozen=True)
class Normalisation:
    """The global min / max map between a cube's units and [0, 1].

    ``apply`` maps ``minimum`` to 0 and ``maximum`` to 1; ``invert`` maps back and, for an
    integer dtype, rounds to the nearest integer and clips to that dtype's range. A
    constant cube (``minimum == maximum``) maps to all zeros and back to the constant.
    """

    minimum: float
    maximum: float

    @property
    def span(self) -> float:
        """``maximum - minimum``: the R of the PSNR definition."""
        return self.maximum - self.minimum

    @classmethod
    def of(cls, data: np.ndarray | LazyArray) -> Normalisation:
        """The normalisation of ``data`` by its own global min and max (a
        :class:`~hsinr.lazy.LazyArray` is read a block of rows at a time)."""
        if isinstance(data, LazyArray):
            lows, highs = [], []
            for rows in data.row_blocks():
                block = data.read(rows)
                lows.append(float(np.min(block)))
                highs.append(float(np.max(block)))
            return cls(min(lows), max(highs))
        return cls(float(np.min(data)), float(np.max(data)))

    def apply(self, data: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
        """Map ``data`` to [0, 1] (as ``dtype``, float32 by default)."""
        if self.span == 0:
            return np.zeros(np.shape(data), dtype=dtype)
        scaled = (np.asarray(data, dtype=np.float64) - self.minimum) / self.span
        return scaled.astype(dtype, copy=False)

    def invert(self, values: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Map normalised ``values`` back to the original units, as ``dtype``."""
        dtype = np.dtype(dtype)
        restored = np.asarray(values, dtype=np.float64) * self.span + self.minimum
        if np.issubdtype(dtype, np.integer):
            restored = np.clip(np.rint(restored), *integer_bounds(dtype))
        return restored.astype(dtype, copy=False)


def integer_bounds(dtype: np.dtype) -> tuple[float, float]:
    """The float64 values nearest an integer dtype's range from inside it (for 64-bit
    integers ``float(iinfo.max)`` rounds up past the range, and casting it is undefined)."""
    info = np.iinfo(dtype)
    low, high = float(info.min), float(info.max)
    if int(high) > info.max:
        high = float(np.nextafter(high, -np.inf))
    return low, high


def _numeric_kind(dtype: np.dtype) -> bool:
    return bool(np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating))


def check_cube_array(data: np.ndarray, where: str = "cube") -> None:
    """Raise :class:`InputError` unless ``data`` is a non-empty, finite, real (H, W, C) array.

    ``where`` names the array in the message, e.g. the file it came from.
    """
    if data.ndim != 3:
        raise InputError(
            f"{where}: expected a 3-D (rows, cols, bands) array, got {data.ndim}-D "
            f"with shape {tuple(data.shape)}"
        )
    if not _numeric_kind(data.dtype):
        raise InputError(
            f"{where}: the cube is not numeric (dtype {data.dtype}); "
            "expected integer or floating-point values"
        )
    if data.size == 0:
        raise InputError(f"{where}: the cube is empty (shape {tuple(data.shape)})")
    if np.issubdtype(data.dtype, np.floating):
        n_nan = int(np.count_nonzero(np.isnan(data)))
        n_inf = int(np.count_nonzero(np.isinf(data)))
        if n_nan or n_inf:
            raise InputError(
                f"{where}: the cube holds {n_nan} NaN and {n_inf} Inf values out of "
                f"{data.size}; replace them (e.g. by interpolation) before compressing"
            )


def _check_lazy(data: LazyArray, where: str) -> None:
    """The checks of :func:`check_cube_array` that need no values."""
    if len(data.shape) != 3 or min(data.shape) < 1:
        raise InputError(f"{where}: expected a non-empty 3-D cube, got shape {data.shape}")
    if not _numeric_kind(data.dtype):
        raise InputError(f"{where}: the cube is not numeric (dtype {data.dtype})")


@dataclass(frozen=True, eq=False)
class Cube:
    """A hyperspectral image: ``data`` of shape (rows, cols, bands) and its metadata.

    ``data`` keeps the dtype it was read with (the original dtype). It is an array in
    memory, or a :class:`~hsinr.lazy.LazyArray` (from :func:`hsinr.io.open`) whose
    values stay in the file: :meth:`read` gives a window of either, :meth:`loaded` the
    whole cube in memory. ``wavelengths``, when known, holds one centre wavelength per
    band in the file's own units; ``source`` says where the cube came from (for messages
    and ``hsinr info``); ``metadata`` everything else the file recorded (see
    :mod:`hsinr.metadata`); ``notes`` what the reader had to assume (a header without a
    byte order, say), shown to the user.
    """

    data: np.ndarray | LazyArray
    name: str = "cube"
    wavelengths: np.ndarray | None = None
    source: str | None = None
    metadata: Metadata = field(default_factory=Metadata)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = self.source or self.name
        if isinstance(self.data, LazyArray):
            _check_lazy(self.data, where)  # the values are checked as they are read
        else:
            data = np.asarray(self.data)
            check_cube_array(data, where)
            object.__setattr__(self, "data", data)
        if self.wavelengths is not None:
            wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
            if wavelengths.size != self.data.shape[2]:
                raise InputError(
                    f"{where}: {wavelengths.size} wavelengths given "
                    f"for {self.data.shape[2]} bands"
                )
            object.__setattr__(self, "wavelengths", wavelengths)
        self.metadata.check(self.data.shape[2], where)
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, cols, bands)."""
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def bands(self) -> int:
        return int(self.data.shape[2])

    @property
    def dtype(self) -> np.dtype:
        """The original dtype, restored on decoding."""
        return self.data.dtype

    @property
    def lazy(self) -> bool:
        """Whether the values stay in the file (read a window at a time)."""
        return isinstance(self.data, LazyArray)

    @property
    def nbytes(self) -> int:
        """Bytes of the values in the original dtype."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def read(self, rows=None, cols=None, bands=None) -> np.ndarray:
        """The values of a window (slices or ranges, step 1; None: the whole axis); a
        view for a cube in memory, read from the file for a lazy one."""
        if isinstance(self.data, LazyArray):
            return self.data.read(rows, cols, bands)
        pick = [slice(p.start, p.stop) if isinstance(p, range) else p if p is not None
                else slice(None) for p in (rows, cols, bands)]  # fmt: skip
        return self.data[pick[0], pick[1], pick[2]]

    def loaded(self) -> Cube:
        """This cube with its values in memory (read whole from the file if lazy)."""
        if not self.lazy:
            return self
        return dataclasses.replace(self, data=self.data.read())

    def replace(self, **changes: object) -> Cube:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def scale(self) -> Normalisation:
        """The global min / max map of the values (streamed for a lazy cube)."""
        return Normalisation.of(self.data)

    def normalise(self, dtype: np.dtype | type = np.float32) -> tuple[np.ndarray, Normalisation]:
        """The values mapped to [0, 1] by the global min / max, and that map (a lazy
        cube's values are read whole)."""
        data = self.loaded().data
        scale = Normalisation.of(data)
        return scale.apply(data, dtype), scale

    @classmethod
    def denormalise(
        cls,
        values: np.ndarray,
        scale: Normalisation,
        *,
        dtype: np.dtype | type = np.float64,
        name: str = "cube",
        wavelengths: np.ndarray | None = None,
    ) -> Cube:
        """A cube in original units and ``dtype`` from normalised ``values``."""
        return cls(scale.invert(values, dtype), name=name, wavelengths=wavelengths)

    def to_xarray(self):
        """This cube as an ``xarray.DataArray`` of dims (y, x, band), its metadata as
        coordinates and attributes (:func:`hsinr.xarray.to_xarray`; needs
        ``hsinr[xarray]``)."""
        from hsinr.xarray import to_xarray

        return to_xarray(self)

    @classmethod
    def from_xarray(cls, array) -> Cube:
        """A cube of an ``xarray.DataArray`` (:func:`hsinr.xarray.from_xarray`; dims in any
        order when named y / x / band or similar; a dask-backed array stays lazy)."""
        from hsinr.xarray import from_xarray

        return from_xarray(array)
