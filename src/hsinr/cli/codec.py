"""``hsinr compress``, ``hsinr decompress`` and ``hsinr eval``.

``compress`` knows no codec: the flags after ``--codec NAME`` are that codec's options,
generated from its ``Options`` (see :mod:`hsinr.cli.options`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hsinr import codecs, io, metrics
from hsinr.cli._common import (
    check_output,
    device_text,
    naming,
    parse_range,
    parse_window,
    print_table,
    read_bytes,
    read_input,
)
from hsinr.cli.options import (
    add_codec_options,
    add_limits,
    add_run_options,
    chosen_codec,
    codec_help,
    codec_options,
    limits_of,
    run_of,
)
from hsinr.codecs import Window
from hsinr.io._atomic import atomic_outputs

DEFAULT_CODEC = "siren"
CUBE_FACTS = ("shape", "dtype", "min", "max")
SHARED_OVER = (1, 10, 100)  # files a shared model's bytes are spread over, in the report


def write_bytes(data: bytes, path: Path) -> None:
    with atomic_outputs(path) as (temp,):
        temp.write_bytes(data)


def run_compress(args: argparse.Namespace) -> int:
    run = run_of(args)
    codec = codecs.get(args.codec)
    options = codec_options(codec, args)
    cube, _ = read_input(args.input, args.var, run.limits, lazy=True)
    for note in cube.notes:
        print(f"hsinr: note: {note}", file=sys.stderr)
    out = check_output(args.output, args.input)
    encoding = codec.encode(cube, options, run)
    write_bytes(encoding.data, out)
    facts = codec.describe(encoding.data, run)
    exclusion = codec.section(encoding.data, run).exclusion
    psnr, decode_seconds = _decoded_psnr(codec, encoding.data, cube, facts, exclusion, run)
    left_out = [] if exclusion is None else _left_out_rows(
        0 if exclusion.mask is None else int(exclusion.mask.sum()),
        exclusion.bands - len(exclusion.coded_bands))
    details = ", ".join(f"{key} {value}" for key, value in facts.items() if key not in CUBE_FACTS)
    budget = "" if options.bpppb is None else f" (budget {options.bpppb:g})"
    print_table([
        ("output", f"{out} ({len(encoding.data):,} bytes, codec {codec.name}: {details})"),
        ("bpppb", f"{encoding.bpppb:.4f} achieved{budget}"
                  + ("" if encoding.within_budget else ", OVER the budget")),
        ("PSNR", f"{psnr:.2f} dB"),
        *left_out,
        ("encode", f"{encoding.seconds:.2f} s"),
        ("decode", f"{decode_seconds:.3f} s"),
        ("device", device_text(run.device)),
        *_amortised_rows(encoding),
    ])  # fmt: skip
    return 0


def _decoded_psnr(codec, data, cube, facts, exclusion, run) -> tuple[float, float]:
    """The PSNR of the file against the input, decoded and compared a piece at a time
    (R from the file's header: the input's global max - min), and the decoding's seconds."""
    total = metrics.ErrorSum()
    seconds = 0.0
    stream = codec.stream(data, run=run)
    pieces = iter(stream)
    while True:
        started = time.perf_counter()
        piece = next(pieces, None)
        seconds += time.perf_counter() - started
        if piece is None:
            break
        step = max(1, metrics.ErrorSum.BLOCK_VALUES // max(1, piece.values[:1].size))
        for first in range(0, len(piece.rows), step):  # a whole-cube piece, a block at a time
            rows = piece.rows[first : first + step]
            original, decoded = cube.read(rows, piece.cols), piece.values[first : first + step]
            if exclusion is not None:  # the values the codec coded, nothing else
                bands = list(exclusion.coded_bands)
                original, decoded = original[:, :, bands], decoded[:, :, bands]
                valid = exclusion.valid(rows, piece.cols)
                if valid is not None:
                    original, decoded = original[valid][:, None], decoded[valid][:, None]
            total.add(original, decoded)
    return total.psnr(float(facts["max"]) - float(facts["min"])), seconds


def _amortised_rows(encoding) -> list[tuple[str, str]]:
    """For files that need a shared model (``meta``'s base network): the rate with the
    model's bytes spread over 1, 10 and 100 files."""
    shared = encoding.details.get("base_bytes")
    if not shared:
        return []
    rates = ", ".join(
        f"{metrics.amortised_bpppb(len(encoding.data), shared, n, encoding.shape):.4f} over {n}"
        for n in SHARED_OVER
    )
    return [("amortised", f"bpppb with the base network ({shared:,} bytes) shared: {rates}")]


def run_decompress(args: argparse.Namespace) -> int:
    run = run_of(args)
    data = read_bytes(args.input)
    out = check_output(args.output, args.input)
    io.format_for(out, saving=True)  # refuse an unknown output type before decoding
    rows, cols = parse_window(args.window) if args.window else (slice(None), slice(None))
    bands = parse_range(args.bands, "band range") if args.bands else slice(None)
    started = time.perf_counter()
    with naming(args.input):
        stream = codecs.for_file(data).stream(data, Window(rows, cols, bands), run)
        with io.writer(out, stream.shape, stream.dtype, name=Path(args.input).stem,
                       wavelengths=stream.wavelengths, metadata=stream.metadata) as output:
            for piece in stream:  # a tiled file: one tile at a time
                output.write(piece.rows, piece.cols, piece.values)
    seconds = time.perf_counter() - started
    height, width, n_bands = stream.shape
    print(f"wrote {out}: {height} x {width} x {n_bands} {stream.dtype} "
          f"(decoded and written in {seconds:.3f} s)")  # fmt: skip
    return 0


def run_eval(args: argparse.Namespace) -> int:
    limits = limits_of(args)
    original, _ = read_input(args.original, args.var, limits)
    decoded, _ = read_input(args.decoded, limits=limits)
    scores = metrics.report(original, decoded)
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    print_table([
        ("PSNR", f"{scores['psnr']:.3f} dB  (R = original max - min)"),
        ("MPSNR", _mpsnr_text(scores["mpsnr"])),
        ("SAM", f"{scores['sam']:.4f} degrees"),
        ("SSIM", f"{scores['ssim']:.4f}  (mean over bands)"),
        ("MSE", f"{scores['mse']:.6g}  (original units squared)"),
        *_left_out_rows(scores.get("nodata_pixels_left_out", 0),
                        scores.get("bad_bands_left_out", 0)),
    ])  # fmt: skip
    return 0


def _left_out_rows(pixels: int, bands: int) -> list[tuple[str, str]]:
    """The row saying what the measures left out, if anything."""
    parts = [f"{n:,} {what}" for n, what in ((pixels, "no-data pixels"), (bands, "bad bands"))
             if n]  # fmt: skip
    if not parts:
        return []
    return [("left out", " and ".join(parts) + " (from the metadata), in every measure")]


def _mpsnr_text(value: float) -> str:
    if value != value:  # NaN: no band varies
        return "undefined  (every band of the original is constant)"
    return f"{value:.3f} dB  (mean of per-band PSNR over the bands that vary)"


def codec_command(commands, name: str, summary: str, what: str, argv: list[str]):
    """A sub-command whose flags are those of the codec ``--codec NAME`` names in ``argv``
    (the others' listed at the end), its ``--codec`` flag and the run's flags."""
    codec = chosen_codec(argv, DEFAULT_CODEC) if name in argv else DEFAULT_CODEC
    codec = codec if codec in codecs.names() else DEFAULT_CODEC  # argparse names the bad one
    others = [other for other in codecs.names() if other != codec]
    parser = commands.add_parser(
        name, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{what}\nThe options after --codec NAME are that codec's: shown\n"
        f"below for {codec}, and for the others at the end.",
        epilog="options of the other codecs (give --codec NAME first):\n\n" + codec_help(others),
    )  # fmt: skip
    parser.add_argument("--codec", default=DEFAULT_CODEC, choices=codecs.names(),
                        help=f"the codec ({DEFAULT_CODEC})")  # fmt: skip
    add_codec_options(parser, type(codecs.get(codec)))
    add_run_options(parser)
    return parser


def register(commands, argv: list[str]) -> None:
    compress = codec_command(commands, "compress", "compress a cube into an .hsinr file",
                             "Compress a cube.", argv)  # fmt: skip
    compress.add_argument("input", help="a cube file, or scene:NAME")
    compress.add_argument("output", help="the compressed file to write (e.g. out.hsinr)")
    compress.add_argument("--var", help="the variable holding the cube (.mat / .npz)")
    compress.set_defaults(run=run_compress)

    decompress = commands.add_parser("decompress", help="decode an .hsinr file to a cube file")
    decompress.add_argument("input", help="the compressed file")
    decompress.add_argument("output", help="the cube file to write (.mat .npy .npz .hdr .tif .nc)")
    decompress.add_argument("--window", help="decode only ROW0:ROW1,COL0:COL1")
    decompress.add_argument("--bands", help="decode only bands B0:B1")
    add_run_options(decompress, seed=False, jobs=False, quiet=False)
    decompress.set_defaults(run=run_decompress)

    evaluate = commands.add_parser("eval", help="PSNR, MPSNR, SAM, SSIM, MSE of a decoded cube")
    evaluate.add_argument("original", help="the original cube file, or scene:NAME")
    evaluate.add_argument("decoded", help="the decoded cube file")
    evaluate.add_argument("--var", help="the variable holding the original cube")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    add_limits(evaluate)
    evaluate.set_defaults(run=run_eval)
