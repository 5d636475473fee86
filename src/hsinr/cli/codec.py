"""``hsinr compress``, ``hsinr decompress`` and ``hsinr eval``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from hsinr import codecs, io, metrics
from hsinr.basenet import resolve_base
from hsinr.cli._common import (
    add_limits,
    add_quiet,
    check_output,
    limits_of,
    naming,
    parse_range,
    parse_window,
    print_table,
    read_bytes,
    read_input,
    torch_device,
)
from hsinr.codecs.meta import amortised_bpppb
from hsinr.errors import InputError
from hsinr.io._atomic import atomic_outputs

CUBE_FACTS = ("shape", "dtype", "min", "max")
# CLI flag -> codec option; only the flags a user set are passed on, and a codec refuses
# an option it does not take.
CODEC_OPTIONS = {
    "precision": "precision",
    "arch": "arch",
    "search": "search",
    "iters": "iterations",
    "search_iters": "search_iterations",
    "lr": "lr",
    "schedule": "schedule",
    "max_seconds": "max_seconds",
    "target_psnr": "target_psnr",
    "batch_size": "batch_size",
    "bits": "bits",
    "granularity": "granularity",
    "qat_iters": "qat_iterations",
    "steps": "steps",
    "base": "base",
    "components": "components",
    "rdoq": "rdoq",
}


def codec_options(args: argparse.Namespace) -> dict[str, object]:
    options = {
        option: getattr(args, flag)
        for flag, option in CODEC_OPTIONS.items()
        if getattr(args, flag) is not None and getattr(args, flag) is not False
    }
    options.update(seed=args.seed, device=args.device, progress=not args.quiet)
    return options


def write_bytes(data: bytes, path: Path) -> None:
    with atomic_outputs(path) as (temp,):
        temp.write_bytes(data)


def run_compress(args: argparse.Namespace) -> int:
    torch_device(args.device)
    cube, _ = read_input(args.input, args.var, limits_of(args))
    out = check_output(args.output, args.input)
    codec = codecs.get(args.codec)
    if args.bpppb is None and args.codec not in ("siren", "meta"):
        raise InputError(f"codec {args.codec} needs a budget: --bpppb")
    started = time.perf_counter()
    data = codecs.encode(codec, cube, bpppb=args.bpppb, **codec_options(args))
    encode_seconds = time.perf_counter() - started
    write_bytes(data, out)
    started = time.perf_counter()
    decoded = codecs.decode(data, device=args.device, base=args.base)
    decode_seconds = time.perf_counter() - started
    facts = codec.describe(data)
    details = ", ".join(f"{key} {value}" for key, value in facts.items() if key not in CUBE_FACTS)
    print_table([
        ("output", f"{out} ({len(data):,} bytes, codec {codec.name}: {details})"),
        ("bpppb", f"{metrics.bpppb(len(data), cube.shape):.4f} achieved"
                  + (f" (budget {args.bpppb:g})" if args.bpppb else "")),
        ("PSNR", f"{metrics.psnr(cube, decoded):.2f} dB"),
        ("encode", f"{encode_seconds:.2f} s"),
        ("decode", f"{decode_seconds:.3f} s"),
        ("device", f"{args.device}, {torch.get_num_threads()} threads"),
        *_amortised_rows(codec, data, cube.shape, args.base),
    ])  # fmt: skip
    return 0


def _amortised_rows(codec, data: bytes, shape, base) -> list[tuple[str, str]]:
    """For ``meta``: the rate with the base network's bytes shared among N files."""
    if codec.name != "meta":
        return []
    net = resolve_base(base)
    rates = ", ".join(
        f"{amortised_bpppb(len(data), net.size, n, shape):.4f} over {n}" for n in (1, 10, 100)
    )
    return [("amortised", f"bpppb with the base network ({net.size:,} bytes) shared: {rates}")]


