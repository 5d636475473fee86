"""``hsinr demo``: compress and decompress the bundled sample, and show the result.

``--codec NAME`` and that codec's options as for ``hsinr compress``; by default the
``siren`` codec with the settings it declares for the demo (``example_options``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hsinr import codecs, datasets, io, metrics
from hsinr.cli._common import device_text, print_table
from hsinr.cli.codec import DEFAULT_CODEC, write_bytes
from hsinr.cli.options import (
    add_codec_options,
    add_run_options,
    chosen_codec,
    codec_options,
    run_of,
)


def run_demo(args: argparse.Namespace) -> int:
    from hsinr import plot

    run = run_of(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cube = datasets.sample()
    codec = codecs.get(args.codec)
    options = codec_options(codec, args, base=type(codec).example_options)
    print(f"sample: Jasper Ridge crop, {' x '.join(map(str, cube.shape))} {cube.dtype}")
    encoding = codec.encode(cube, options, run)
    write_bytes(encoding.data, out / "sample.hsinr")
    started = time.perf_counter()
    decoded = codec.decode(encoding.data, run=run)
    decode_seconds = time.perf_counter() - started
    io.save(decoded.replace(name="sample_decoded"), out / "sample_decoded.npz")
    scores = metrics.report(cube, decoded)
    facts = codec.describe(encoding.data, run)
    settings = ", ".join(f"{key} {value}" for key, value in facts.items()
                         if key not in ("shape", "dtype", "min", "max"))  # fmt: skip
    picture = out / "sample_comparison.png"
    plot.save_comparison(
        cube, decoded, picture,
        title=f"{codec.name}: {encoding.bpppb:.3f} bpppb, PSNR {scores['psnr']:.2f} dB",
    )  # fmt: skip
    print_table([
        ("compressed", f"{out / 'sample.hsinr'}: {len(encoding.data):,} bytes "
                       f"(raw {cube.dtype}: {cube.data.nbytes:,} bytes)"),
        ("codec", f"{codec.name}: {settings}"),
        ("bpppb", f"{encoding.bpppb:.4f} (budget {options.bpppb:g})"),
        ("PSNR", f"{scores['psnr']:.2f} dB"),
        ("MPSNR", f"{scores['mpsnr']:.2f} dB"),
        ("SAM", f"{scores['sam']:.3f} degrees"),
        ("encode", f"{encoding.seconds:.1f} s"),
        ("decode", f"{decode_seconds:.3f} s"),
        ("device", device_text(run.device)),
        ("decoded", str(out / "sample_decoded.npz")),
        ("picture", str(picture)),
    ])  # fmt: skip
    return 0


def register(commands, argv: list[str]) -> None:
    codec = chosen_codec(argv, DEFAULT_CODEC) if "demo" in argv else DEFAULT_CODEC
    codec = codec if codec in codecs.names() else DEFAULT_CODEC
    demo = commands.add_parser("demo", help="compress / decompress the bundled sample scene")
    demo.add_argument("--out", default="hsinr-demo", help="folder for the outputs (hsinr-demo)")
    demo.add_argument("--codec", default=DEFAULT_CODEC, choices=codecs.names(),
                      help=f"the codec ({DEFAULT_CODEC}, with its demo settings "
                      f"{type(codecs.get(DEFAULT_CODEC)).example_options})")  # fmt: skip
    add_codec_options(demo, type(codecs.get(codec)))
    add_run_options(demo, base=True)
    demo.set_defaults(run=run_demo)
