"""Scale benchmark: every codec on scenes of real size, run as a user runs it (the
``hsinr`` command in a fresh process), with wall time, peak memory, rate and PSNR.

Scenes are made in code from real spectra (nothing large is stored), by
:mod:`hsinr.synthetic`:

* ``mix188-N``: an N x N x 188 int16 linear mixture of the 10 most mutually different
  pixel spectra of the shared Cuprite crop (``Rcuprite50x90x188.mat``), smooth random
  abundances (one bicubic knot every 48 pixels, a softmax so they are positive and sum
  to one) and shot-like Gaussian noise (sd 0.5 x sqrt(signal)), seed 1. ``mix188-614``
  is 614 x 512, the size of the full AVIRIS Cuprite scene.
* ``mix224-N``: the same from the 10 endmembers of the 224-band AVIRIS cube
  ``extra/a_hsi_img_for_VI_demo.mat`` (seed 3): the 2048 x 2048 x 224 scene of the memory
  target, 1.9 GB raw.
* ``mosaic-256``: 256 x 256 x 184 int16, 64 x 64 blocks cut at random places (seed 2)
  from eight real AVIRIS crops in ``extra/`` (their first 184 bands as stored): real
  content with real edges, harder than a mixture.

For each run: ``hsinr compress`` (which also decodes the file to report its PSNR), then
``hsinr decompress`` to ``.npy`` (the whole file, streamed), then a 256 x 256 window
decode; PSNR is recomputed here from the decompressed file against the scene, a block of
rows at a time. Peak memory is measured for the largest single process
(``/usr/bin/time -v``, maximum resident set size) and for the process tree (the command
and all its worker processes, sampled every 50 ms): the sum of their proportional set
sizes (PSS: a page shared by n processes counts 1/n in each, what the command really
takes from the machine) and of their resident sets (RSS: shared pages counted in each).

``--baseline-tree DIR`` also codes the speed scenes with the ``hsinr`` of another
checkout (e.g. a ``git worktree`` of the commit before tiling) for a side-by-side speed-up.

Results are appended to ``OUT/results.jsonl`` as they are measured (a re-run skips runs
already there) and tabulated in ``OUT/results.md``::

    git worktree add /tmp/before-tiling 912f6f1
    python benchmarks/scale.py --out benchmarks/results/scale --work /tmp/scale \\
        --baseline-tree /tmp/before-tiling
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from machine import commit

from hsinr import io, metrics, synthetic

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MOSAIC_CUBES = ["abu-airport-1", "abu-airport-4", "abu-beach-1", "abu-beach-3",
                "abu-urban-1", "abu-urban-2", "abu-urban-3", "abu-urban-4"]  # fmt: skip
BUDGET = 0.1
SIREN = ["--arch", "6x64", "--iters", "200", "--batch-size", "32768"]  # fits 0.1 at 256^2
CODEC_OPTIONS = {"siren": SIREN}
EVERY_CODEC = ["latent", "pca-dct", "pca-jpeg2000", "jpeg", "jpeg2000", "siren", "meta"]
WINDOW = 256
NOTES = [  # what a reader of the table must know that the rows cannot say
    "Rows were re-run after fixes the first run found (their commits say which): the "
    "per-band codecs' and meta's memory (commits 4d4c3f8, 3d17fe0, 8f15695). The jpeg2000 "
    "2048^2 row ran at 3d17fe0, whose decode spool was memory-mapped (its pages counted "
    "in the process's memory); 8f15695 reads and writes it with pread / pwrite, as the "
    "jpeg 2048^2 row shows (289 MB).", "",
    "The siren and meta rows of mix224-2048 were re-run at 8c5273d (issue 17, decode at "
    "scale): meta codes cubes with more bands than its base has outputs since issue 16 "
    "(it refused this one before), and decodes its residual a tile at a time since "
    "8c5273d (the commit before took 155.5 s and 2,652 MB PSS to decode this file). The "
    "siren row at 4d4c3f8 had decoded in 23.2 s / 946 MB PSS; one 1024^2 siren file "
    "decoded by both commits (8.1-8.6 s at 4d4c3f8, 7.2-7.3 s at 8c5273d) shows no "
    "slowdown in the code, so the difference is the shared machine's.", "",
]


@dataclass
class Job:
    """One codec on one scene with one checkout of hsinr."""

    group: str
    scene: str
    codec: str
    code: str = "this"  # or "baseline"
    options: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.group}|{self.scene}|{self.codec}|{self.code}"


def plan(baseline: bool) -> list[Job]:
    """The runs, most important first: the latent memory series, the speed scenes (with
    the baseline), every codec at three sizes, every other codec on the largest scene."""
    jobs = [Job("memory", f"mix224-{n}", "latent") for n in (512, 1024, 2048)]
    for scene in ("mix188-614", "mosaic-256"):
        jobs.append(Job("speed", scene, "latent"))
        if baseline:
            jobs.append(Job("speed", scene, "latent", code="baseline"))
    for n in (256, 512, 1024):
        jobs += [Job("every codec", f"mix188-{n}", c, options=CODEC_OPTIONS.get(c, []))
                 for c in EVERY_CODEC]  # fmt: skip
    jobs += [Job("every codec", "mix224-2048", c, options=CODEC_OPTIONS.get(c, []))
             for c in EVERY_CODEC if c != "latent"]  # fmt: skip
    return jobs


# -- scenes ----------------------------------------------------------------------------------------


def _endmembers(path: Path, variable: str | None = None) -> np.ndarray:
    cube = io.load(path, var=variable)
    return synthetic.endmembers(cube.data.reshape(-1, cube.bands), 10)


def scene_file(name: str, work: Path) -> Path:
    """The scene's ``.npy`` in ``work``, made (a block of rows at a time) if missing."""
    path = work / f"{name}.npy"
    if path.exists():
        return path
    kind, size = name.split("-")
    shape = (614, 512) if size == "614" else (int(size), int(size))
    if kind == "mix188":
        spectra = _endmembers(DATA / "Rcuprite50x90x188.mat")
        synthetic.mixture(shape, spectra, seed=1, path=path)
    elif kind == "mix224":
        spectra = _endmembers(DATA / "extra" / "a_hsi_img_for_VI_demo.mat", "hsi_img")
        synthetic.mixture(shape, spectra, seed=3, path=path)
    elif kind == "mosaic":
        cubes = [io.load(DATA / "extra" / f"{n}.mat", var="data").data for n in MOSAIC_CUBES]
        np.save(path, synthetic.mosaic(cubes, shape, block=64, bands=184, seed=2))
    else:
        raise ValueError(f"unknown scene {name}")
    return path


