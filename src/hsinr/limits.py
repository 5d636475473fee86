"""Limits on what reading a file may make hsinr do: the one rule every decoder and reader
follows before it allocates or loops.

A compressed file or an input cube states its own size, and a small file can state a huge
one (a 200-byte file whose header claims four billion values, an entropy-coded payload
that "holds" any number of near-free symbols). So before any work, a decoder or reader
counts what the file asks for and checks it against a :class:`Limits`:

* ``max_values``: values of the output cube (rows x cols x bands), and of every other
  array the work needs in proportion (symbols to entropy-decode, padded transform blocks);
* ``max_bands``: bands of a cube (more usually means a mis-detected band axis);
* work: a decoder whose cost per value depends on the file (a network's multiply-adds
  per pixel in ``siren`` and ``meta``, the row steps of ``latent``'s context decoder,
  each counted as ``ROW_STEP_OPERATIONS``) may spend at most ``WORK_PER_VALUE``
  operations per value the limit allows, so a tiny file cannot ask for days of work.

Past a limit the answer is a one-line :class:`LimitError` that says how to raise it
(``--max-values`` on the command line, ``Limits(max_values=...)`` in Python), like
Pillow's ``MAX_IMAGE_PIXELS``. Work and memory after the checks are linear in what the
limits allow (docs/FORMAT.md, "Decoding safety").

>>> limits = Limits(max_values=1000)
>>> limits.check_shape((10, 10, 10), "toy.hsinr")
>>> limits.check_shape((10, 10, 11), "toy.hsinr")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hsinr.limits.LimitError: toy.hsinr asks for a 10 x 10 x 11 cube (1,100 values), over the ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hsinr.errors import InputError

DEFAULT_MAX_VALUES = 2**30
DEFAULT_MAX_BANDS = 16384
WORK_PER_VALUE = 4096  # operations allowed per value of max_values
ROW_STEP_OPERATIONS = 2**16  # one step of a sequential decoder (about 30 us here)


class LimitError(InputError):
    """A file that asks for more than the limits allow (raise them if it is genuine)."""


def _plain(shape: Sequence[int]) -> str:
    return " x ".join(str(int(n)) for n in shape)


@dataclass(frozen=True)
class Limits:
    """How much a file may make hsinr allocate and compute (see the module notes)."""

    max_values: int = DEFAULT_MAX_VALUES
    max_bands: int = DEFAULT_MAX_BANDS

    def __post_init__(self) -> None:
        for name in ("max_values", "max_bands"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, not {value!r}")

    @property
    def max_work(self) -> int:
        """Operations a decoder may spend (see the module notes)."""
        return self.max_values * WORK_PER_VALUE

    def _raise(self, what: str) -> None:
        raise LimitError(f"{what}; raise it with --max-values (Python: Limits(max_values=...))")

    def check_shape(self, shape: Sequence[int], where: str) -> None:
        """Refuse a cube shape with a zero, too many bands or too many values."""
        if len(shape) != 3 or min(shape) < 1:
            raise InputError(f"{where}: shape {tuple(shape)} is not a (rows, cols, bands) cube")
        if shape[2] > self.max_bands:
            raise LimitError(
                f"{where} has {shape[2]:,} bands, over the limit of {self.max_bands:,} (usually "
                "a wrongly detected band axis); raise it with --max-bands if they are real"
            )
        values = math.prod(int(n) for n in shape)
        if values > self.max_values:
            self._raise(
                f"{where} asks for a {_plain(shape)} cube ({values:,} values), over the limit "
                f"of {self.max_values:,} values"
            )

    def check_count(self, count: int, what: str) -> None:
        """Refuse ``count`` items of work (symbols, coefficients) over ``max_values``."""
        if count > self.max_values:
            self._raise(f"{what}: {count:,}, over the limit of {self.max_values:,}")

    def check_work(self, operations: int, what: str) -> None:
        """Refuse work of more than :attr:`max_work` operations (``what`` says which)."""
        if operations > self.max_work:
            self._raise(
                f"{what} needs {operations:.3g} operations, over the limit of "
                f"{self.max_work:.3g} ({WORK_PER_VALUE} per value of --max-values)"
            )


DEFAULT = Limits()

__all__ = ["DEFAULT", "ROW_STEP_OPERATIONS", "WORK_PER_VALUE", "LimitError", "Limits"]
