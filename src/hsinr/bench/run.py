"""Running every codec on every scene at every rate, one job at a time, never losing a result.

Each finished job is appended at once to ``results.jsonl`` in the output folder (one JSON
object a line, flushed to disk). A re-run reads it first and skips the jobs already done
without error, so an interrupted benchmark resumes where it stopped. A job that fails is
recorded with its error and the others go on.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from hsinr import codecs, datasets, joblog, metrics
from hsinr.codecs import BudgetWarning, Run
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.progress import progress_bar

LOG_NAME = "results.jsonl"


@dataclass(frozen=True)
class Job:
    scene: str
    codec: str
    target_bpppb: float
    options: tuple[tuple[str, object], ...] = ()

    @property
    def key(self) -> str:
        return json.dumps([self.scene, self.codec, self.target_bpppb, list(self.options)])


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on."""
    from PIL import features

    versions = {"python": platform.python_version()}
    for package in ("hsinr", "numpy", "scipy", "torch", "pillow", "constriction"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    versions["openjpeg"] = str(features.version("jpg_2000"))
    versions["libjpeg"] = str(features.version("jpg"))
    return versions


def _threads() -> int | None:
    """torch's thread count when a torch codec ran (else None: numpy's own threading)."""
    if "torch" not in sys.modules:
        return None
    import torch

    return torch.get_num_threads()


def environment(device: str) -> dict[str, object]:
    """Where the numbers were measured."""
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "device": device,
        "threads": _threads(),
        "versions": library_versions(),
    }


def read_log(folder: Path) -> list[dict[str, object]]:
    """Every result recorded so far (a torn last line from an interruption is skipped)."""
    return joblog.read(folder / LOG_NAME)


def _append(folder: Path, row: Mapping[str, object]) -> None:
    joblog.append(folder / LOG_NAME, row)


def parse_spec(spec: str) -> tuple[str, dict[str, object]]:
    """A codec, optionally a variant of it: ``"siren:bits=8,precision=16"`` ->
    ``("siren", {"bits": 8, "precision": 16})``, each value parsed by the codec's option
    type (an unknown codec, option or value is refused here, before any work).

    >>> parse_spec("siren:bits=auto,iterations=500")
    ('siren', {'bits': 'auto', 'iterations': 500})
    """
    name, _, rest = spec.partition(":")
    texts: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, equals, text = item.partition("=")
        if not (key and equals):
            raise InputError(f"codec variant {spec!r}: {item!r} is not KEY=VALUE")
        texts[key] = text
    return name, typed_options(name, texts)


def typed_options(name: str, texts: Mapping[str, object]) -> dict[str, object]:
    """Option values of codec ``name`` from text (or values), each parsed and checked by
    its type and range (the rules between options wait for the job's budget)."""
    specs = {spec.name: spec for spec in codecs.get(name).Options.specs()}
    unknown = sorted(set(texts) - set(specs))
    if unknown:
        raise InputError(
            f"codec {name} takes no option {', '.join(unknown)}; it takes: "
            f"{', '.join(sorted(specs))}"
        )
    return {key: specs[key].parse(str(value)) for key, value in texts.items()}


def run_job(job: Job, cube: Cube, device: str) -> dict[str, object]:
    """Encode, decode and measure one job; the result row (with ``error`` on failure)."""
    row: dict[str, object] = {
        "scene": job.scene,
        "shape": list(cube.shape),
        "codec": job.codec,
        "options": dict(job.options),
        "target_bpppb": job.target_bpppb,
        "device": device,
        "threads": _threads(),
        "key": job.key,
    }
    try:
        name, variant = parse_spec(job.codec)
        codec = codecs.get(name)
        options = {**variant, **dict(job.options), "bpppb": job.target_bpppb}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BudgetWarning)  # recorded as within_budget
            encoding = codec.encode(cube, options, Run(device=device, progress=False))
        started = time.perf_counter()
        decoded = codec.decode(encoding.data, run=Run(device=device, progress=False))
        decode_s = time.perf_counter() - started
    except Exception as exc:  # recorded, and the benchmark goes on
        return {**row, "error": f"{type(exc).__name__}: {exc}"}
    data = encoding.data
    scores = metrics.report(cube, decoded)
    details = {k: v for k, v in codec.describe(data).items() if k not in ("shape", "min", "max")}
    return {
        **row,
        "bytes": len(data),
        "bpppb": metrics.bpppb(len(data), cube.shape),
        "within_budget": encoding.within_budget,
        **scores,
        "encode_s": encoding.seconds,
        "decode_s": decode_s,
        "details": details,
        "error": "",
    }