# -- measuring -------------------------------------------------------------------------------------


def _tree_memory(pid: int) -> tuple[int, int]:
    """The summed resident and proportional set sizes (bytes) of ``pid`` and all its
    descendants: RSS counts a page shared by several processes (libraries, the
    copy-on-write pages of forked workers) in each, PSS splits it among them."""
    rss, pss, pending, seen = 0, 0, [pid], set()
    while pending:
        p = pending.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
            pending += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return rss, pss


def measure(command: list[str], env: dict[str, str], timeout: float) -> dict[str, object]:
    """Wall seconds, peak RSS (largest process and process tree), exit code and output."""
    with tempfile.NamedTemporaryFile(suffix=".time") as timing, tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", timing.name, *command], env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        peak_rss = peak_pss = 0
        while proc.poll() is None:
            rss, pss = _tree_memory(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if time.perf_counter() - started > timeout:
                proc.kill()
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read().decode(errors="replace")
        rusage = Path(timing.name).read_text()
    largest = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rusage)
    process = int(largest.group(1)) * 1000 if largest else 0
    return {"seconds": round(seconds, 2), "rc": proc.returncode,
            "tree_pss_mb": round(peak_pss / 1e6), "tree_rss_mb": round(peak_rss / 1e6),
            "process_mb": round(process / 1e6),
            "output": output}  # fmt: skip


def _number(pattern: str, text: str) -> float | None:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def psnr_of_files(original: Path, decoded: Path) -> float:
    """PSNR (R = the original's max - min) of two ``.npy`` cubes, a block of rows at a time."""
    a, b = np.load(original, mmap_mode="r"), np.load(decoded, mmap_mode="r")
    total, low, high = metrics.ErrorSum(), np.inf, -np.inf
    for start in range(0, a.shape[0], 64):
        block = np.asarray(a[start : start + 64])
        total.add(block, b[start : start + 64])
        low, high = min(low, float(block.min())), max(high, float(block.max()))
    return total.psnr(high - low)


def run_job(job: Job, work: Path, baseline: Path | None, timeout: float) -> dict[str, object]:
    scene = scene_file(job.scene, work)
    env = dict(os.environ)
    hsinr = [sys.executable, "-m", "hsinr"]
    if job.code == "baseline":
        env["PYTHONPATH"] = str(baseline / "src")
    packed, decoded = work / "out.hsinr", work / "decoded.npy"
    for stale in (packed, decoded):
        stale.unlink(missing_ok=True)
    values = int(np.prod(np.load(scene, mmap_mode="r").shape))
    row: dict[str, object] = {**asdict(job), "key": job.key, "values": values,
                              "commit": commit(baseline if job.code == "baseline" else None)}
    compress = measure([*hsinr, "compress", str(scene), str(packed), "--codec", job.codec,
                        "--bpppb", str(BUDGET), "--quiet", *job.options], env, timeout)  # fmt: skip
    text = str(compress.pop("output"))
    row["compress"] = compress
    if compress["rc"] != 0 or not packed.exists():
        row["error"] = text.strip().splitlines()[-1] if text.strip() else "no output"
        return row
    row["bpppb"] = round(8 * packed.stat().st_size / values, 5)
    row["encode_s"] = _number(r"encode\s+([\d.]+) s", text)
    row["psnr_reported"] = _number(r"PSNR\s+([\d.]+) dB", text)
    if job.code == "baseline":
        return row
    decompress = measure([*hsinr, "decompress", str(packed), str(decoded)], env, timeout)
    decompress.pop("output")
    row["decompress"] = decompress
    if decompress["rc"] == 0:
        row["psnr"] = round(psnr_of_files(scene, decoded), 3)
    height = np.load(scene, mmap_mode="r").shape[0]
    if height >= 2 * WINDOW:  # a window across tile edges, as a user would pick one
        r0 = height // 2 - WINDOW // 2
        window = f"{r0}:{r0 + WINDOW},{r0}:{r0 + WINDOW}"
        windowed = measure([*hsinr, "decompress", str(packed), str(work / "window.npy"),
                            "--window", window], env, timeout)  # fmt: skip
        windowed.pop("output")
        row["window"] = {**windowed, "window": window}
    return row


