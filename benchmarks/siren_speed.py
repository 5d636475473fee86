"""Time to quality of the siren codec: its default fitting loop against the CRV 2023
paper's (``--faithful``: Adam at 2e-4, constant, full batch), on the same machine, one
after the other in one run (issue 17).

    python benchmarks/siren_speed.py --out benchmarks/results/siren_speed

For each scene and loop the codec encodes the scene with the same network (the paper's
Jasper Ridge 10 x 20; fp32 unless a loop's options say ``precision=16``) for ``--iters``
iterations, keeping the PSNR after every iteration and when it was reached. Written under --out:

  results.md / results.json   per scene and loop: final PSNR (the file's, decoded), the
                              iteration and wall time at which the target PSNR was first
                              reached, the speed-up over the faithful loop; the command,
                              machine and versions
  curves.png                  PSNR against wall time, every loop and scene

Two targets: the faithful loop's best PSNR in its budget, and the paper's 35.70 dB for
Jasper Ridge (a loop that never reaches a target has no time for it).
``--loop NAME:OPTION=VALUE,...`` adds loops to compare (e.g.
``--loop lr3e-3:lr=3e-3,warmup=200,schedule=cosine``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from machine import describe

import hsinr
from hsinr import metrics
from hsinr.codecs import Run
from hsinr.codecs.siren import SirenCodec

PAPER_TARGET = {"jasper_ridge": 35.70}  # the paper's Table II, 10 x 20 fp32
ARCHS = {"jasper_ridge": "10x20"}
DEFAULT_LOOPS = {"faithful": {"faithful": True}, "default": {}}


def parse_loop(text: str) -> tuple[str, dict[str, object]]:
    """``NAME:KEY=VALUE,...`` -> (name, options); values parsed by the codec's option specs."""
    name, _, rest = text.partition(":")
    specs = {spec.name: spec for spec in SirenCodec.Options.specs()}
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = specs[key].parse(value)
    return name, options


def run_loop(scene: str, arch: str, options: dict, iterations: int, seed: int,
             device: str = "cpu") -> dict:
    """One encode with the curve of its fit, then the decoded file's PSNR."""
    cube = hsinr.datasets.load(scene)
    codec = SirenCodec()
    chosen = codec.options({"arch": arch, "precision": 32, "iterations": iterations, **options})
    started = time.perf_counter()
    encoding = codec.encode(cube, chosen, Run(progress=False, seed=seed, device=device))
    seconds = time.perf_counter() - started
    decoded = codec.decode(encoding.data)
    fit = encoding.details["fit"]
    return {
        "scene": scene, "arch": arch, "options": {k: v for k, v in options.items()},
        "bytes": len(encoding.data), "bpppb": 8 * len(encoding.data) / cube.data.size,
        "psnr": metrics.psnr(cube.data, decoded), "encode_s": seconds,
        "curve": fit["curve"], "curve_seconds": fit["curve_seconds"],
        "iterations": fit["iterations"], "best_iteration": fit["best_iteration"],
        "recoveries": fit["recoveries"],
    }  # fmt: skip


def first_reach(row: dict, target: float) -> tuple[int | None, float | None]:
    """(iteration, seconds) of the first PSNR at or above ``target``."""
    for index, psnr in enumerate(row["curve"]):
        if psnr >= target:
            return index, row["curve_seconds"][index]
    return None, None


