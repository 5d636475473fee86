"""``hsinr demo``: compress and decompress the bundled sample, and show the result."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from hsinr import codecs, datasets, io, metrics, plot
from hsinr.cli._common import add_quiet, print_table, torch_device
from hsinr.cli.codec import write_bytes

DEMO_BPPPB = 0.1
DEMO_ITERATIONS = 3000


def run_demo(args: argparse.Namespace) -> int:
    torch_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cube = datasets.sample()
    codec = codecs.get("siren")
    print(f"sample: Jasper Ridge crop, {' x '.join(map(str, cube.shape))} {cube.dtype}")
    started = time.perf_counter()
    data = codec.encode(
        cube, bpppb=args.bpppb, precision=args.precision, iterations=args.iters,
        seed=args.seed, device=args.device, progress=not args.quiet,
    )  # fmt: skip
    encode_seconds = time.perf_counter() - started
    write_bytes(data, out / "sample.hsinr")
    started = time.perf_counter()
    decoded = codec.decode(data, device=args.device)
    decode_seconds = time.perf_counter() - started
    io.save(decoded.replace(name="sample_decoded"), out / "sample_decoded.npz")
    scores = metrics.report(cube, decoded)
    achieved = metrics.bpppb(len(data), cube.shape)
    facts = codec.describe(data)
    picture = out / "sample_comparison.png"
    plot.save_comparison(
        cube, decoded, picture,
        title=f"siren {facts['arch']} fp{args.precision}: {achieved:.3f} bpppb, "
              f"PSNR {scores['psnr']:.2f} dB",
    )  # fmt: skip
    print_table([
        ("compressed", f"{out / 'sample.hsinr'}: {len(data):,} bytes "
                       f"(raw uint16: {cube.data.nbytes:,} bytes)"),
        ("network", f"{facts['arch']} (hidden layers x width), fp{args.precision}"),
        ("bpppb", f"{achieved:.4f} (budget {args.bpppb:g})"),
        ("PSNR", f"{scores['psnr']:.2f} dB"),
        ("MPSNR", f"{scores['mpsnr']:.2f} dB"),
        ("SAM", f"{scores['sam']:.3f} degrees"),
        ("encode", f"{encode_seconds:.1f} s ({args.iters} iterations)"),
        ("decode", f"{decode_seconds:.3f} s"),
        ("device", f"{args.device}, {torch.get_num_threads()} threads"),
        ("decoded", str(out / "sample_decoded.npz")),
        ("picture", str(picture)),
    ])  # fmt: skip
    return 0


def register(commands) -> None:
    demo = commands.add_parser("demo", help="compress / decompress the bundled sample scene")
    demo.add_argument("--out", default="hsinr-demo", help="folder for the outputs (hsinr-demo)")
    demo.add_argument("--bpppb", type=float, default=DEMO_BPPPB, help=f"({DEMO_BPPPB})")
    demo.add_argument("--precision", type=int, choices=(16, 32), default=16, help="(16)")
    demo.add_argument("--iters", type=int, default=DEMO_ITERATIONS, help=f"({DEMO_ITERATIONS})")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_quiet(demo)
    demo.set_defaults(run=run_demo)
