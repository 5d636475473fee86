"""What each part of the ``latent`` codec is worth, measured on one scene at one budget.

    python benchmarks/latent_ablation.py --scene jasper_ridge --bpppb 0.1 \
        --out benchmarks/results/latent_ablation

Every row is a full, rate-controlled encode (file within the budget, every byte counted)
with parts switched off through the codec's own options; ``pca-jpeg2000`` runs beside
it. Also reported: at the full codec's k and step, the file with and without the context
model (RDOQ runs under each model, so the quantised values differ a little), and the
spectral basis' cost as the codec codes it (an estimate from the fitted Laplace models)
against fp16. One torch thread, CPU.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from hsinr import codecs, datasets, metrics
from hsinr.codecs import latent
from hsinr.entropy.laplace import fit_scale_codes, laplace_bits, scale_of

QUIET = codecs.Run(progress=False)
VARIANTS = {
    "full codec": {},
    "no RDOQ (plain rounding)": {"rdoq": 0},
    "no context model": {"contexts": False},
    "no basis refit": {"refit": False},
    "none of the three": {"rdoq": 0, "contexts": False, "refit": False},
    "3 RDOQ passes": {"rdoq": 3},
    "+ 300 steps of gradient RD training": {"iterations": 300},
}


def basis_cost(data: bytes) -> tuple[float, int]:
    """Estimated bytes of the coded basis (differences under their fitted Laplace models,
    plus 2 table bytes per row) and the bytes the same rows take in fp16."""
    _, _, stored = latent.unpack(data)
    differences = np.diff(stored.rows, axis=1, prepend=0)
    rows = np.repeat(np.arange(len(differences)), differences.shape[1])
    codes = fit_scale_codes(differences, rows, len(differences))
    bits = laplace_bits(differences.reshape(-1), scale_of(codes)[rows]).sum()
    return bits / 8 + 2 * len(differences), 2 * differences.size


def row(name: str, cube, data: bytes, k, seconds: float) -> str:
    """One table row: the file decoded and scored against ``cube``."""
    decoded = codecs.decode(data).data
    scores = [metrics.psnr(cube.data, decoded), metrics.mpsnr(cube.data, decoded)]
    return (
        f"| {name} | {scores[0]:.2f} | {scores[1]:.2f} | {metrics.sam(cube.data, decoded):.2f} | "
        f"{metrics.bpppb(len(data), cube.shape):.4f} | {k} | {seconds:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", default="jasper_ridge")
    parser.add_argument("--bpppb", type=float, default=0.1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cube = datasets.load(args.scene)
    codec = codecs.get("latent")
    lines = [
        f"# latent codec ablation: {args.scene}, {args.bpppb} bpppb",
        "",
        f"Command: `python {shlex.join(sys.argv)}` (x86_64, 1 torch thread, CPU).",
        "",
        "| variant | PSNR dB | MPSNR dB | SAM deg | bpppb | k | encode s |",
        "|---|---|---|---|---|---|---|",
    ]
    full = None
    for name, options in VARIANTS.items():
        encoding = codec.encode(cube, {"bpppb": args.bpppb, **options}, QUIET)
        full = full or encoding
        k = encoding.details["components"]
        lines.append(row(name, cube, encoding.data, k, encoding.seconds))
        print(lines[-1], flush=True)
    baseline = codecs.encode("pca-jpeg2000", cube, {"bpppb": args.bpppb}, QUIET)
    lines.append(row("pca-jpeg2000 (baseline)", cube, baseline.data, "", baseline.seconds))
    k, step = full.details["components"], full.details["step"]
    fixed = {"components": k, "step": step}
    with_contexts = codec.encode(cube, fixed, QUIET)
    without = codec.encode(cube, {**fixed, "contexts": False}, QUIET)
    coded, fp16 = basis_cost(full.data)
    lines += [
        "",
        f"At the full codec's k = {k} and step q = {step:.4g}: "
        f"{len(with_contexts.data):,} bytes with the context model, {len(without.data):,} "
        f"without ({100 * (1 - len(with_contexts.data) / len(without.data)):.1f} % saved).",
        "",
        f"Spectral basis (mean + k rows) in the full codec's file: about {coded:,.0f} bytes "
        f"as coded, {fp16:,} bytes in fp16.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-4:]))


if __name__ == "__main__":
    main()
