"""What the ``hsinr`` sub-commands share: reading inputs, guarding outputs, printing."""

from __future__ import annotations

import mmap
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hsinr import datasets, io
from hsinr.cube import Cube
from hsinr.errors import HsinrError, InputError
from hsinr.limits import DEFAULT, Limits

SCENE_PREFIX = "scene:"


def read_input(
    spec: str, var: str | None = None, limits: Limits = DEFAULT, *, lazy: bool = False
) -> tuple[Cube, list[Path]]:
    """The cube named by ``spec`` (a file path or ``scene:NAME``) and the files holding it;
    with ``lazy``, its values left in the file where the format allows."""
    if not spec.startswith(SCENE_PREFIX):
        return io.load(spec, var=var, limits=limits, lazy=lazy), io.storage_paths(spec)
    if var is not None:
        raise InputError("--var applies to files, not to scene:NAME")
    name = spec[len(SCENE_PREFIX) :]
    cube = datasets.load(name)
    path = datasets.sample_path() if name == datasets.SAMPLE_NAME else datasets.locate(name)[0]
    return cube, io.storage_paths(path)


@contextmanager
def naming(path: str) -> Iterator[None]:
    """Errors raised inside name the file ``path`` (unless they already do)."""
    try:
        yield
    except HsinrError as exc:
        name = Path(path).name
        if str(exc).startswith((name, path)):
            raise
        raise type(exc)(f"{name}: {exc}") from exc


def read_bytes(path: str):
    """The bytes of a compressed file (memory-mapped: a tiled file's chunks are read only
    when a decoder asks for them), with a clear error when it is missing."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file")
    if file.stat().st_size == 0:
        return b""
    with open(file, "rb") as stream:
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)


def check_output(output: str, *inputs: str) -> Path:
    """``output`` as a path, refused when it would overwrite an input or lacks a folder."""
    out = Path(output)
    for spec in inputs:
        if not spec.startswith(SCENE_PREFIX) and out.resolve() == Path(spec).resolve():
            raise InputError(f"{output}: refusing to overwrite the input file")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder to write {out.name} into")
    return out


def device_text(device: str) -> str:
    """The device, with torch's thread count when torch did the work."""
    if "torch" not in sys.modules:
        return f"{device} (numpy)"
    import torch

    return f"{device}, {torch.get_num_threads()} torch threads"


def parse_range(text: str, what: str) -> slice:
    """``"a:b"`` (either end may be left out) -> ``slice(a, b)``."""
    parts = text.split(":")
    if len(parts) != 2:
        raise InputError(f"{what} {text!r} is not START:STOP")
    try:
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise InputError(f"{what} {text!r} is not START:STOP with integers") from None
    return slice(start, stop)


def parse_window(text: str) -> tuple[slice, slice]:
    """``"r0:r1,c0:c1"`` -> (rows, cols)."""
    parts = text.split(",")
    if len(parts) != 2:
        raise InputError(f"window {text!r} is not ROW0:ROW1,COL0:COL1")
    return parse_range(parts[0], "row range"), parse_range(parts[1], "column range")


def print_table(rows: list[tuple[str, object]]) -> None:
    """Print ``key  value`` lines with the values aligned."""
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
