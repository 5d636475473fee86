"""The siren codec on the four benchmark scenes: the CRV 2023 paper's Table II, Fig. 4 and
Fig. 6, measured here.

    python benchmarks/siren_benchmark.py --iters 2000 --jobs 2 --out benchmarks/results/siren

writes, under --out:
  results.csv / results.md   scene, precision, target and achieved bpppb, PSNR, MPSNR, SAM,
                             SSIM, encode and decode seconds, chosen arch; the paper's
                             Table II beside ours; the command, machine and versions
  curves.png                 PSNR per iteration and its running max (Fig. 6 analogue)
  search.png / search.csv    architecture search at one budget (Fig. 4 analogue)

Each job runs in its own process with one torch thread, --jobs at a time. A rate that no
network reaches (a small crop at a low budget) is recorded with its error.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

import hsinr
from hsinr import metrics
from hsinr.codecs import Run
from hsinr.codecs.siren import SirenCodec
from hsinr.errors import HsinrError

SCENES = ("jasper_ridge", "indian_pines", "pavia_university", "cuprite")
RATES = (0.05, 0.1, 0.2)
PRECISIONS = (32, 16)
# The paper's Table II (full scenes except where noted): PSNR dB at bpppb, with (n_h, w_h).
PAPER = {
    "indian_pines": "ours 40.61 @ 0.2 (15,40); hp_ours 40.35 @ 0.1; JPEG2000 38.10 @ 0.2",
    "jasper_ridge": "ours 35.70 @ 0.1 (10,20); hp_ours 35.47 @ 0.06; PCA-DCT 26.82 @ 0.1",
    "pavia_university": "ours 33.75 @ 0.1 (20,60); hp_ours 20.89 @ 0.05; PCA-DCT 25.44 @ 0.1",
    "cuprite": "ours 28.95 @ 0.1 (25,100); hp_ours 24.33 @ 0.06; PCA-DCT 27.30 @ 0.1",
}
LOOPS = {"faithful": {"faithful": True}, "default": {}}
LOOP_TEXT = {"faithful": "Adam lr 2e-4, constant, as in the paper",
             "default": "the codec's default: Adam with warm-up and a cosine schedule"}
FIELDS = [
    "scene", "shape", "precision", "target_bpppb", "bpppb", "psnr", "mpsnr", "sam", "ssim",
    "encode_s", "decode_s", "arch", "iterations", "best_iteration", "error",
]  # fmt: skip


def run_job(job: tuple[str, int, float, int, float]) -> dict[str, object]:
    scene, precision, rate, iterations, loop = job
    torch.set_num_threads(1)
    cube = hsinr.datasets.load(scene)
    row: dict[str, object] = {
        "scene": scene, "shape": "x".join(map(str, cube.shape)), "precision": precision,
        "target_bpppb": rate,
    }  # fmt: skip
    codec = SirenCodec()
    try:
        options = {"bpppb": rate, "precision": precision, "iterations": iterations,
                   **LOOPS[loop]}  # fmt: skip
        encoding = codec.encode(cube, options, Run(progress=False))
        encode_s = encoding.seconds
    except HsinrError as exc:
        return {**row, "error": str(exc)}
    started = time.perf_counter()
    decoded = codec.decode(encoding.data)
    decode_s = time.perf_counter() - started
    scores = metrics.report(cube, decoded)
    row.update(
        bpppb=metrics.bpppb(len(encoding.data), cube.shape), psnr=scores["psnr"],
        mpsnr=scores["mpsnr"], sam=scores["sam"], ssim=scores["ssim"], encode_s=encode_s,
        decode_s=decode_s, arch=encoding.details["arch"],
        iterations=encoding.details["fit"]["iterations"],
        best_iteration=encoding.details["fit"]["best_iteration"], error="",
        curve=encoding.details["fit"]["curve"],
    )  # fmt: skip
    return row


def run_search(job: tuple[str, int, float, int, float]) -> list[dict[str, object]]:
    scene, precision, rate, iterations, loop = job
    torch.set_num_threads(1)
    cube = hsinr.datasets.load(scene)
    options = {"bpppb": rate, "precision": precision, "search": True,
               "search_iterations": iterations, "iterations": 1, **LOOPS[loop]}  # fmt: skip
    encoding = SirenCodec().encode(cube, options, Run(progress=False))
    return [
        {key: trial[key] for key in ("arch", "params", "bpppb", "psnr")}
        for trial in encoding.details["trials"]
    ]


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_outputs(out: Path, rows, search_rows, args, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(out / "results.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "search.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, ["arch", "params", "bpppb", "psnr"])
        writer.writeheader()
        writer.writerows(search_rows)

    figure, axes = plt.subplots(1, len(args.scenes), figsize=(4.2 * len(args.scenes), 3.6))
    for axis, scene in zip(np.atleast_1d(axes), args.scenes, strict=True):
        for row in rows:
            if row["scene"] == scene and row.get("curve") and row["target_bpppb"] == 0.1:
                curve = np.array(row["curve"])
                label = f"fp{row['precision']} {row['arch']}"
                axis.plot(curve, alpha=0.35, lw=0.8)
                axis.plot(np.maximum.accumulate(curve), lw=1.5, label=f"MAX {label}")
        axis.set(title=f"{scene} @ 0.1 bpppb", xlabel="iteration", ylabel="PSNR (dB)")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 3.6))
    ordered = sorted(search_rows, key=lambda r: int(r["arch"].split("x")[0]))
    axis.bar([r["arch"] for r in ordered], [r["psnr"] for r in ordered])
    axis.set(
        title=f"architecture search: {args.search_scene} @ {args.search_rate} bpppb, "
        f"fp{args.search_precision}, {args.search_iters} iterations each",
        xlabel="hidden layers x width", ylabel="PSNR (dB)",
    )  # fmt: skip
    axis.set_ylim(min(r["psnr"] for r in ordered) - 1, max(r["psnr"] for r in ordered) + 1)
    axis.tick_params(axis="x", rotation=60, labelsize=7)
    axis.title.set_fontsize(8)
    figure.tight_layout()
    figure.savefig(out / "search.png", dpi=100)
    plt.close(figure)

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = [
        "# siren codec benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} CPU cores, no GPU; "
        f"{args.jobs} jobs in parallel, 1 torch thread each; torch {torch.__version__}, "
        f"Python {platform.python_version()}; total {seconds / 60:.1f} min.  ",
        f"Fitting: the {args.loop} loop ({LOOP_TEXT[args.loop]}), {args.iters} iterations, "
        "full batch, default "
        "architecture (no search), seed 0; the best-PSNR parameters are kept.",
        "",
        "Scenes are the project's shared data: Jasper Ridge is the full 100 x 100 x 198 "
        "scene; Indian Pines, Pavia University and Cuprite are real crops, much smaller "
        "than the paper's full scenes, so the same bpppb buys a far smaller network.",
        "",
        "| scene | shape | fp | target bpppb | bpppb | PSNR | MPSNR | SAM | SSIM | "
        "encode s | decode s | arch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.get("error"):
            lines.append(
                f"| {row['scene']} | {row['shape']} | {row['precision']} | "
                f"{row['target_bpppb']} | - | not reachable: {row['error']} ||||||| "
            )
            continue
        lines.append(
            "| " + " | ".join(_fmt(row[k]) for k in (
                "scene", "shape", "precision", "target_bpppb", "bpppb", "psnr", "mpsnr",
                "sam", "ssim", "encode_s", "decode_s", "arch")) + " |"
        )  # fmt: skip
    lines += ["", "The paper's Table II, for comparison (its own scenes and byte counting):", ""]
    lines += [f"- {scene}: {text}" for scene, text in PAPER.items() if scene in args.scenes]
    lines += [
        "",
        f"Architecture search ({args.search_scene}, {args.search_rate} bpppb, "
        f"fp{args.search_precision}, {args.search_iters} iterations per network): "
        "search.csv, search.png. PSNR per iteration at 0.1 bpppb: curves.png.",
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES))
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES))
    parser.add_argument("--precisions", nargs="+", type=int, default=list(PRECISIONS))
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--loop", choices=sorted(LOOPS), default="faithful",
                        help="the paper's fitting loop (faithful) or the codec's default")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--search-scene", default="jasper_ridge")
    parser.add_argument("--search-rate", type=float, default=0.1)
    parser.add_argument("--search-precision", type=int, default=32)
    parser.add_argument("--search-iters", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/siren")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (scene, precision, rate, args.iters, args.loop)
        for scene in args.scenes
        for rate in args.rates
        for precision in args.precisions
    ]
    search_job = (args.search_scene, args.search_precision, args.search_rate,
                  args.search_iters, args.loop)  # fmt: skip
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        pending_search = pool.apply_async(run_search, (search_job,))
        rows = []
        for row in pool.imap(run_job, jobs):
            rows.append(row)
            shown = f"{row['psnr']:.2f} dB {row['arch']}" if not row.get("error") else "n/a"
            print(f"{row['scene']} fp{row['precision']} @ {row['target_bpppb']}: {shown}",
                  flush=True)  # fmt: skip
        search_rows = pending_search.get()
    write_outputs(out, rows, search_rows, args, time.perf_counter() - started)
    print(f"wrote {out}/results.md")


if __name__ == "__main__":
    main()
