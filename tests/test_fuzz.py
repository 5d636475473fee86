"""Property-based fuzzing on every CI run: mutated compressed files of every codec (header
fields attacked, CRC recomputed), mutated input cubes of every format, mutated base
networks. Each must decode / load, or be refused with a one-line HsinrError; anything
else fails. The long campaign (tens of thousands of cases each, in workers with memory
and time limits) is benchmarks/fuzz_campaign.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsinr import Cube, basenet, codecs, io
from hsinr.codecs.meta import MetaCodec
from hsinr.fuzzing import (
    FUZZ_LIMITS,
    attempt,
    case_rng,
    fuzz_run,
    mutate_base,
    mutate_compressed,
    mutate_cube_file,
)
from hsinr.nn.modulated import ModulatedConfig, ModulatedSiren

V1 = Path(__file__).parent / "data" / "v1"
SEEDS = sorted(json.loads((V1 / "MANIFEST.json").read_text())["files"])
CASES = st.integers(0, 2**32 - 1)
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None)
FORMATS = {  # seed file name -> save options
    "cube.npy": {},
    "cube.npz": {},
    "cube.mat": {},
    "cube73.mat": {"version": "7.3"},
    "cube.tif": {},
    "bsq.hdr": {"interleave": "bsq"},
    "bil.hdr": {"interleave": "bil"},
    "bip.hdr": {"interleave": "bip"},
}


@pytest.mark.parametrize("seed", SEEDS)
@FUZZ
@given(case=CASES)
def test_mutated_compressed_files_decode_or_are_refused(seed, case):
    data = mutate_compressed((V1 / f"{seed}.hsinr").read_bytes(), case_rng("file", seed, case))
    attempt(lambda: codecs.decode(data, run=fuzz_run()))
    attempt(lambda: codecs.for_file(data).describe(data, fuzz_run()))


@pytest.fixture(scope="module")
def tiled_file() -> bytes:
    """A latent file of 3 x 3 tiles (container version 2) from a crop of the sample."""
    from hsinr import datasets

    crop = Cube(np.ascontiguousarray(datasets.sample().data[:40, :36, ::12]), name="seed")
    return codecs.encode("latent", crop, {"bpppb": 1.0, "tile": 16},
                         codecs.Run(progress=False)).data  # fmt: skip


@FUZZ
@given(case=CASES)
def test_mutated_tiled_files_decode_or_are_refused(tiled_file, case):
    data = mutate_compressed(tiled_file, case_rng("file", "tiled", case))
    window = codecs.Window(slice(0, 20), slice(10, 30))
    attempt(lambda: codecs.decode(data, run=fuzz_run()))
    attempt(lambda: codecs.decode(data, window, run=fuzz_run()))
    attempt(lambda: codecs.for_file(data).describe(data, fuzz_run()))


@pytest.fixture(scope="module")
def cube_files(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Each format's files (name -> bytes) for a small real crop of the bundled sample."""
    from hsinr import datasets

    folder = tmp_path_factory.mktemp("seeds")
    sample = datasets.sample()
    cube = Cube(np.ascontiguousarray(sample.data[:9, :7, ::40]), name="seed",
                wavelengths=np.linspace(400, 2500, 5))  # fmt: skip
    seeds = {}
    for name, options in FORMATS.items():
        io.save(cube, folder / name, **options)
        paths = io.storage_paths(folder / name)
        seeds[name] = {path.name: path.read_bytes() for path in paths}
    tifffile.imwrite(folder / "tiled.tif", cube.data.transpose(2, 0, 1), tile=(16, 16),
                     planarconfig="separate", compression="zlib",
                     photometric="minisblack")  # fmt: skip
    seeds["tiled.tif"] = {"tiled.tif": (folder / "tiled.tif").read_bytes()}
    return seeds


@pytest.mark.parametrize("seed", [*sorted(FORMATS), "tiled.tif"])
@FUZZ
@given(case=CASES)
def test_mutated_cube_files_load_or_are_refused(seed, case, cube_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    files = mutate_cube_file(cube_files[seed], case_rng("cube", seed, case))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    attempt(lambda: io.load(folder / seed, limits=FUZZ_LIMITS))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = ModulatedConfig(hidden_layers=2, width=8, bands=6, latent_dim=4, patch=4)
    path = tmp_path_factory.mktemp("base") / "tiny.hsbase"
    basenet.save_base(ModulatedSiren.from_config(config), config, path,
                      {"inner_steps": 2, "inner_lr": 1.0})  # fmt: skip
    return path


@FUZZ
@given(case=CASES)
def test_mutated_base_networks_load_and_code_or_are_refused(case, tiny_base, tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "mutant.hsbase"
    path.write_bytes(mutate_base(tiny_base, case_rng("base", "tiny", case)))
    cube = Cube(np.arange(9 * 7 * 5, dtype=np.uint16).reshape(9, 7, 5))

    def use() -> None:
        net = basenet.load_base(path)
        data = MetaCodec().encode(cube, None, fuzz_run(net)).data
        MetaCodec().decode(data, run=fuzz_run(net))

    attempt(use)