def thin(rows: list[dict], points: int = 500) -> list[dict]:
    """The rows with their curves kept at about ``points`` evenly spaced iterations (and
    the first and last), for a results file of a reasonable size."""
    thinned = []
    for row in rows:
        step = max(1, len(row["curve"]) // points)
        keep = sorted({*range(0, len(row["curve"]), step), len(row["curve"]) - 1})
        thinned.append({**row, "curve_iterations": keep,
                        "curve": [row["curve"][i] for i in keep],
                        "curve_seconds": [row["curve_seconds"][i] for i in keep]})  # fmt: skip
    return thinned


def write(out: Path, rows: list[dict], args, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(thin(rows)))
    lines = [
        "# siren: time to quality, default loop against the paper's", "",
        f"Command: `{shlex.join(['python', *sys.argv])}`  ",
        f"Machine: {describe(args.device)}; run took {seconds / 60:.1f} min; "
        f"hsinr {hsinr.__version__}.",
        "", "Each loop fits the same network from the same seed for the same iterations, one "
        "after the other. Targets: the faithful loop's best PSNR in its budget, and the "
        "paper's where it has one; speed-up = the faithful loop's time to the target over "
        "this loop's.", "",
        "| scene | network | loop | options | final PSNR (file) | bytes | bpppb | encode s | "
        "target | reached at iteration | after s | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for scene in dict.fromkeys(row["scene"] for row in rows):
        mine = [row for row in rows if row["scene"] == scene]
        faithful = next(row for row in mine if row["loop"] == "faithful")
        targets = {f"faithful's best {max(faithful['curve']):.2f}": max(faithful["curve"])}
        if scene in PAPER_TARGET:
            targets[f"paper's {PAPER_TARGET[scene]:.2f}"] = PAPER_TARGET[scene]
        for row in mine:
            shown = ", ".join(f"{k}={v}" for k, v in row["options"].items()) or "(defaults)"
            for label, target in targets.items():
                _, base_seconds = first_reach(faithful, target)
                iteration, reached = first_reach(row, target)
                speedup = (f"{base_seconds / reached:.2f}x" if reached and base_seconds
                           else "-")  # fmt: skip
                lines.append(
                    f"| {scene} | {row['arch']} | {row['loop']} | {shown} | {row['psnr']:.2f} | "
                    f"{row['bytes']:,} | {row['bpppb']:.4f} | {row['encode_s']:.1f} | {label} | "
                    f"{'-' if iteration is None else f'{iteration:,}'} | "
                    f"{'-' if reached is None else f'{reached:.1f}'} | {speedup} |"
                )  # fmt: skip
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(out / "curves.png", rows)


def plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenes = list(dict.fromkeys(row["scene"] for row in rows))
    figure, axes = plt.subplots(1, len(scenes), figsize=(6 * len(scenes), 4.5), squeeze=False)
    for axis, scene in zip(axes[0], scenes, strict=True):
        for row in (row for row in rows if row["scene"] == scene):
            best = np.maximum.accumulate(np.asarray(row["curve"]))
            axis.plot(row["curve_seconds"], best, label=row["loop"])
        if scene in PAPER_TARGET:
            axis.axhline(PAPER_TARGET[scene], color="grey", linestyle=":", label="paper")
        arch = next(row["arch"] for row in rows if row["scene"] == scene)
        axis.set(title=f"{scene} ({arch})",
                 xlabel="wall time (s)", ylabel="best PSNR so far (dB)")  # fmt: skip
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", nargs="+", default=["jasper_ridge", "indian_pines"])
    parser.add_argument("--iters", type=int, default=15000, help="iterations per loop")
    parser.add_argument("--arch", default="10x20",
                        help="the network for scenes without a paper network (10x20)")
    parser.add_argument("--loop", action="append", default=[], metavar="NAME:OPTIONS")
    parser.add_argument("--only", nargs="+", metavar="LOOP",
                        help="run only these loops (faithful among them), e.g. a long faithful run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--out", default="benchmarks/results/siren_speed")
    args = parser.parse_args()
    loops = {**DEFAULT_LOOPS, **dict(parse_loop(text) for text in args.loop)}
    if args.only:
        loops = {name: loops[name] for name in args.only}
    run_loop(args.scenes[0], args.arch, {}, 5, args.seed, args.device)  # start-up, untimed
    started = time.perf_counter()
    rows = []
    for scene in args.scenes:
        for name, options in loops.items():
            row = run_loop(scene, ARCHS.get(scene, args.arch), options, args.iters, args.seed,
                           args.device)  # fmt: skip
            rows.append({"loop": name, **row})
            print(f"{scene} {name}: {row['psnr']:.2f} dB in {row['encode_s']:.1f} s",
                  flush=True)  # fmt: skip
    write(Path(args.out), rows, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
