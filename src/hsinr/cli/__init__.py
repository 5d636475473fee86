"""The ``hsinr`` command.

    hsinr demo                                  compress / decompress the bundled sample
    hsinr compress IN OUT.hsinr --bpppb 0.1     compress a cube (codec siren by default)
    hsinr decompress IN.hsinr OUT.npz           decode (optionally a window / bands)
    hsinr eval ORIGINAL DECODED                 PSNR, MPSNR, SAM, SSIM, MSE
    hsinr info FILE                             what a cube or compressed file holds
    hsinr scenes                                which benchmark scenes are found
    hsinr bench --scenes ... --codecs ... --out DIR    rate-distortion benchmark
    hsinr meta-train --scenes ... --out base.hsbase    base network for --codec meta

Wherever a cube file is expected, ``scene:NAME`` names a benchmark scene instead
(``scene:sample`` is the small scene shipped with hsinr). Errors that are the input's
fault print one line and exit with status 1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hsinr import __version__, datasets
from hsinr.cli import bench, codec, demo, info, meta_train
from hsinr.errors import HsinrError

EXIT_INPUT_ERROR = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsinr",
        description="Hyperspectral image compression with implicit neural representations.",
        epilog="A cube argument is a file (.mat .npy .npz .hdr .tif) or scene:NAME "
        f"(NAME one of {', '.join(datasets.SCENE_NAMES)}, or sample).",
    )
    parser.add_argument("--version", action="version", version=f"hsinr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.register(commands)
    codec.register(commands)
    info.register(commands)
    bench.register(commands)
    meta_train.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command as given, for records such as a base network's
    try:
        return int(args.run(args))
    except HsinrError as exc:
        print(f"hsinr: error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"hsinr: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    except MemoryError:
        print("hsinr: error: not enough memory for this cube", file=sys.stderr)
    except KeyboardInterrupt:
        print("hsinr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_INPUT_ERROR


__all__ = ["build_parser", "main"]
