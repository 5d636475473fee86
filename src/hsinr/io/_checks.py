"""The one input-safety rule every reader follows (README, "Reading and writing cubes").

Before any array is allocated, a reader knows the declared shape and dtype of what it is
about to read and checks them with :func:`check_declared`: a numeric dtype, a plausible
shape, no more values than the limits allow, and, where the data is stored uncompressed,
no more bytes than the file really holds (a lying header cannot make hsinr allocate
what is not there). A reader also never follows a file to somewhere else on the machine:
a file it finds beside the one it was given (an ENVI header's data file) must lie in the
same folder (:func:`companion`), and formats that can point outside themselves (HDF5
external storage and links, TIFF multi-file series) are refused or read without following.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsinr.errors import InputError
from hsinr.limits import Limits

NUMERIC_KINDS = "iuf"


def check_declared(
    shape: Sequence[int],
    dtype: np.dtype,
    where: str,
    limits: Limits,
    *,
    available: int | None = None,
    what: str = "the cube",
) -> None:
    """Refuse, before reading, an array of ``shape`` and ``dtype`` that is not numeric, is
    empty, is over the limits, or (``available`` bytes stored uncompressed) is larger
    than the file holds. ``shape`` is (rows, cols, bands) for a cube; for another
    array (a matrix to be reshaped) only its size is checked against the limits."""
    dtype = np.dtype(dtype)
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
        raise InputError(
            f"{where}: {what} is not numeric (dtype {dtype}); expected integer or "
            "floating-point values"
        )
    shape = tuple(int(n) for n in shape)
    count = math.prod(shape)
    if count == 0:
        raise InputError(f"{where}: {what} is empty (shape {shape})")
    if len(shape) == 3:
        limits.check_shape(shape, where)
    else:
        limits.check_count(count, f"{where}: {what} holds {' x '.join(map(str, shape))} values")
    if available is not None and count * dtype.itemsize > available:
        raise InputError(
            f"{where}: its header declares {' x '.join(map(str, shape))} {dtype.name} values "
            f"({count * dtype.itemsize:,} bytes) but the file holds only {max(available, 0):,}"
        )


def companion(found: Path, given: Path) -> Path:
    """``found``, a file hsinr located beside the file it was ``given``, after checking
    that it is a regular file in the same folder as that file (a symbolic link is
    followed only within the folder), so that a crafted data set cannot make hsinr read
    a file elsewhere on the machine."""
    folder = given.resolve().parent
    target = found.resolve()
    if target.parent != folder:
        raise InputError(
            f"{given.name}: its companion {found.name} leads to {target}, outside the "
            f"folder of {given.name}; hsinr does not follow files elsewhere (copy it beside)"
        )
    if not target.is_file():
        raise InputError(f"{given.name}: its companion {found.name} is not a file")
    return found
