"""Write outputs so that an interrupted run leaves no half-written file behind.

Every output is written to a hidden temporary file beside it, ``.NAME.PID-TOKEN.partial
SUFFIX``, and renamed into place when complete:

* on any exception, Ctrl-C or (from the command line) SIGTERM, the temporary files are
  removed and the targets are left as they were;
* a process killed outright (SIGKILL, power loss) cannot clean up, so every later write
  of the same target first removes the partial files whose writer (the PID in the name)
  no longer runs;
* an output of several files (an ENVI header and its data) is committed index last: the
  old index (the header) is removed, the data renamed into place, then the new index.
  At every moment a header beside its data describes that data; an interruption in
  between leaves no header (the output is absent, never wrong).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"
UNOWNED_AGE = 3600  # seconds after which a partial file without a PID counts as stale


def partial_path(target: Path) -> Path:
    """A hidden temporary name beside ``target`` that names this process and keeps the
    target's suffix (scipy and spectral look at the suffix)."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.stem}.{token}{PARTIAL}{target.suffix}")


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def stale_partials(target: Path) -> list[Path]:
    """Partial files of ``target`` whose writer is gone (or, without a PID in the name,
    older than an hour)."""
    prefix, ending = f".{target.stem}.", f"{PARTIAL}{target.suffix}"
    stale = []
    if not target.parent.is_dir():
        return stale
    for candidate in target.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(ending)):
            continue
        token = name[len(prefix) : len(name) - len(ending)]
        pid, dash, tail = token.partition("-")
        if dash and pid.isdigit() and len(tail) == 8:
            if not _writer_alive(int(pid)):
                stale.append(candidate)
        elif len(token) == 8 and time.time() - candidate.stat().st_mtime > UNOWNED_AGE:
            stale.append(candidate)
    return stale


@contextmanager
def atomic_outputs(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary paths to write instead of ``targets``; rename them into place at the
    end, the last target last (see the module notes).

    If the block raises (or is interrupted), the temporary files are removed and the
    targets are left as they were.

    >>> from pathlib import Path
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_outputs(folder / "a.txt") as (tmp,):
    ...     _ = tmp.write_text("done")
    >>> (folder / "a.txt").read_text()
    'done'
    """
    targets = tuple(Path(target) for target in targets)
    for target in targets:
        for stale in stale_partials(target):
            stale.unlink(missing_ok=True)
    temps = [partial_path(target) for target in targets]
    try:
        yield temps
        *first, (last_temp, last_target) = zip(temps, targets, strict=True)
        if first:
            last_target.unlink(missing_ok=True)
        for temp, target in first:
            os.replace(temp, target)
        os.replace(last_temp, last_target)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
