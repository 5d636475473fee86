"""Rate control by bisection on a codec's quality / rate parameter.

The codec gives ``encode_at(p) -> T`` and ``size_of(T) -> int`` whose size grows with
``p``. :func:`bisect` returns the encoding with the largest size not over the target; when
even the lowest ``p`` is over it, the smallest encoding found (the lowest reachable rate),
so that the caller writes what was achieved, never a rate that was not.

>>> sizes = lambda p: int(100 * p)
>>> found = bisect(lambda p: p, sizes, 0.0, 10.0, target=555)
>>> found.size, found.within
(554, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def budget_bytes(bpppb: float, shape: Sequence[int]) -> float:
    """The bytes a file of a cube of ``shape`` may take at ``bpppb`` (every byte counts).

    >>> budget_bytes(0.1, (100, 100, 198))
    24750.0
    """
    return bpppb * float(math.prod(shape)) / 8


@dataclass
class Found(Generic[T]):
    """An encoding, its size, and the parameter that made it."""

    value: T
    size: int
    parameter: float
    within: bool  # True when size <= target


def bisect(
    encode_at: Callable[[float], T],
    size_of: Callable[[T], int],
    low: float,
    high: float,
    target: float,
    *,
    integer: bool = False,
    steps: int = 30,
    tolerance: float = 0.002,
) -> Found[T]:
    """Search ``[low, high]`` for the largest encoding not over ``target`` bytes.

    With ``integer`` the parameter takes whole values only. Stops after ``steps``
    encodings or once within ``tolerance`` (relative) below the target.
    """

    def attempt(p: float) -> Found[T]:
        value = encode_at(p)
        size = size_of(value)
        return Found(value, size, p, size <= target)

    smallest = attempt(low)
    if not smallest.within:
        return smallest
    best = smallest
    largest = attempt(high)
    if largest.within:
        return largest
    lo, hi = low, high
    for _ in range(steps):
        if integer:
            if hi - lo <= 1:
                break
            middle = float((int(lo) + int(hi)) // 2)
        else:
            middle = (lo + hi) / 2
        found = attempt(middle)
        if found.within:
            lo = middle
            if found.size > best.size:
                best = found
            if best.size >= target * (1 - tolerance):
                break
        else:
            hi = middle
    return best
