"""The meta codec on the four benchmark scenes, in-set and leave-one-scene-out, side by side
with ``siren`` and ``pca-jpeg2000`` (the ICPRAM 2025 paper's Tables 1 and 2, measured here).

    bash benchmarks/meta_train_all.sh          # the five base networks (see that script)
    python benchmarks/meta_benchmark.py --out benchmarks/results/meta

For each scene: ``meta`` with the shipped base (trained on all four scenes: in-set) and
with the base trained without that scene (LOSO), at several latent bit depths and inner
step counts; then, in the same run, ``pca-jpeg2000`` aimed at the rate of the 8-bit meta
file and ``siren`` (fp16) at the smallest rate any SIREN reaches on that scene. bpppb is
the file alone; ``amortised_bpppb`` adds the base network's bytes shared among the
``--images`` files it serves (4: the four scenes). One torch thread, CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

import torch

import hsinr
from hsinr import basenet, codecs, metrics
from hsinr.bench.run import environment
from hsinr.codecs.siren import SirenCodec
from hsinr.errors import HsinrError

SCENES = ("jasper_ridge", "indian_pines", "pavia_university", "cuprite")
PAPER = {  # ICPRAM 2025 Tables 1-2: PSNR at bpppb, compression seconds (full scenes)
    "indian_pines": "36.6 dB @ 0.004 bpppb, 0.014 s",
    "jasper_ridge": "36.6 dB @ 0.008 bpppb, 0.014 s",
    "pavia_university": "39.1 dB @ 0.0008 bpppb, 0.016 s",
    "cuprite": "33.6 dB @ 0.0001 bpppb, 0.009 s",
}
FIELDS = [
    "scene", "codec", "base", "setting", "bytes", "bpppb", "amortised_bpppb", "psnr",
    "mpsnr", "sam", "encode_s", "decode_s", "error",
]  # fmt: skip


def measure(cube, codec_name: str, *, bpppb=None, base=None, **options) -> dict:
    run = codecs.Run(progress=False, base=base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", codecs.BudgetWarning)  # the true rate is recorded
        encoding = codecs.encode(codec_name, cube, {"bpppb": bpppb, **options}, run)
    data, encode_s = encoding.data, encoding.seconds
    started = time.perf_counter()
    decoded = codecs.decode(data, run=run)
    decode_s = time.perf_counter() - started
    scores = metrics.report(cube, decoded)
    return {
        "bytes": len(data), "bpppb": metrics.bpppb(len(data), cube.shape),
        "psnr": scores["psnr"], "mpsnr": scores["mpsnr"], "sam": scores["sam"],
        "encode_s": encode_s, "decode_s": decode_s,
    }  # fmt: skip


def run(args) -> list[dict]:
    rows = []
    shipped = basenet.resolve_base(None)
    for scene in args.scenes:
        cube = hsinr.datasets.load(scene)
        bases = {"in-set": shipped}
        loso = args.bases / f"without_{scene}.hsbase"
        if loso.exists():
            bases["LOSO"] = basenet.load_base(loso)
        meta_rate = None
        for label, net in bases.items():
            for bits in args.bits:
                for steps in args.steps:
                    row = {"scene": scene, "codec": "meta", "base": f"{label} {net.name[:8]}",
                           "setting": f"{bits} bits, {steps} steps"}  # fmt: skip
                    try:
                        row.update(measure(cube, "meta", bits=bits, steps=steps, base=net))
                    except HsinrError as exc:
                        row["error"] = str(exc)
                    else:
                        row["amortised_bpppb"] = metrics.amortised_bpppb(
                            row["bytes"], net.size, args.images, cube.shape
                        )
                    rows.append(row)
                    if label == "in-set" and bits == 8 and meta_rate is None:
                        meta_rate = row.get("bpppb")
                    print(json.dumps(row), flush=True)
        comparisons = [("pca-jpeg2000", meta_rate, {})]
        siren_min = SirenCodec().min_bpppb(cube.shape, 16)
        comparisons.append(("siren", max(meta_rate, siren_min) * 1.0001,
                            {"precision": 16, "iterations": args.siren_iters}))  # fmt: skip
        for name, rate, options in comparisons:
            row = {"scene": scene, "codec": name, "base": "", "setting": f"target {rate:.4g}"}
            try:
                row.update(measure(cube, name, bpppb=rate, **options))
            except HsinrError as exc:
                row["error"] = str(exc)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def write(rows: list[dict], args, seconds: float) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows({key: row.get(key, "") for key in FIELDS} for row in rows)
    env = environment("cpu")
    record = {"rows": rows, "environment": env, "command": args.command}
    (args.out / "results.json").write_text(json.dumps(record, indent=1))
    lines = [
        "# Meta-learned codec: in-set and leave-one-scene-out", "",
        f"Command: `{args.command}` ({seconds / 60:.1f} min, {env['machine']}, "
        f"{env['cpus']} CPUs, 1 torch thread, torch {env['versions']['torch']}).", "",
        "bpppb counts every byte of the file; amortised bpppb adds the base network's bytes "
        f"shared among {args.images} files. PSNR over all values, R = original max - min.", "",
        "| scene | codec | base | setting | bytes | bpppb | amortised | PSNR | MPSNR | SAM | "
        "encode s | decode s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in rows:
        if row.get("error"):
            lines.append(f"| {row['scene']} | {row['codec']} | | {row['setting']} | "
                         f"{row['error']} | | | | | | | |")  # fmt: skip
            continue
        amortised = row.get("amortised_bpppb")
        lines.append(
            f"| {row['scene']} | {row['codec']} | {row['base']} | {row['setting']} | "
            f"{row['bytes']:,} | {row['bpppb']:.4f} | "
            f"{'' if amortised is None else f'{amortised:.4f}'} | {row['psnr']:.2f} | "
            f"{row['mpsnr']:.2f} | {row['sam']:.2f} | {row['encode_s']:.3f} | "
            f"{row['decode_s']:.3f} |"
        )
    lines += ["", "The paper (ICPRAM 2025, full scenes): " + "; ".join(
        f"{scene} {text}" for scene, text in PAPER.items())]  # fmt: skip
    (args.out / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES))
    parser.add_argument("--bases", type=Path, default=Path("benchmarks/results/meta/bases"))
    parser.add_argument("--bits", nargs="+", type=int, default=[8, 5, 3])
    parser.add_argument("--steps", nargs="+", type=int, default=[3, 50])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--siren-iters", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/meta"))
    args = parser.parse_args()
    args.command = shlex.join(["python", "benchmarks/meta_benchmark.py", *sys.argv[1:]])
    torch.set_num_threads(1)
    started = time.perf_counter()
    rows = run(args)
    write(rows, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
