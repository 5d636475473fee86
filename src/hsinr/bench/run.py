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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hsinr import codecs, datasets, metrics
from hsinr.cube import Cube
from hsinr.errors import InputError

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


def environment(device: str) -> dict[str, object]:
    """Where the numbers were measured."""
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "device": device,
        "threads": torch.get_num_threads(),
        "versions": library_versions(),
    }


def read_log(folder: Path) -> list[dict[str, object]]:
    """Every result recorded so far (a torn last line from an interruption is skipped)."""
    path = folder / LOG_NAME
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _append(folder: Path, row: Mapping[str, object]) -> None:
    with open(folder / LOG_NAME, "a") as stream:
        stream.write(json.dumps(row) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def parse_spec(spec: str) -> tuple[str, dict[str, object]]:
    """A codec, optionally a variant of it: ``"siren:bits=8,precision=16"`` ->
    ``("siren", {"bits": 8, "precision": 16})`` (values read as JSON where they parse).

    >>> parse_spec("siren:bits=auto,iterations=500")
    ('siren', {'bits': 'auto', 'iterations': 500})
    """
    name, _, rest = spec.partition(":")
    options: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, equals, text = item.partition("=")
        if not (key and equals):
            raise InputError(f"codec variant {spec!r}: {item!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    codecs.get(name)  # an unknown codec fails here, before any work
    return name, options


def run_job(job: Job, cube: Cube, device: str) -> dict[str, object]:
    """Encode, decode and measure one job; the result row (with ``error`` on failure)."""
    row: dict[str, object] = {
        "scene": job.scene,
        "shape": list(cube.shape),
        "codec": job.codec,
        "options": dict(job.options),
        "target_bpppb": job.target_bpppb,
        "device": device,
        "threads": torch.get_num_threads(),
        "key": job.key,
    }
    try:
        name, variant = parse_spec(job.codec)
        codec = codecs.get(name)
        started = time.perf_counter()
        data = codecs.encode(
            codec, cube, bpppb=job.target_bpppb, device=device, progress=False,
            **{**variant, **dict(job.options)},
        )  # fmt: skip
        encode_s = time.perf_counter() - started
        started = time.perf_counter()
        decoded = codecs.decode(data, device=device)
        decode_s = time.perf_counter() - started
    except Exception as exc:  # recorded, and the benchmark goes on
        return {**row, "error": f"{type(exc).__name__}: {exc}"}
    scores = metrics.report(cube, decoded)
    details = {k: v for k, v in codec.describe(data).items() if k not in ("shape", "min", "max")}
    return {
        **row,
        "bytes": len(data),
        "bpppb": metrics.bpppb(len(data), cube.shape),
        **scores,
        "encode_s": encode_s,
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
) -> list[dict[str, object]]:
    """Run the jobs not yet done in ``out``; every row recorded there, old and new."""
    out.mkdir(parents=True, exist_ok=True)
    options = options or {}
    jobs = [
        Job(scene, spec, float(rate), tuple(sorted(options.get(parse_spec(spec)[0], {}).items())))
        for scene in scenes
        for spec in codec_names
        for rate in rates
    ]
    done = {row["key"] for row in read_log(out) if not row.get("error")}
    pending = [job for job in jobs if job.key not in done]
    cubes: dict[str, Cube] = {}
    bar = tqdm(pending, desc="benchmark", disable=not progress)
    for job in bar:
        bar.set_postfix_str(f"{job.scene} {job.codec} @ {job.target_bpppb:g}")
        if job.scene not in cubes:
            cubes.clear()  # one scene in memory at a time
            cubes[job.scene] = datasets.load(job.scene)
        _append(out, run_job(job, cubes[job.scene], device))
    bar.close()
    return latest(read_log(out))


def latest(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per job: the last successful one, else the last attempt."""
    chosen: dict[str, dict[str, object]] = {}
    for row in rows:
        previous = chosen.get(row["key"])
        if previous is None or not row.get("error") or previous.get("error"):
            chosen[row["key"]] = row
    return list(chosen.values())
