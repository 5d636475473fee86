"""Running every codec on every scene at every rate, one job at a time, never losing a result.

Each finished job is appended at once to ``results.jsonl`` in the output folder (one JSON
object a line, flushed to disk). A re-run reads it first and skips the jobs already done
without error, so an interrupted benchmark resumes where it stopped. A job that fails is
recorded with its error and the others go on.

A scene is a built-in name (:data:`hsinr.datasets.SCENE_NAMES`, ``"sample"``), the same
as ``scene:NAME``, or the path of any cube file :func:`hsinr.io.load` reads (its rows are
labelled by the file's stem); see :func:`resolve_scene`. With ``tasks``, each row also
records what the codec's loss does to a classification and an unmixing of the scene
(:mod:`hsinr.bench.tasks`).
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

import numpy as np

from hsinr import codecs, datasets, io, joblog, metrics
from hsinr.bench import tasks as bench_tasks
from hsinr.codecs import BudgetWarning, Run
from hsinr.cube import Cube
from hsinr.errors import DatasetError, InputError
from hsinr.progress import progress_bar

LOG_NAME = "results.jsonl"
SCENE_PREFIX = "scene:"


@dataclass(frozen=True)
class SceneSource:
    """Where a benchmark scene comes from: a built-in scene ``name``, or a cube file
    ``path``; ``label`` names its rows."""

    label: str
    name: str | None = None
    path: str | None = None

    @property
    def spec(self) -> str:
        """What a job keeps to find the scene again ("" for a built-in scene: its label)."""
        return self.path or ""

    def load(self) -> Cube:
        if self.name is not None:
            return datasets.load(self.name)
        return io.load(self.path).replace(name=self.label)

    def ground_truth(self) -> tuple[np.ndarray | None, str]:
        """The class-label map aligned with the cube, or None and why there is none."""
        if self.name is None:
            return None, "a scene given as a file has no ground-truth map here"
        if self.name == datasets.SAMPLE_NAME:
            return None, "the bundled sample has no ground-truth map"
        try:
            return datasets.ground_truth(self.name), ""
        except DatasetError as exc:
            return None, str(exc)


def resolve_scene(spec: str) -> SceneSource:
    """The scene ``spec`` names: a built-in scene name (or ``scene:NAME``), else the path
    of a cube file, labelled by its stem. A missing file or unknown name is refused here
    (:class:`InputError` / :class:`DatasetError`), before any work.

    >>> resolve_scene("scene:cuprite")
    SceneSource(label='cuprite', name='cuprite', path=None)
    >>> resolve_scene(str(datasets.sample_path())).label
    'jasper_ridge_sample'
    """
    known = (*datasets.SCENE_NAMES, datasets.SAMPLE_NAME)
    if spec.startswith(SCENE_PREFIX) or spec in known:
        name = spec.removeprefix(SCENE_PREFIX)
        if name != datasets.SAMPLE_NAME:
            datasets.scene(name)  # an unknown name: DatasetError listing the known ones
        return SceneSource(name, name=name)
    path = Path(spec)
    if not path.exists():
        raise InputError(
            f"scene {spec!r}: no such file, nor a scene name (scenes: {', '.join(known)}, "
            f"or {SCENE_PREFIX}NAME, or a cube file)"
        )
    if not path.is_file():
        raise InputError(f"scene {spec!r}: not a file")
    io.format_for(path)  # an unknown file type: refused with the types hsinr reads
    return SceneSource(path.stem, path=str(path.resolve()))


def resolve_scenes(specs: Sequence[str]) -> list[SceneSource]:
    """Every scene of ``specs`` resolved (repeats dropped); two different scenes with one
    label (e.g. files of the same stem) are refused, since rows are told apart by it."""
    sources: dict[str, SceneSource] = {}
    for spec in specs:
        source = resolve_scene(spec)
        other = sources.setdefault(source.label, source)
        if other != source:
            raise InputError(
                f"scenes {other.path or other.name!r} and {source.path or source.name!r} are "
                f"both labelled {source.label!r}; rename one of the files"
            )
    return list(sources.values())


@dataclass(frozen=True)
class Job:
    scene: str  # the rows' label
    codec: str
    target_bpppb: float
    options: tuple[tuple[str, object], ...] = ()
    source: str = ""  # a cube file's absolute path; "" for a built-in scene (its label)

    @property
    def key(self) -> str:
        """The job's identity in the log (a file scene's path in it too)."""
        fields = [self.scene, self.codec, self.target_bpppb, list(self.options)]
        return json.dumps([*fields, self.source] if self.source else fields)


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


def scene_of(job: Job) -> SceneSource:
    """The scene a job runs on."""
    return resolve_scene(job.source or job.scene)


def reference_of(
    source: SceneSource, cube: Cube, settings: Mapping[str, Mapping[str, object]]
) -> bench_tasks.Reference | None:
    """The original's side of the tasks for a scene (None without tasks)."""
    if not settings:
        return None
    labels, why = source.ground_truth() if "classify" in settings else (None, "")
    return bench_tasks.Reference.of(cube, settings, labels, why)


