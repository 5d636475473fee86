"""The torch codecs' work timed on one device, CPU or CUDA, for a side-by-side table
(issue 17, item 4). Run it once per device into the same folder:

    python benchmarks/device_speed.py --device cpu  --out benchmarks/results/device_speed
    python benchmarks/device_speed.py --device cuda --out benchmarks/results/device_speed

On Jasper Ridge (100 x 100 x 198), one after the other: ``siren`` with its default loop
and with ``--faithful`` (10 x 20 fp32, ``--iters``), ``siren --search`` at 0.1 bpppb,
``latent`` at 0.1 bpppb without and with ``--iters`` (gradient training), ``meta`` with
the shipped base (latents only, and with the residual at 0.05 bpppb), each file then
decoded on the same device; and ``hsinr meta-train`` (the default network and patches,
``--train-steps`` outer steps on the four scenes). Torch's one-time start-up on the device
is done first, untimed. Each run writes ``results_<device>.json``; ``results.md`` is
rebuilt from every such file in the folder, with the CPU's seconds over the device's.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import commit, describe

import hsinr
from hsinr import codecs, metrics
from hsinr.cli import main as hsinr_main
from hsinr.codecs import Run

SCENE = "jasper_ridge"


def coding_jobs(iterations: int) -> dict[str, tuple[str, dict]]:
    """Label -> (codec, options) of every encode / decode the benchmark times."""
    return {
        f"siren default loop, 10x20, {iterations} iters": (
            "siren", {"arch": "10x20", "iterations": iterations}),
        f"siren --faithful, 10x20, {iterations} iters": (
            "siren", {"arch": "10x20", "iterations": iterations, "faithful": True}),
        "siren --search, 0.1 bpppb": ("siren", {"bpppb": 0.1, "search": True}),
        "latent, 0.1 bpppb": ("latent", {"bpppb": 0.1}),
        "latent --iters 300, 0.1 bpppb": ("latent", {"bpppb": 0.1, "iterations": 300}),
        "meta, latents only (0.008 bpppb)": ("meta", {"bpppb": 0.008}),
        "meta + residual, 0.05 bpppb": ("meta", {"bpppb": 0.05}),
    }  # fmt: skip


def timed(work: Callable[[], object], device: str) -> tuple[object, float]:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = work()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def code(cube, codec: str, options: dict, device: str) -> dict:
    run = Run(device=device, progress=False)
    encoding, encode_s = timed(lambda: codecs.encode(codec, cube, options, run), device)
    decoded, decode_s = timed(lambda: codecs.decode(encoding.data, run=run), device)
    return {"encode_s": encode_s, "decode_s": decode_s, "bytes": len(encoding.data),
            "bpppb": 8 * len(encoding.data) / cube.data.size,
            "psnr": metrics.psnr(cube.data, decoded)}  # fmt: skip


def meta_training(steps: int, device: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        argv = ["meta-train", "--scenes", "jasper_ridge", "indian_pines", "pavia_university",
                "cuprite", "--steps", str(steps), "--device", device, "--quiet",
                "--out", str(Path(folder) / "base.hsbase")]  # fmt: skip
        status, seconds = timed(lambda: hsinr_main(argv), device)
        assert status == 0, "meta-train failed"
    return {"encode_s": seconds, "per_step_s": seconds / steps}


def warm_up(device: str) -> None:
    import torch

    torch.ones(8, 8, device=device).matmul(torch.ones(8, 8, device=device)).sum().item()
    cube = hsinr.datasets.load("sample")
    codecs.encode("siren", cube, {"arch": "2x8", "iterations": 5},
                  Run(device=device, progress=False))  # fmt: skip


def write_table(out: Path) -> None:
    runs = {path.stem.removeprefix("results_"): json.loads(path.read_text())
            for path in sorted(out.glob("results_*.json"))}  # fmt: skip
    devices = sorted(runs, key=lambda name: name != "cpu")
    lines = ["# The torch codecs on CPU and GPU", "",
             "Scene: Jasper Ridge (100 x 100 x 198). One process per device, jobs one after "
             "the other; torch's start-up on the device done first, untimed. PSNR of the "
             "file decoded on the same device. CPU work of the codecs (entropy coding, "
             "wavelets, least squares) runs on the host's cores in both runs. A run on another "
             "machine wrote its json there; the file was copied here unchanged.", ""]  # fmt: skip
    for name in devices:
        lines.append(f"- **{name}**: {runs[name]['machine']}; hsinr at "
                     f"{runs[name].get('commit', 'unknown')}; `{runs[name]['command']}`")
    head = "| job |" + "".join(f" {d} encode s | {d} decode s | {d} PSNR |" for d in devices)
    lines += ["", head + (" CPU / GPU encode |" if len(devices) > 1 else ""),
              "|---" * (1 + 3 * len(devices) + (len(devices) > 1)) + "|"]  # fmt: skip
    jobs = list(dict.fromkeys(job for run in runs.values() for job in run["rows"]))
    for job in jobs:
        cells = [job]
        for name in devices:
            row = runs[name]["rows"].get(job)
            if row is None:
                cells += ["-", "-", "-"]
                continue
            cells += [f"{row['encode_s']:.2f}", f"{row['decode_s']:.3f}" if "decode_s" in row
                      else "-", f"{row['psnr']:.2f}" if "psnr" in row else "-"]  # fmt: skip
        if len(devices) > 1:
            first, last = (runs[d]["rows"].get(job) for d in (devices[0], devices[-1]))
            cells.append(f"{first['encode_s'] / last['encode_s']:.1f}x" if first and last
                         else "-")  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--iters", type=int, default=3000, help="siren fit iterations")
    parser.add_argument("--train-steps", type=int, default=100, help="meta-train outer steps")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/device_speed"))
    args = parser.parse_args()
    warm_up(args.device)
    cube = hsinr.datasets.load(SCENE)
    rows = {}
    for label, (codec, options) in coding_jobs(args.iters).items():
        rows[label] = code(cube, codec, options, args.device)
        print(f"{label}: {rows[label]}", flush=True)
    label = f"meta-train, 4 scenes, default network, {args.train_steps} steps"
    rows[label] = meta_training(args.train_steps, args.device)
    print(f"{label}: {rows[label]}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "cpu" if args.device == "cpu" else "cuda"
    result = {"machine": describe(args.device), "rows": rows, "commit": commit(),
              "command": shlex.join(["python", *sys.argv])}  # fmt: skip
    (args.out / f"results_{tag}.json").write_text(json.dumps(result, indent=1))
    write_table(args.out)


if __name__ == "__main__":
    main()
