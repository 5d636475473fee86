"""The standing fuzz campaign: mutated inputs of every kind, each run in a worker process
under a memory limit and a time limit, every outcome classified and counted.

    python benchmarks/fuzz_campaign.py --cases 10000 --out benchmarks/results/fuzz

Kinds: the compressed files of every codec (seeds: the committed version-1 files of
tests/data/v1, the version-3 files (metadata sections) of tests/data/v3 and files
written now with other options), input cubes of every format (a real crop of the bundled
sample saved as .npy, .npz, .mat v5, .mat v7.3, .tif, .nc and ENVI bsq / bil / bip),
and base networks (a tiny one and the shipped one). Each case is ``hsinr.fuzzing``'s
mutation of a seed, reproducible from (kind, seed, case).

Outcomes: ``ok`` (decoded / loaded), ``refused`` (a one-line HsinrError), and the
failures: ``traceback`` (any other exception), ``hang`` (over --seconds; the worker is
killed), ``memory`` (MemoryError, or an allocation over the worker's --memory-gib
address-space limit: strict, it counts attempts, not only memory touched), ``crash``
(the worker died, e.g. a segfault in a C library), ``noise`` (the case wrote to stderr,
or raised a numpy warning: what a user would see besides the one-line error), ``unnamed``
(an input cube refused by a message that does not name the file). Decoders
run with
``hsinr.fuzzing.FUZZ_LIMITS`` (at most 2^22 values, and the work that allows).

Writes OUT/summary.md and OUT/summary.json (counts per kind, the command, the machine)
and OUT/findings.jsonl (one line per failure, with its reproduction triple).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "tests" / "data" / "v1"
V3 = ROOT / "tests" / "data" / "v3"  # files with a metadata section
OUTCOMES = ("ok", "refused", "traceback", "hang", "memory", "crash", "noise", "unnamed")
CUBE_FORMATS = {  # kind -> seed file names (the first is the one loaded) and save options
    "cube-npy": {"cube.npy": {}},
    "cube-npz": {"cube.npz": {}},
    "cube-mat-v5": {"cube.mat": {}},
    "cube-mat-v7.3": {"cube.mat": {"version": "7.3"}},
    "cube-tiff": {"cube.tif": {}},
    "cube-netcdf": {"cube.nc": {}},
    "cube-envi": {
        "bsq.hdr": {"interleave": "bsq"},
        "bil.hdr": {"interleave": "bil"},
        "bip.hdr": {"interleave": "bip"},
    },
}
FRESH_OPTIONS = {  # more seeds per codec, written now: other code paths than the v1 files
    "siren": [{"bpppb": 1.0, "precision": 32, "iterations": 20},
              {"bpppb": 1.0, "bits": 6, "granularity": "channel", "iterations": 20}],
    "jpeg": [{"bpppb": 4.0}],
    "jpeg2000": [{"bpppb": 2.0}],
    "pca-dct": [{"bpppb": 0.5, "components": 1}],
    "pca-jpeg2000": [{"bpppb": 0.5, "components": 2}],
    "meta": [{"bpppb": 0.5}],
    "latent": [{"bpppb": 1.0, "levels": 0}, {"bpppb": 1.0, "contexts": False, "components": 3}],
}  # fmt: skip


def build_seeds(folder: Path) -> dict[str, dict[str, Path]]:
    """kind -> seed name -> path (a compressed file, a cube file, or a base network)."""
    import numpy as np
    import torch

    from hsinr import Cube, basenet, codecs, datasets, io
    from hsinr.nn.modulated import ModulatedConfig, ModulatedSiren

    seeds: dict[str, dict[str, Path]] = defaultdict(dict)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((V1 / "MANIFEST.json").read_text())["files"]
    for name in manifest:
        kind = "codec-" + name.removesuffix("-quantised")
        seeds[kind][f"v1-{name}"] = V1 / f"{name}.hsinr"
    sample = datasets.sample()
    crop = Cube(np.ascontiguousarray(sample.data[:16, :13, ::12]), name="seed")
    for codec, variants in FRESH_OPTIONS.items():
        for index, options in enumerate(variants):
            data = codecs.encode(codec, crop, options, codecs.Run(progress=False)).data
            path = folder / f"{codec}-{index}.hsinr"
            path.write_bytes(data)
            seeds[f"codec-{codec}"][f"fresh-{index}"] = path
    wide = Cube(np.ascontiguousarray(sample.data[:40, :36, ::12]), name="seed")
    tiled = codecs.encode("latent", wide, {"bpppb": 1.0, "tile": 16}, codecs.Run(progress=False))
    (folder / "latent-tiled.hsinr").write_bytes(tiled.data)  # 3 x 3 tiles
    seeds["codec-latent"]["fresh-tiled"] = folder / "latent-tiled.hsinr"
    for name in json.loads((V3 / "MANIFEST.json").read_text())["files"]:  # metadata sections
        seeds[f"codec-{name}"][f"v3-{name}"] = V3 / f"{name}.hsinr"
    cube = crop.replace(data=np.ascontiguousarray(crop.data[:9, :7, :5]),
                        wavelengths=np.linspace(400.0, 2500.0, 5))  # fmt: skip
    for kind, files in CUBE_FORMATS.items():
        for name, options in files.items():
            seed_folder = folder / kind / name.split(".")[0]
            seed_folder.mkdir(parents=True)
            io.save(cube, seed_folder / name, **options)
            seeds[kind][name] = seed_folder / name
    torch.manual_seed(0)
    config = ModulatedConfig(hidden_layers=2, width=8, bands=6, latent_dim=4, patch=4)
    tiny = folder / "tiny.hsbase"
    basenet.save_base(ModulatedSiren.from_config(config), config, tiny,
                      {"inner_steps": 2, "inner_lr": 1.0})  # fmt: skip
    seeds["base"]["tiny"] = tiny
    seeds["base"]["shipped"] = basenet.shipped_base_path()
    return dict(seeds)


# -- the worker -------------------------------------------------------------------------------


def _run_case(kind: str, seed: Path, case_name: str, case: int, scratch: Path) -> tuple[str, str]:
    import numpy as np

    from hsinr import Cube, basenet, codecs, io
    from hsinr.codecs.meta import MetaCodec
    from hsinr.fuzzing import (
        FUZZ_LIMITS,
        case_rng,
        fuzz_run,
        mutate_base,
        mutate_compressed,
        mutate_cube_file,
    )

    rng = case_rng(kind, case_name, case)
    if kind.startswith("codec-"):
        data = mutate_compressed(seed.read_bytes(), rng)

        def work() -> None:
            codecs.for_file(data).describe(data, fuzz_run())
            codecs.decode(data, run=fuzz_run())

        return _reasoned(work)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if kind.startswith("cube-"):
        files = {path.name: path.read_bytes() for path in io.storage_paths(seed)}
        for name, data in mutate_cube_file(files, rng).items():
            (scratch / name).write_bytes(data)
        return _reasoned(lambda: io.load(scratch / seed.name, limits=FUZZ_LIMITS),
                         named=seed.stem)  # fmt: skip
    path = scratch / "mutant.hsbase"
    path.write_bytes(mutate_base(seed, rng))
    cube = Cube(np.arange(9 * 7 * 5, dtype=np.uint16).reshape(9, 7, 5))

    def use() -> None:
        net = basenet.load_base(path)
        data = MetaCodec().encode(cube, None, fuzz_run(net)).data
        MetaCodec().decode(data, run=fuzz_run(net))

    return _reasoned(use)


def _reasoned(work, named: str | None = None) -> tuple[str, str]:
    """``hsinr.fuzzing.attempt``'s outcome, and for a refusal its message with the
    numbers and file names masked (to count which checks the cases reach)."""
    import re

    from hsinr.errors import HsinrError
    from hsinr.fuzzing import attempt

    message = []

    def remembered() -> None:
        try:
            work()
        except HsinrError as exc:
            message.append(str(exc))
            raise

    outcome = attempt(remembered)
    if named is not None and message and named not in message[0]:
        return "unnamed", message[0]
    reason = re.sub(r"[-+]?\d[\d,.e+-]*", "#", message[0])[:90] if message else ""
    return outcome, re.sub(r"\S+\.(hsinr|hsbase|npy|npz|mat|tif|hdr|img)\b", "FILE", reason)


def worker(connection, seeds: dict[str, dict[str, str]], memory_bytes: int, scratch: str) -> None:
    """Run cases sent over ``connection`` until it closes; answer (outcome, detail)."""
    import numpy as np
    import torch

    import hsinr.codecs
    import hsinr.fuzzing  # noqa: F401

    torch.set_num_threads(1)
    np.seterr(divide="raise", over="raise", invalid="raise")  # what numpy would warn about
    stderr = Path(scratch + ".stderr")
    stderr.parent.mkdir(parents=True, exist_ok=True)
    with open(stderr, "w+b") as sink:
        os.dup2(sink.fileno(), 2)  # anything a library prints lands here, not on the console
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            kind, seed_name, case = connection.recv()
        except EOFError:
            return
        os.truncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
        try:
            seed = Path(seeds[kind][seed_name])
            outcome, detail = _run_case(kind, seed, seed_name, case, Path(scratch))
        except MemoryError:
            outcome, detail = "memory", "MemoryError"
        except FloatingPointError:
            outcome, detail = "noise", traceback.format_exc().strip().splitlines()[-1]
        except Exception:  # the finding: recorded with its traceback's last lines
            outcome = "traceback"
            detail = "".join(traceback.format_exc().strip().splitlines(keepends=True)[-6:])
        printed = os.pread(2, 300, 0)
        if printed and outcome in ("ok", "refused"):
            outcome, detail = "noise", printed.decode("utf-8", "replace")
        connection.send((outcome, detail))


class Pool:
    """Workers that each run one case at a time, killed and replaced when a case hangs or
    kills them."""

    def __init__(self, size: int, seeds, memory_bytes: int, scratch: Path) -> None:
        self.context = mp.get_context("spawn")
        self.args = (seeds, memory_bytes)
        self.scratch = scratch
        self.slots = [self._start(index) for index in range(size)]

    def _start(self, index: int):
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=worker, args=(child, *self.args, str(self.scratch / f"w{index}")), daemon=True
        )
        process.start()
        return {"process": process, "connection": parent, "job": None, "since": 0.0}

    def run(self, jobs, seconds: float, record) -> None:
        pending = list(jobs)
        pending.reverse()
        while pending or any(slot["job"] for slot in self.slots):
            for index, slot in enumerate(self.slots):
                if slot["job"] is None and pending:
                    slot["job"], slot["since"] = pending.pop(), time.monotonic()
                    slot["connection"].send(slot["job"])
                if slot["job"] is None:
                    continue
                if slot["connection"].poll(0.002):
                    try:
                        outcome, detail = slot["connection"].recv()
                    except EOFError:
                        outcome, detail = self._dead(index)
                    record(slot["job"], outcome, detail)
                    slot["job"] = None
                elif not slot["process"].is_alive():
                    record(slot["job"], *self._dead(index))
                    self.slots[index]["job"] = None
                elif time.monotonic() - slot["since"] > seconds:
                    slot["process"].kill()
                    slot["process"].join()
                    record(slot["job"], "hang", f"over {seconds:g} s")
                    self.slots[index] = self._start(index)

    def _dead(self, index: int) -> tuple[str, str]:
        process = self.slots[index]["process"]
        process.join(timeout=5)
        code = process.exitcode
        self.slots[index] = self._start(index)
        return "crash", f"worker exit code {code}"

    def close(self) -> None:
        for slot in self.slots:
            slot["connection"].close()
            slot["process"].join(timeout=10)
            if slot["process"].is_alive():
                slot["process"].kill()


# -- the campaign ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000, help="cases per kind (10000)")
    parser.add_argument("--kinds", nargs="*", help="only these kinds (default: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per case")
    parser.add_argument("--memory-gib", type=float, default=3.0, help="address space per worker")
    parser.add_argument("--first-case", type=int, default=0, help="case numbers start here")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.commit = _commit()  # before this run writes anything
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="hsinr-fuzz-"))
    started = time.time()
    seeds = build_seeds(scratch / "seeds")
    kinds = [kind for kind in seeds if not args.kinds or kind in args.kinds]
    jobs = [
        (kind, seed_names[case % len(seed_names)], case)
        for case in range(args.first_case, args.first_case + args.cases)
        for kind in kinds
        for seed_names in [sorted(seeds[kind])]
    ]
    counts: dict[str, Counter] = {kind: Counter() for kind in kinds}
    reasons: dict[str, Counter] = {kind: Counter() for kind in kinds}
    findings = open(args.out / "findings.jsonl", "w")
    done = [0]

    def record(job, outcome: str, detail: str) -> None:
        kind, seed, case = job
        counts[kind][outcome] += 1
        if outcome == "refused":
            reasons[kind][detail] += 1
        elif outcome != "ok":
            findings.write(json.dumps({"kind": kind, "seed": seed, "case": case,
                                       "outcome": outcome, "detail": detail}) + "\n")  # fmt: skip
            findings.flush()
        done[0] += 1
        if done[0] % 2000 == 0:
            print(f"{done[0]:,} / {len(jobs):,} cases, {time.time() - started:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip

    as_text = {kind: {name: str(path) for name, path in named.items()}
               for kind, named in seeds.items()}  # fmt: skip
    pool = Pool(args.workers, as_text, int(args.memory_gib * 2**30), scratch / "work")
    try:
        pool.run(jobs, args.seconds, record)
    finally:
        pool.close()
        findings.close()
        shutil.rmtree(scratch, ignore_errors=True)
    seed_names = {k: sorted(v) for k, v in seeds.items()}
    write_summary(args, counts, reasons, seed_names, time.time() - started)
    failures = sum(counts[k][o] for k in counts for o in OUTCOMES[2:])
    print(f"{len(jobs):,} cases, {failures} failures; {args.out}/summary.md")
    return 1 if failures else 0


def _commit() -> str:
    """The commit the campaign ran, marked when the working tree had changes."""
    import subprocess

    def git(*args: str) -> str:
        found = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return found.stdout.strip()

    changed = " (with uncommitted changes)" if git("status", "--porcelain") else ""
    return git("rev-parse", "--short", "HEAD") + changed


def write_summary(args, counts, reasons, seeds, seconds: float) -> None:
    from hsinr.fuzzing import FUZZ_LIMITS

    command = "python benchmarks/fuzz_campaign.py " + shlex.join(sys.argv[1:])
    commit = args.commit
    total = Counter()
    for found in counts.values():
        total.update(found)
    summary = {
        "command": command, "commit": commit, "seconds": round(seconds),
        "machine": platform.machine(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "workers": args.workers, "seconds_per_case": args.seconds,
        "memory_gib_per_worker": args.memory_gib, "max_values": FUZZ_LIMITS.max_values,
        "seeds": seeds, "counts": {kind: dict(found) for kind, found in counts.items()},
        "total": dict(total),
        "refusals": {kind: dict(found.most_common(12)) for kind, found in reasons.items()},
    }  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    header = "| kind | seeds | cases | " + " | ".join(OUTCOMES) + " |"
    lines = [
        "# Fuzz campaign", "",
        f"`{command}` at commit {commit}, on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"{args.workers} workers, "
        f"{seconds / 60:.0f} min. Each case in a worker limited to {args.memory_gib:g} GiB of "
        f"address space and {args.seconds:g} s; decoders limited to {FUZZ_LIMITS.max_values:,} "
        "values (`hsinr.fuzzing.FUZZ_LIMITS`). Failures: traceback, hang, memory, crash, noise, "
        "unnamed (findings.jsonl lists each with its reproduction triple).", "",
        header, "|" + "---|" * (len(OUTCOMES) + 3),
    ]  # fmt: skip
    for kind, found in counts.items():
        cells = " | ".join(f"{found[o]:,}" for o in OUTCOMES)
        lines.append(f"| {kind} | {len(seeds[kind])} | {sum(found.values()):,} | {cells} |")
    cells = " | ".join(f"**{total[o]:,}**" for o in OUTCOMES)
    lines.append(f"| all | | **{sum(total.values()):,}** | {cells} |")
    lines += ["", "Where the refusals came from (the most frequent messages per kind, numbers "
              "as #; the full counts are in summary.json):", ""]  # fmt: skip
    for kind, found in reasons.items():
        top = "; ".join(f"{count:,} \"{reason}\"" for reason, count in found.most_common(4))
        lines.append(f"- **{kind}**: {top}")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