def run_decompress(args: argparse.Namespace) -> int:
    torch_device(args.device)
    data = read_bytes(args.input)
    out = check_output(args.output, args.input)
    io.format_for(out, saving=True)  # refuse an unknown output type before decoding
    rows, cols = parse_window(args.window) if args.window else (slice(None), slice(None))
    bands = parse_range(args.bands, "band range") if args.bands else slice(None)
    started = time.perf_counter()
    with naming(args.input):
        cube = codecs.decode(
            data, rows=rows, cols=cols, bands=bands, device=args.device, base=args.base,
            limits=limits_of(args),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    io.save(cube.replace(name=Path(args.input).stem), out)
    height, width, n_bands = cube.shape
    print(f"wrote {out}: {height} x {width} x {n_bands} {cube.dtype} (decoded in {seconds:.3f} s)")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    original, _ = read_input(args.original, args.var, limits_of(args))
    decoded, _ = read_input(args.decoded, limits=limits_of(args))
    scores = metrics.report(original, decoded)
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    print_table([
        ("PSNR", f"{scores['psnr']:.3f} dB  (R = original max - min)"),
        ("MPSNR", f"{scores['mpsnr']:.3f} dB  (mean of per-band PSNR)"),
        ("SAM", f"{scores['sam']:.4f} degrees"),
        ("SSIM", f"{scores['ssim']:.4f}  (mean over bands)"),
        ("MSE", f"{scores['mse']:.6g}  (original units squared)"),
    ])  # fmt: skip
    return 0


def add_siren_options(parser: argparse.ArgumentParser) -> None:
    siren = parser.add_argument_group("siren codec (--lr also meta)")
    siren.add_argument("--precision", type=int, choices=(16, 32), help="weight bits (32)")
    how = siren.add_mutually_exclusive_group()
    how.add_argument("--arch", help="network as LAYERSxWIDTH, e.g. 6x32")
    how.add_argument("--search", action="store_true", help="search the networks that fit")
    siren.add_argument(
        "--iters", type=int,
        help="fitting iterations (siren 2000); latent: rate-distortion training (0 = none)",
    )  # fmt: skip
    siren.add_argument("--search-iters", type=int, help="iterations per searched network (300)")
    siren.add_argument(
        "--lr", type=float, help="learning rate: siren Adam (2e-4); meta inner SGD (the base's)"
    )
    siren.add_argument("--schedule", choices=("constant", "cosine"), help="lr schedule")
    siren.add_argument("--max-seconds", type=float, help="stop fitting after this wall time")
    siren.add_argument("--target-psnr", type=float, help="stop fitting at this PSNR (dB)")
    siren.add_argument("--batch-size", type=int, help="random pixels per step (all)")
    siren.add_argument(
        "--bits", help="siren: quantise weights to 4-16 bits and entropy-code them, or auto "
        "(fp16 or 6/8/10/12 bits, whichever fits best); meta: latent bits 2-16 or auto"
    )  # fmt: skip
    siren.add_argument("--granularity", choices=("tensor", "channel"),
                       help="quantiser range per tensor (default) or output channel")  # fmt: skip
    siren.add_argument("--qat-iters", type=int,
                       help="quantisation-aware fine-tuning (a tenth of --iters)")  # fmt: skip
    meta = parser.add_argument_group("meta codec")
    meta.add_argument("--base", help="base network file (default: the one shipped with hsinr)")
    meta.add_argument("--steps", type=int, help="inner SGD steps per patch (the base's)")
    latent = parser.add_argument_group("latent codec")
    latent.add_argument("--components", type=int, help="spectral components k (searched)")
    latent.add_argument("--rdoq", type=int, help="RDOQ passes over the latents (2)")


def register(commands) -> None:
    compress = commands.add_parser("compress", help="compress a cube into an .hsinr file")
    compress.add_argument("input", help="a cube file, or scene:NAME")
    compress.add_argument("output", help="the compressed file to write (e.g. out.hsinr)")
    compress.add_argument("--codec", default="siren", choices=codecs.names())
    compress.add_argument("--bpppb", type=float, help="bit budget, bits per pixel per band")
    compress.add_argument("--var", help="the variable holding the cube (.mat / .npz)")
    compress.add_argument("--seed", type=int, default=0, help="random seed (0)")
    compress.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_quiet(compress)
    add_limits(compress)
    add_siren_options(compress)
    compress.set_defaults(run=run_compress)

    decompress = commands.add_parser("decompress", help="decode an .hsinr file to a cube file")
    decompress.add_argument("input", help="the compressed file")
    decompress.add_argument("output", help="the cube file to write (.mat .npy .npz .hdr .tif)")
    decompress.add_argument("--window", help="decode only ROW0:ROW1,COL0:COL1")
    decompress.add_argument("--bands", help="decode only bands B0:B1")
    decompress.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    decompress.add_argument("--base", help="base network file for meta files (the shipped one)")
    add_limits(decompress)
    decompress.set_defaults(run=run_decompress)

    evaluate = commands.add_parser("eval", help="PSNR, MPSNR, SAM, SSIM, MSE of a decoded cube")
    evaluate.add_argument("original", help="the original cube file, or scene:NAME")
    evaluate.add_argument("decoded", help="the decoded cube file")
    evaluate.add_argument("--var", help="the variable holding the original cube")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    add_limits(evaluate)
    evaluate.set_defaults(run=run_eval)
