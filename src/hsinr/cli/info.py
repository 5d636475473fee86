"""``hsinr info``: what a cube file or a compressed file holds; ``hsinr scenes``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hsinr import codecs, container, datasets, metrics
from hsinr.cli._common import SCENE_PREFIX, naming, print_table, read_input
from hsinr.cli.options import add_limits, limits_of
from hsinr.codecs import Run
from hsinr.errors import HsinrError
from hsinr.limits import DEFAULT, Limits

BASE_SUFFIX = ".hsbase"  # base network files (hsinr.basenet.SUFFIX, without loading torch)


def _number(value: float) -> str:
    return f"{value:.6g}"


def compressed_facts(path: Path, limits: Limits = DEFAULT) -> dict[str, object]:
    """The checked header of an hsinr file, as plain values."""
    data = path.read_bytes()
    with naming(str(path)):
        frame = container.unpack(data)
        if frame.chunks is not None:
            frame.chunks.verify()
        codec = codecs.for_file(data)
        described = codec.describe(data, Run(limits=limits))
        section = codec.section(data, Run(limits=limits))
    text, _ = container.split_metadata(data)
    facts: dict[str, object] = {
        "file": str(path),
        "codec": codec.name,
        "format_version": container.WITH_METADATA if frame.metadata else frame.version,
        "crc": "ok",
        **described,
        "shape": list(section.shape),
        "bytes": len(data),
        "metadata_bytes": container.section_bytes(text),
        "wavelengths": None if section.wavelengths is None else section.wavelengths.tolist(),
        "metadata": section.metadata.to_dict(),
    }
    if section.exclusion is not None:
        mask = section.exclusion.mask
        facts["coded_bands"] = len(section.exclusion.coded_bands)
        facts["nodata_pixels"] = 0 if mask is None else int(mask.sum())
    facts["bpppb"] = metrics.bpppb(len(data), facts["shape"])
    return facts


def _range_text(values: list[float] | None, unit: str | None = None) -> str:
    if values is None:
        return "not recorded"
    unit = f" {unit}" if unit else ""
    return f"{len(values)} values, {_number(values[0])} .. {_number(values[-1])}{unit}"


def _short(text: str, width: int = 72) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def metadata_rows(wavelengths: list[float] | None, meta: dict) -> list[tuple[str, str]]:
    """Table rows for the wavelengths and every recorded metadata field."""
    rows = [("wavelengths", _range_text(wavelengths, meta.get("wavelength_units")))]
    if "fwhm" in meta:
        rows.append(("fwhm", _range_text(meta["fwhm"])))
    if "band_names" in meta:
        names = meta["band_names"]
        rows.append(("band names", _short(f"{len(names)}: {names[0]} .. {names[-1]}")))
    if "bad_bands" in meta:
        bad = meta["bad_bands"]
        rows.append(("bad bands", _short(f"{len(bad)}: {', '.join(map(str, bad))}")))
    for key, label in (("nodata", "no-data value"), ("data_units", "data units"),
                       ("scale_factor", "scale factor"), ("offset", "offset"),
                       ("description", "description"), ("acquisition_time", "acquired"),
                       ("crs", "crs")):  # fmt: skip
        if key in meta:
            value = meta[key]
            rows.append((label, _number(value) if isinstance(value, float) else _short(value)))
    if "transform" in meta:
        x0, dx, _, y0, _, dy = meta["transform"]
        rows.append(("georeferenced", f"top-left ({_number(x0)}, {_number(y0)}), pixel "
                                      f"{_number(dx)} x {_number(abs(dy))}"))  # fmt: skip
    elif "map_info" in meta:
        rows.append(("map info", _short(", ".join(meta["map_info"]))))
    if "extra" in meta:
        rows.append(("other fields", _short(f"{len(meta['extra'])}: "
                                            f"{', '.join(meta['extra'])}")))  # fmt: skip
    return rows


def cube_facts(spec: str, var: str | None, limits: Limits = DEFAULT) -> dict[str, object]:
    cube, paths = read_input(spec, var, limits, lazy=True)
    n_bytes = sum(path.stat().st_size for path in paths)
    scale = cube.scale()  # read a block of rows at a time
    as_stored = int if np.issubdtype(cube.dtype, np.integer) else float
    return {
        "source": cube.source,
        "shape": list(cube.shape),
        "dtype": str(cube.dtype),
        "min": as_stored(scale.minimum),
        "max": as_stored(scale.maximum),
        "wavelengths": None if cube.wavelengths is None else cube.wavelengths.tolist(),
        "metadata": cube.metadata.to_dict(),
        "notes": list(cube.notes),
        "bytes_on_disk": n_bytes,
        "files": len(paths),
        "bpppb": metrics.bpppb(n_bytes, cube.shape),
        "dtype_bits": cube.dtype.itemsize * 8,
    }


def _is_compressed(spec: str) -> bool:
    if spec.startswith(SCENE_PREFIX) or not Path(spec).is_file():
        return False
    with open(spec, "rb") as stream:
        return container.is_container(stream.read(len(container.MAGIC)))


def base_facts(path: Path) -> dict[str, object]:
    """The checked configuration, hash and training record of a base network file."""
    from hsinr import basenet

    net = basenet.load_base(path)
    return {"file": str(path), "kind": "base network (meta codec)", "hash": net.name,
            "sha256": net.digest.hex(), **net.config.as_dict(), "bytes": net.size,
            "training": net.training}  # fmt: skip


def run_info(args: argparse.Namespace) -> int:
    if args.file.endswith(BASE_SUFFIX):
        facts = base_facts(Path(args.file))
        if args.json:
            print(json.dumps(facts, indent=2))
        else:
            shown = {**facts, "bytes": f"{facts['bytes']:,}"}
            shown["training"] = json.dumps(facts["training"])
            print_table(list(shown.items()))
        return 0
    compressed = _is_compressed(args.file)
    limits = limits_of(args)
    facts = (
        compressed_facts(Path(args.file), limits)
        if compressed
        else cube_facts(args.file, args.var, limits)
    )
    if args.json:
        print(json.dumps(facts, indent=2))
    elif compressed:
        rows, cols, bands = facts["shape"]
        shown = {**facts, "shape": f"{rows} x {cols} x {bands}  (rows x cols x bands)"}
        shown["bytes"] = f"{facts['bytes']:,}"
        shown["bpppb"] = f"{facts['bpppb']:.4f}"
        shown["metadata_bytes"] = (f"{facts['metadata_bytes']:,} (counted in bytes and bpppb)"
                                   if facts["metadata_bytes"] else "none")  # fmt: skip
        for key in ("wavelengths", "metadata"):
            del shown[key]
        print_table([(key, value) for key, value in shown.items()]
                    + metadata_rows(facts["wavelengths"], facts["metadata"]))  # fmt: skip
    else:
        rows, cols, bands = facts["shape"]
        files = f" in {facts['files']} files" if facts["files"] > 1 else ""
        print_table([
            ("source", facts["source"] or args.file),
            ("shape", f"{rows} x {cols} x {bands}  (rows x cols x bands)"),
            ("dtype", facts["dtype"]),
            ("range", f"{_number(facts['min'])} .. {_number(facts['max'])}"),
            *metadata_rows(facts["wavelengths"], facts["metadata"]),
            ("size", f"{facts['bytes_on_disk']:,} bytes on disk{files}"),
            ("bpppb", f"{facts['bpppb']:.4f}  (8 x bytes / (rows x cols x bands); "
                      f"raw {facts['dtype']} is {facts['dtype_bits']})"),
            *(("note", note) for note in facts["notes"]),
        ])  # fmt: skip
    return 0


def run_scenes(args: argparse.Namespace) -> int:
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


def register(commands) -> None:
    info = commands.add_parser("info", help="show what a cube file or a compressed file holds")
    info.add_argument(
        "file", help="a cube file, scene:NAME, a compressed .hsinr file or an .hsbase file"
    )
    info.add_argument("--var", help="the variable holding the cube (.mat / .npz)")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")
    add_limits(info)
    info.set_defaults(run=run_info)

    scenes = commands.add_parser("scenes", help="list the benchmark scenes found and checked")
    scenes.add_argument("--data-dir", help=f"the data folder (default: ${datasets.DATA_ENV} ...)")
    scenes.set_defaults(run=run_scenes)