def run_job(job: Job, cube: Cube, device: str,
            reference: bench_tasks.Reference | None = None) -> dict[str, object]:  # fmt: skip
    """Encode, decode and measure one job; the result row (with ``error`` on failure).
    With a ``reference``, the tasks' columns too (:mod:`hsinr.bench.tasks`)."""
    row: dict[str, object] = {
        "scene": job.scene,
        **({"source": job.source} if job.source else {}),
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
    task_columns = reference.evaluate(decoded) if reference is not None else {}
    return {
        **row,
        "bytes": len(data),
        "bpppb": metrics.bpppb(len(data), cube.shape),
        "within_budget": encoding.within_budget,
        **scores,
        "encode_s": encoding.seconds,
        "decode_s": decode_s,
        "details": details,
        **task_columns,
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
    tasks: Sequence[str] = (),
    endmembers: int | None = None,
) -> list[dict[str, object]]:
    """Run the jobs not yet done in ``out``; every row recorded there, old and new. With
    ``cluster``, one Dask task per job (:mod:`hsinr.cluster`: ``scheduler``'s cluster, or
    a local one of ``workers`` processes); its timings are then those of jobs sharing the
    machines. ``scenes`` are names or cube files (:func:`resolve_scene`); ``tasks``
    (``"classify"``, ``"unmix"`` with ``endmembers``) add their columns to every row, and a
    row recorded without them is run again."""
    sources = resolve_scenes(scenes)
    settings = bench_tasks.settings(tasks, endmembers)
    out.mkdir(parents=True, exist_ok=True)
    options = options or {}
    jobs = []
    for source in sources:
        for spec in codec_names:
            name = parse_spec(spec)[0]
            fixed = tuple(sorted(typed_options(name, options.get(name, {})).items()))
            jobs += [Job(source.label, spec, float(rate), fixed, source.spec) for rate in rates]
    for job in jobs:  # every job's options, with its budget, checked before any work
        name, variant = parse_spec(job.codec)
        codecs.get(name).options({**variant, **dict(job.options), "bpppb": job.target_bpppb})
    done = {row["key"] for row in read_log(out)
            if not row.get("error") and bench_tasks.covers(row.get("tasks"), settings)}  # fmt: skip
    pending = [job for job in jobs if job.key not in done]
    if cluster:
        _run_on_cluster(pending, out, device, scheduler, workers, progress, settings)
        return latest(read_log(out))
    loaded: dict[str, tuple[Cube, bench_tasks.Reference | None]] = {}
    bar = progress_bar(pending, desc="benchmark", enabled=progress, leave=True)
    for job in bar:
        bar.set_postfix_str(f"{job.scene} {job.codec} @ {job.target_bpppb:g}")
        if job.scene not in loaded:
            loaded.clear()  # one scene in memory at a time
            source = scene_of(job)
            cube = source.load()
            loaded[job.scene] = cube, reference_of(source, cube, settings)
        cube, reference = loaded[job.scene]
        _append(out, run_job(job, cube, device, reference))
    bar.close()
    return latest(read_log(out))


def run_task(task: tuple) -> dict[str, object]:
    """One job as a cluster task, ``(job, device[, task settings])``: its scene loaded
    (and the original's side of the tasks computed) where it runs."""
    job, device, *rest = task
    source = scene_of(job)
    cube = source.load()
    return run_job(job, cube, device, reference_of(source, cube, rest[0] if rest else {}))


def _run_on_cluster(jobs: Sequence[Job], out: Path, device: str, scheduler, workers,
                    progress: bool, settings=None) -> None:  # fmt: skip
    from hsinr.cluster import completed, connect

    bar = progress_bar(total=len(jobs), desc="benchmark", enabled=progress, leave=True)
    settings = settings or {}
    with connect(scheduler, workers) as client:
        tasks = [(job, device, settings) for job in jobs]
        for (job, *_), row in completed(client, run_task, tasks):
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
