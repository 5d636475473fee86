"""The ``hsinr`` command.

    hsinr demo                                  compress / decompress the bundled sample
    hsinr compress IN OUT.hsinr --bpppb 0.1     compress a cube (codec siren by default)
    hsinr compress-batch INPUTS --out DIR ...   compress many scenes on a Dask cluster
    hsinr decompress IN.hsinr OUT.npz           decode (optionally a window / bands)
    hsinr eval ORIGINAL DECODED                 PSNR, MPSNR, SAM, SSIM, MSE
    hsinr info FILE                             what a cube or compressed file holds
    hsinr view FILE --out X.png                 a picture (--compare ORIGINAL: error, spectra)
    hsinr scenes                                which benchmark scenes are found
    hsinr bench --scenes ... --codecs ... --out DIR    rate-distortion benchmark
    hsinr meta-train --scenes ... --out base.hsbase    base network for --codec meta

Wherever a cube file is expected, ``scene:NAME`` names a benchmark scene instead
(``scene:sample`` is the small scene shipped with hsinr). Exit status: 0 done; 2 a usage
error (an unknown flag, a missing argument, an option out of range or contradicting
another); 1 anything else a user can fix (a bad or damaged file, a budget the cube
cannot have, too little memory), printed as one line; 130 interrupted; 143 terminated.
Warnings (a file over its budget) print as one ``hsinr: warning:`` line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from hsinr import __version__, datasets
from hsinr.cli import batch, bench, codec, demo, info, meta_train, view
from hsinr.cli.options import UsageError
from hsinr.errors import HsinrError

EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM
# what torch's allocators say when memory runs out (it raises RuntimeError, not MemoryError)
OUT_OF_MEMORY = ("can't allocate memory", "out of memory", "DefaultCPUAllocator")


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every ``finally`` and every
    temporary-file cleanup runs before the process exits."""


def _terminate(signum, frame) -> None:
    raise Terminated


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"hsinr: warning: {message}", file=sys.stderr)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; ``argv`` (the arguments about to be parsed) says which codec's options
    ``compress`` and ``demo`` take."""
    parser = argparse.ArgumentParser(
        prog="hsinr",
        description="Hyperspectral image compression with implicit neural representations.",
        epilog="A cube argument is a file (.mat .npy .npz .hdr .tif .nc .he5) or scene:NAME "
        f"(NAME one of {', '.join(datasets.SCENE_NAMES)}, or sample).",
    )
    parser.add_argument("--version", action="version", version=f"hsinr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.register(commands, list(argv))
    codec.register(commands, list(argv))
    batch.register(commands, list(argv))
    info.register(commands)
    view.register(commands)
    bench.register(commands)
    meta_train.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    args.argv = argv  # the command as given, for records such as a base network's
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return int(args.run(args))
    except UsageError as exc:
        print(f"hsinr {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HsinrError as exc:
        print(f"hsinr: error: {exc}", file=sys.stderr)
    except OSError as exc:
        where = exc.filename or getattr(args, "input", None) or getattr(args, "file", "")
        print(f"hsinr: error: {where}: {exc.strerror or exc}", file=sys.stderr)
    except MemoryError:
        print("hsinr: error: not enough memory for this cube", file=sys.stderr)
    except RuntimeError as exc:
        if not any(text in str(exc) for text in OUT_OF_MEMORY):
            raise  # anything else is a bug in hsinr, and deserves its traceback
        print("hsinr: error: not enough memory for this cube", file=sys.stderr)
    except KeyboardInterrupt:
        print("hsinr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("hsinr: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_INPUT_ERROR


__all__ = ["build_parser", "main"]
