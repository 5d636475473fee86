"""The ``hsinr`` command.

    hsinr info FILE [--var NAME] [--json]    what a cube file holds
    hsinr scenes [--data-dir DIR]            which benchmark scenes are found, and checked

Wherever a cube file is expected, ``scene:NAME`` names a benchmark scene instead
(``scene:sample`` is the small scene shipped with hsinr). Errors that are the input's
fault print one line and exit with status 1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsinr import __version__, datasets, io, metrics
from hsinr.cube import Cube
from hsinr.errors import HsinrError, InputError

SCENE_PREFIX = "scene:"
EXIT_INPUT_ERROR = 1
EXIT_INTERRUPTED = 130


def read_input(spec: str, var: str | None = None) -> tuple[Cube, list[Path]]:
    """The cube named by ``spec`` (a file path or ``scene:NAME``) and the files holding it."""
    if not spec.startswith(SCENE_PREFIX):
        return io.load(spec, var=var), io.storage_paths(spec)
    if var is not None:
        raise InputError("--var applies to files, not to scene:NAME")
    name = spec[len(SCENE_PREFIX) :]
    cube = datasets.load(name)
    path = datasets.sample_path() if name == datasets.SAMPLE_NAME else datasets.locate(name)[0]
    return cube, io.storage_paths(path)


def _format_number(value: float) -> str:
    return f"{value:.6g}"


def _info(args: argparse.Namespace) -> int:
    cube, paths = read_input(args.file, args.var)
    n_bytes = sum(path.stat().st_size for path in paths)
    low, high = np.min(cube.data), np.max(cube.data)
    facts = {
        "source": cube.source,
        "shape": list(cube.shape),
        "dtype": str(cube.dtype),
        "min": low.item(),
        "max": high.item(),
        "wavelengths": None if cube.wavelengths is None else cube.wavelengths.tolist(),
        "bytes_on_disk": n_bytes,
        "bpppb": metrics.bpppb(n_bytes, cube.shape),
        "dtype_bits": cube.dtype.itemsize * 8,
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    rows, cols, bands = cube.shape
    if cube.wavelengths is None:
        wavelengths = "not recorded"
    else:
        first, last = cube.wavelengths[0], cube.wavelengths[-1]
        wavelengths = f"{bands} values, {_format_number(first)} .. {_format_number(last)}"
    lines = [
        ("source", cube.source or args.file),
        ("shape", f"{rows} x {cols} x {bands}  (rows x cols x bands)"),
        ("dtype", str(cube.dtype)),
        ("range", f"{_format_number(low.item())} .. {_format_number(high.item())}"),
        ("wavelengths", wavelengths),
        ("size", f"{n_bytes:,} bytes on disk" + (f" in {len(paths)} files" * (len(paths) > 1))),
        (
            "bpppb",
            f"{facts['bpppb']:.4f}  (8 x bytes / (rows x cols x bands); "
            f"raw {cube.dtype} is {facts['dtype_bits']})",
        ),
    ]
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


def _scenes(args: argparse.Namespace) -> int:
    folder = datasets.find_data_dir(args.data_dir)
    print(f"data folder: {folder}")
    for name in datasets.SCENE_NAMES:
        try:
            path, entry = datasets.locate(name, folder)
            cube = datasets.load(name, folder)
        except HsinrError as exc:
            print(f"  {name:<18} not usable: {exc}")
            continue
        check = "sha256 checked" if entry.sha256 else "shape checked (no recorded sha256)"
        rows, cols, bands = cube.shape
        print(f"  {name:<18} {path.name}  {rows} x {cols} x {bands} {cube.dtype}  {check}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsinr",
        description="Hyperspectral image compression with implicit neural representations.",
        epilog="A cube argument is a file (.mat .npy .npz .hdr .tif) or scene:NAME "
        f"(NAME one of {', '.join(datasets.SCENE_NAMES)}, or sample).",
    )
    parser.add_argument("--version", action="version", version=f"hsinr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="show what a cube file holds")
    info.add_argument("file", help="a cube file, or scene:NAME")
    info.add_argument("--var", help="the variable holding the cube (.mat / .npz)")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")
    info.set_defaults(run=_info)

    scenes = commands.add_parser("scenes", help="list the benchmark scenes found and checked")
    scenes.add_argument("--data-dir", help=f"the data folder (default: ${datasets.DATA_ENV} ...)")
    scenes.set_defaults(run=_scenes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
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


__all__ = ["build_parser", "main", "read_input"]
