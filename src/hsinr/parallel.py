"""Independent pieces of work (tiles, scenes) on several cores, in worker processes.

:func:`map_in_processes` runs ``function`` on each item in up to ``jobs`` processes and
yields the results in the items' order; with one job (or one item) it runs in this
process. Workers start from a fork server where the platform has one (else they are
spawned) and each keeps to one BLAS thread, so that ``jobs`` processes use ``jobs``
cores. The function and the items must pickle (module-level functions, plain data).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}  # fmt: skip


@contextmanager
def _environment(values: dict[str, str]):
    """``values`` in the environment for the duration (a user's own setting wins)."""
    added = [name for name in values if name not in os.environ]
    os.environ.update({name: values[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def map_in_processes(function: Callable[[Any], Any], items: Iterable[Any], jobs: int,
                     ) -> Iterator[Any]:  # fmt: skip
    """``function(item)`` for each item, in order, computed in up to ``jobs`` processes."""
    items = list(items)
    if jobs <= 1 or len(items) < 2:
        yield from (function(item) for item in items)
        return
    workers = min(jobs, len(items))
    with _environment(ONE_THREAD), ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        pending: deque = deque()
        upcoming = iter(items)
        try:
            for item in upcoming:  # at most two items per worker in flight
                pending.append(pool.submit(function, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
