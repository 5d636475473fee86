"""Independent jobs (the scenes of a batch, the jobs of a benchmark) on a Dask cluster.

:func:`connect` gives a ``dask.distributed`` client: to the scheduler at ``address``, or
to a :class:`~distributed.LocalCluster` of ``workers`` single-threaded processes on this
machine. :func:`completed` submits one task per item and yields each (item, result) as it
finishes; a task that raises yields its exception as the result, so one failure never
stops the others. Functions and items travel by pickle, so they are module-level
functions and plain data; on a remote cluster every worker needs hsinr installed (and
the files it reads at the same paths).

Dask is an optional dependency: ``pip install 'hsinr[distributed]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hsinr.errors import InputError
from hsinr.resources import available_cores

INSTALL = "pip install 'hsinr[distributed]'"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError(f"running on a Dask cluster needs dask.distributed: {INSTALL}") from None
    return distributed


@contextmanager
def connect(address: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A client of the cluster at ``address``, or of a local cluster of ``workers``
    processes (default: one per core), closed afterwards."""
    distributed = _distributed()
    if address:
        try:
            client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with client:
            yield client
        return
    with distributed.LocalCluster(
        n_workers=workers or available_cores(), threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.ERROR,
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        yield client


def completed(client, function: Callable[[Any], Any], items: Sequence[Any],
              ) -> Iterator[tuple[Any, Any]]:  # fmt: skip
    """(item, result) for each item as its task finishes; a failed task's result is the
    exception it raised."""
    distributed = _distributed()
    futures = {client.submit(function, item, pure=False): item for item in items}
    for future in distributed.as_completed(futures):
        item = futures[future]
        try:
            yield item, future.result()
        except Exception as exc:  # the task's failure, reported with its item
            yield item, exc
