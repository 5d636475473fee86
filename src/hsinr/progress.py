"""Progress of long steps: a tqdm bar on a terminal, plain lines in a log.

tqdm redraws its bar with carriage returns, which in a file or a CI log become one line
of tens of kilobytes. So :func:`progress_bar` gives a tqdm bar only when stderr is a
terminal; otherwise a :class:`LineProgress` that writes a whole line at most every
``LINE_INTERVAL`` seconds, and one at the end for a step that took longer than that.
Both take the few tqdm calls hsinr makes (iteration, ``update``, ``set_postfix``,
``set_postfix_str``, ``close``).

>>> import io
>>> log = io.StringIO()
>>> for _ in LineProgress(range(3), desc="fitting", stream=log, interval=0.0):
...     pass
>>> log.getvalue().splitlines()[-1]
'fitting: 3/3'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

LINE_INTERVAL = 30.0  # seconds between lines in a log


class LineProgress:
    """tqdm's face, writing a line every ``interval`` seconds (and at the end, if the
    step lasted that long)."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None,
                 desc: str = "", initial: int = 0, stream: IO[str] | None = None,
                 interval: float = LINE_INTERVAL) -> None:  # fmt: skip
        self.iterable = iterable
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.desc, self.n, self.postfix = desc, initial, ""
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self.started = self.last = time.monotonic()

    def __iter__(self) -> Iterator:
        for item in () if self.iterable is None else self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.interval:
            self._line()

    def write(self, text: str) -> None:
        """A message of its own line (as ``tqdm.write``)."""
        print(text, file=self.stream or sys.stderr)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.stream is not None and time.monotonic() - self.started >= self.interval:
            self._line()
        self.stream = None  # closed: nothing more is written

    def _line(self) -> None:
        if self.stream is None:
            return
        count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        extra = f" ({self.postfix})" if self.postfix else ""
        self.stream.write(f"{self.desc}: {count}{extra}\n")
        self.stream.flush()
        self.last = time.monotonic()


class _Silent(LineProgress):
    def _line(self) -> None:
        pass


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 enabled: bool = True, initial: int = 0, leave: bool = False):  # fmt: skip
    """A progress display for a step: tqdm on a terminal, :class:`LineProgress` in a log,
    nothing when not ``enabled``."""
    if not enabled:
        return _Silent(iterable, total=total, desc=desc, initial=initial)
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, initial=initial, leave=leave)
    return LineProgress(iterable, total=total, desc=desc, initial=initial)
