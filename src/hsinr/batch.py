"""Compressing many scenes: one task per scene, here or on a Dask cluster.

:func:`expand` turns what a user names (files, folders, glob patterns, list files) into
the scenes' paths; :func:`compress_batch` compresses each into ``out/NAME.hsinr`` with
one codec and its options, in this process or as one task per scene on a Dask cluster
(:mod:`hsinr.cluster`). Every finished scene is appended at once to ``out/batch.jsonl``
(its input, size and modification time, the options, the output's bytes and rate, or
its error); a re-run skips a scene whose output exists, is whole (every CRC checked),
and was recorded from the same input with the same options. A scene that fails is
recorded with its error and the others go on. Outputs are the bytes a serial
``hsinr compress`` writes: a codec's output does not depend on where or with how many
cores it ran.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hsinr import codecs, container, io, joblog
from hsinr.errors import HsinrError, InputError
from hsinr.io._atomic import atomic_outputs
from hsinr.progress import progress_bar

LOG_NAME = "batch.jsonl"
LIST_SUFFIXES = (".txt", ".list")


def expand(specs: Iterable[str]) -> list[Path]:
    """The cube files named by ``specs``: a file; a folder (the cube files in it, ENVI
    images by their headers); a glob pattern (``'*.hdr'``, quoted from the shell); or a
    list file (``.txt`` / ``.list``, or any file given as ``@FILE``: one path a line,
    relative to the list's folder, ``#`` comments). Each path once, in order."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec[1:] if spec.startswith("@") else spec)
        if spec.startswith("@") or (path.suffix.lower() in LIST_SUFFIXES and path.is_file()):
            found += _listed(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and _is_cube(p))
        elif any(char in spec for char in "*?["):
            matches = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
            if not matches:
                raise InputError(f"{spec}: no file matches")
            found += matches
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{spec}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InputError("no cube files among the inputs")
    return unique


def _is_cube(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in io.ENVI_DATA_SUFFIXES:  # an ENVI image counts once, by its header
        return False
    return any(suffix in f.load_suffixes for f in io.FORMATS)


def _listed(path: Path) -> list[Path]:
    if not path.is_file():
        raise InputError(f"{path}: no such list file")
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [path.parent / line for line in lines if line]


@dataclass(frozen=True)
class Task:
    """One scene to compress (plain data: it travels to a Dask worker)."""

    source: str
    output: str
    codec: str
    options: Mapping[str, Any]
    run: codecs.Run = field(default_factory=lambda: codecs.Run(progress=False))

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What an output was made from: its input's size and time, codec and options."""
        stat = os.stat(self.source)
        return {"input": self.source, "input_bytes": stat.st_size,
                "input_mtime_ns": stat.st_mtime_ns, "codec": self.codec,
                "options": dict(self.options)}  # fmt: skip


def compress_one(task: Task) -> dict[str, Any]:
    """Compress one scene (in a Dask worker or here); its log record."""
    record: dict[str, Any] = {**task.fingerprint, "output": task.output}
    try:
        cube = io.load(task.source, lazy=True, limits=task.run.limits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", codecs.BudgetWarning)  # recorded: within_budget
            encoding = codecs.get(task.codec).encode(cube, task.options, task.run)
        with atomic_outputs(Path(task.output)) as (temp,):
            temp.write_bytes(encoding.data)
    except HsinrError as exc:
        name = Path(task.source).name
        message = str(exc)
        return {**record, "error": message if message.startswith(name) else f"{name}: {message}"}
    except MemoryError:
        return {**record, "error": "not enough memory for this cube"}
    return {**record, "bytes": len(encoding.data), "bpppb": encoding.bpppb,
            "within_budget": encoding.within_budget, "psnr": encoding.psnr,
            "encode_s": encoding.seconds, "error": ""}  # fmt: skip


def read_log(out: Path) -> list[dict[str, Any]]:
    return joblog.read(out / LOG_NAME)


def _append(out: Path, record: Mapping[str, Any]) -> None:
    joblog.append(out / LOG_NAME, record)


def is_done(task: Task, log: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``task``'s output exists, is whole, and was made from this input with
    these options (the log says so)."""
    output = Path(task.output)
    if not output.is_file():
        return False
    fingerprint = task.fingerprint
    made = [row for row in log if row.get("output") == task.output and not row.get("error")
            and all(row.get(key) == value for key, value in fingerprint.items())]  # fmt: skip
    if not made or made[-1].get("bytes") != output.stat().st_size:
        return False
    try:
        frame = container.unpack(output.read_bytes())
        if frame.chunks is not None:
            frame.chunks.verify()
    except HsinrError:
        return False
    return True


def compress_batch(
    sources: Sequence[Path],
    out: Path,
    codec: str,
    options: Mapping[str, Any],
    *,
    run: codecs.Run | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    cluster: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Compress every source not yet done into ``out`` (see the module notes): on a Dask
    cluster (``scheduler``'s, or a local one of ``workers`` processes) unless ``cluster``
    is False. ``run`` says how each scene is coded; on a cluster each task has one core
    (``jobs`` 1: the cluster's parallelism is across scenes). Returns this run's records,
    one per source (skipped ones marked so)."""
    out.mkdir(parents=True, exist_ok=True)
    run = replace(run or codecs.Run(), progress=False, **({"jobs": 1} if cluster else {}))
    names = [Path(source).stem for source in sources]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"several inputs would be written to the same output: "
                         f"{', '.join(n + '.hsinr' for n in repeated)}")  # fmt: skip
    codecs.get(codec).options(options)  # checked before any work
    tasks = [Task(str(source), str(out / f"{name}.hsinr"), codec, dict(options), run)
             for source, name in zip(sources, names, strict=True)]  # fmt: skip
    log = read_log(out)
    records = [{"input": t.source, "output": t.output, "skipped": True, "error": ""}
               for t in tasks if is_done(t, log)]  # fmt: skip
    pending = [t for t in tasks if not is_done(t, log)]
    bar = progress_bar(total=len(tasks), desc="scenes", enabled=progress, leave=True)
    bar.update(len(records))
    for record in _results(pending, scheduler, workers, cluster):
        _append(out, record)
        records.append(record)
        bar.update()
    bar.close()
    return records


def _results(tasks: Sequence[Task], scheduler, workers, cluster: bool):
    if not tasks:
        return
    if not cluster:
        yield from (compress_one(task) for task in tasks)
        return
    from hsinr.cluster import completed, connect

    with connect(scheduler, workers) as client:
        for task, result in completed(client, compress_one, tasks):
            if isinstance(result, BaseException):  # a worker died, say
                result = {**task.fingerprint, "output": task.output,
                          "error": f"{type(result).__name__}: {result}"}  # fmt: skip
            yield result