def run(
    scenes: Sequence[str],
    codec_names: Sequence[str],  # codec names, or variants "NAME:KEY=VALUE,..."
    rates: Sequence[float],
    out: Path,
    *,
    options: Mapping[str, Mapping[str, object]] | None = None,
    device: str = "cpu",
    progress: bool = True,
    cluster: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
) -> list[dict[str, object]]:
    """Run the jobs not yet done in ``out``; every row recorded there, old and new. With
    ``cluster``, one Dask task per job (:mod:`hsinr.cluster`: ``scheduler``'s cluster, or
    a local one of ``workers`` processes); its timings are then those of jobs sharing the
    machines."""
    out.mkdir(parents=True, exist_ok=True)
    options = options or {}
    jobs = [
        Job(scene, spec, float(rate), tuple(sorted(typed_options(
            parse_spec(spec)[0], options.get(parse_spec(spec)[0], {})).items())))
        for scene in scenes
        for spec in codec_names
        for rate in rates
    ]
    for job in jobs:  # every job's options, with its budget, checked before any work
        name, variant = parse_spec(job.codec)
        codecs.get(name).options({**variant, **dict(job.options), "bpppb": job.target_bpppb})
    done = {row["key"] for row in read_log(out) if not row.get("error")}
    pending = [job for job in jobs if job.key not in done]
    if cluster:
        _run_on_cluster(pending, out, device, scheduler, workers, progress)
        return latest(read_log(out))
    cubes: dict[str, Cube] = {}
    bar = progress_bar(pending, desc="benchmark", enabled=progress, leave=True)
    for job in bar:
        bar.set_postfix_str(f"{job.scene} {job.codec} @ {job.target_bpppb:g}")
        if job.scene not in cubes:
            cubes.clear()  # one scene in memory at a time
            cubes[job.scene] = datasets.load(job.scene)
        _append(out, run_job(job, cubes[job.scene], device))
    bar.close()
    return latest(read_log(out))


def run_task(task: tuple[Job, str]) -> dict[str, object]:
    """One job as a cluster task: its scene loaded where it runs."""
    job, device = task
    return run_job(job, datasets.load(job.scene), device)


def _run_on_cluster(jobs: Sequence[Job], out: Path, device: str, scheduler, workers,
                    progress: bool) -> None:  # fmt: skip
    from hsinr.cluster import completed, connect

    bar = progress_bar(total=len(jobs), desc="benchmark", enabled=progress, leave=True)
    with connect(scheduler, workers) as client:
        for (job, _), row in completed(client, run_task, [(job, device) for job in jobs]):
            if isinstance(row, BaseException):
                row = {"scene": job.scene, "codec": job.codec, "options": dict(job.options),
                       "target_bpppb": job.target_bpppb, "key": job.key, "shape": [],
                       "error": f"{type(row).__name__}: {row}"}  # fmt: skip
            _append(out, row)
            bar.update()
    bar.close()


def latest(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per job: the last successful one, else the last attempt."""
    chosen: dict[str, dict[str, object]] = {}
    for row in rows:
        previous = chosen.get(row["key"])
        if previous is None or not row.get("error") or previous.get("error"):
            chosen[row["key"]] = row
    return list(chosen.values())
