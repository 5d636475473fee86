"""What this machine offers a run: cores and memory.

>>> available_cores() >= 1
True
>>> physical_memory() > 0
True
"""

from __future__ import annotations

import os

MEMORY_SHARE = 0.75  # of physical memory, what a codec may hold by default


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def physical_memory() -> int:
    """Bytes of physical memory (a large number if the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 2**40


def default_memory() -> int:
    """The memory a codec may hold unless told otherwise: ``MEMORY_SHARE`` of physical."""
    return int(MEMORY_SHARE * physical_memory())


def gigabytes(count: int) -> str:
    """``count`` bytes as GB with two decimals, e.g. ``'1.93 GB'``."""
    return f"{count / 1e9:.2f} GB"
