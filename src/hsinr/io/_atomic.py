"""Write outputs so that an interrupted run leaves no half-written file behind."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def partial_path(target: Path) -> Path:
    """A hidden temporary name beside ``target`` that keeps its suffix.

    Libraries such as scipy (``.mat``) and spectral (``.hdr``) look at the suffix, so the
    temporary file must end like the real one.
    """
    token = secrets.token_hex(4)
    return target.with_name(f".{target.stem}.{token}.partial{target.suffix}")


@contextmanager
def atomic_outputs(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary paths to write instead of ``targets``; rename them into place at the end.

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
    temps = [partial_path(Path(target)) for target in targets]
    try:
        yield temps
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
