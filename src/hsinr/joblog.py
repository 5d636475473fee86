"""Logs of finished jobs, one JSON record a line (``results.jsonl`` of ``hsinr bench``,
``batch.jsonl`` of ``hsinr compress-batch``): each record is appended and synced as soon
as its job ends, so an interrupted run loses nothing it finished, and a re-run reads what
was done (a torn last line from an interruption is skipped).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
>>> append(path, {"scene": "a", "psnr": 40.0})
>>> _ = path.open("a").write('{"scene": "b", "ps')  # torn by an interruption
>>> read(path)
[{'scene': 'a', 'psnr': 40.0}]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def read(path: Path) -> list[dict[str, Any]]:
    """Every whole record in ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def append(path: Path, record: Mapping[str, Any]) -> None:
    """``record`` as the last line of ``path``, on disk when this returns."""
    with open(path, "a") as stream:
        stream.write(json.dumps(record, default=str) + "\n")
        stream.flush()
        os.fsync(stream.fileno())