# -- report ----------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1e6
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, Python "
            f"{platform.python_version()}")


def _cell(value: object, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def _memory(measured: dict[str, object]) -> str:
    return (f"{measured.get('tree_pss_mb')} / {measured.get('tree_rss_mb')} / "
            f"{measured.get('process_mb')}")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| group | scene | codec | code (commit) | bpppb | PSNR dB | encode s | compress s "
             "| compress MB (PSS / RSS / largest) | decompress s "
             "| decompress MB (PSS / RSS / largest) "
             "| 256² window s | window / full |",
             "|" + "---|" * 13]  # fmt: skip
    for row in rows:
        c, d, w = row.get("compress", {}), row.get("decompress") or {}, row.get("window") or {}
        psnr = row.get("psnr", row.get("psnr_reported"))
        ratio = (w["seconds"] / d["seconds"]) if w and d else None
        code = f"{row['code']} ({row.get('commit', '?')})"
        if "error" in row:
            note = f"refused / failed: {row['error']}"
            lines.append(f"| {row['group']} | {row['scene']} | {row['codec']} | {code} | "
                         f"{note} |" + " |" * 8)  # fmt: skip
            continue
        lines.append(" | ".join([
            f"| {row['group']}", str(row["scene"]), str(row["codec"]), code,
            _cell(row.get("bpppb"), "{:.4f}"), _cell(psnr, "{:.2f}"),
            _cell(row.get("encode_s"), "{:.1f}"), _cell(c.get("seconds"), "{:.1f}"),
            _memory(c),
            _cell(d.get("seconds"), "{:.1f}"),
            _memory(d) if d else "",
            _cell(w.get("seconds"), "{:.2f}"), _cell(ratio, "{:.1%}"),
        ]) + " |")  # fmt: skip
    return "\n".join(lines)


def write_report(out: Path, rows: list[dict[str, object]], command: str) -> None:
    text = [
        "# Scale benchmark", "",
        f"Machine: {machine()}.", "",
        f"Command: `{command}` (each row names the commit of the hsinr it ran, `+` when "
        "its package had changes not yet committed; the baseline is the commit before "
        "tiling, in a `git worktree`).", "",
        f"Every codec at {BUDGET} bpppb; siren with `{' '.join(SIREN)}` (a few iterations on "
        "pixel batches: this table measures memory and time at size, not siren's quality). "
        "`encode s` is the codec's own encode time as `hsinr compress` reports it; "
        "`compress s` the whole command (reading, encoding, writing, decoding again for the "
        "PSNR). PSNR is recomputed from the decompressed file (R = the scene's max - min); "
        "for the baseline rows it is the one `hsinr compress` printed. Memory, peak MB: "
        "PSS and RSS summed over the process tree (the command and its worker processes, "
        "sampled every 50 ms: RSS counts pages shared between processes once in each, PSS "
        "splits them; PSS is the memory the command really takes; sampling can miss a brief "
        "peak) / the peak RSS of the largest single process (`/usr/bin/time -v`, exact). "
        "The window is "
        f"{WINDOW} x {WINDOW} pixels in the middle of the scene, across tile edges. Scenes: "
        "see the docstring of benchmarks/scale.py.", "",
        table(rows), "",
        *NOTES,
    ]  # fmt: skip
    (out / "results.md").write_text("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale"))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hsinr-scale",
                        help="where the scenes and files are made (several GB)")
    parser.add_argument("--baseline-tree", type=Path, help="another checkout to compare speed")
    parser.add_argument("--only", nargs="*", help="run only jobs whose key contains one of these")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a command may run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.out / "results.jsonl"
    done = {}
    if log.exists():
        done = {json.loads(line)["key"]: json.loads(line) for line in log.read_text().splitlines()}
    for job in plan(args.baseline_tree is not None):
        if job.key in done or (args.only and not any(part in job.key for part in args.only)):
            continue
        print(f"{job.key} ...", flush=True)
        row = run_job(job, args.work, args.baseline_tree, args.timeout)
        print(json.dumps(row), flush=True)
        with log.open("a") as file:
            file.write(json.dumps(row) + "\n")
        done[job.key] = row
    rows = [done[job.key] for job in plan(True) if job.key in done]
    arguments = sys.argv[1:]
    if "--only" in arguments:  # a partial re-run: the rows say their commits
        arguments = arguments[: arguments.index("--only")]
    command = "python benchmarks/scale.py " + " ".join(arguments)
    write_report(args.out, rows, command)


if __name__ == "__main__":
    main()
