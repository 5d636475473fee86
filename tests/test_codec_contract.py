"""Every registered codec held to the same contract, on a crop of the shipped sample: a
codec is tested here by being registered (``codecs.names()``), and a toy codec
registered in a test shows that a new codec needs no change to the command line, the
benchmark or these tests."""

from __future__ import annotations

import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsinr import Cube, codecs, container, datasets, io
from hsinr.cli import main
from hsinr.codecs import BudgetWarning, Codec, Encoding, Options, Run, Window, option
from hsinr.codecs.header import CubeHeader
from hsinr.errors import HsinrError, InputError
from hsinr.fuzzing import attempt, case_rng, fuzz_run, mutate_compressed
from hsinr.metadata import Metadata

BUDGET = 4.0  # bpppb every codec reaches on the crop (per-band headers included)
QUIET = Run(progress=False)
_FILES: dict[str, Encoding] = {}


@pytest.fixture(scope="module")
def cube() -> Cube:
    """A 32 x 32 x 18 real crop of the shipped sample (uint16)."""
    return Cube(np.ascontiguousarray(datasets.sample().data[:32, :32, ::11]), name="crop")


def encoded(name: str, cube: Cube) -> Encoding:
    """The codec's file of ``cube`` at :data:`BUDGET`, made once per codec."""
    if name not in _FILES:
        _FILES[name] = codecs.encode(name, cube, {"bpppb": BUDGET}, QUIET)
    return _FILES[name]


# -- the contract: one function per promise, run for every codec --------------------------------


def round_trip(name: str, cube: Cube) -> None:
    encoding = encoded(name, cube)
    decoded = codecs.decode(encoding.data)
    assert decoded.shape == cube.shape and decoded.dtype == cube.dtype
    assert cube.data.min() <= decoded.data.min() and decoded.data.max() <= cube.data.max()
    assert codecs.for_file(encoding.data).name == name
    assert codecs.get(name).describe(encoding.data)["shape"] == list(cube.shape)


def within_budget(name: str, cube: Cube) -> None:
    encoding = encoded(name, cube)
    assert encoding.codec == name and encoding.shape == cube.shape
    assert encoding.bpppb == 8 * len(encoding.data) / cube.data.size
    assert encoding.within_budget and encoding.bpppb <= BUDGET


def budget_policy(name: str, cube: Cube) -> None:
    codec = codecs.get(name)
    for bad in (-1.0, 0.0, float("inf"), float("nan")):
        with pytest.raises(InputError, match="--bpppb"):
            codec.encode(cube, {"bpppb": bad}, QUIET)
    with pytest.raises(InputError, match="at or above the raw cube's own 16 bpppb"):
        codec.encode(cube, {"bpppb": 16.0}, QUIET)


def deterministic_decode(name: str, cube: Cube) -> None:
    data = encoded(name, cube).data
    assert np.array_equal(codecs.decode(data).data, codecs.decode(data).data)


def window_is_a_slice(name: str, cube: Cube) -> None:
    data = encoded(name, cube).data
    full = codecs.decode(data).data
    part = codecs.decode(data, Window(slice(2, 9), slice(3, 30), slice(4, 15)))
    np.testing.assert_array_equal(part.data, full[2:9, 3:30, 4:15])
    with pytest.raises(InputError, match="within the cube's 32 rows"):
        codecs.decode(data, Window(rows=slice(0, 64)))
    with pytest.raises(InputError, match="within the cube's 18 bands"):
        codecs.decode(data, Window(bands=slice(10, 30)))


def damaged_files_are_refused(name: str, cube: Cube) -> None:
    data = encoded(name, cube).data
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x20
    foreign = next(encoded(other, cube).data for other in codecs.names() if other != name)
    for bad in (bytes(flipped), data[:-9], data + b"x", b"\x89PNG\r\n\x1a\n" + bytes(64)):
        with pytest.raises(HsinrError):
            codecs.decode(bad)
    with pytest.raises(container.CorruptFileError, match=f"not a {name} file"):
        codecs.get(name).decode(foreign)


def options_are_declared(name: str, cube: Cube) -> None:
    codec = codecs.get(name)
    specs = type(codec).Options.specs()
    assert specs[0].name == "bpppb" and all(spec.help for spec in specs)
    assert codec.options(bpppb=BUDGET).bpppb == BUDGET
    with pytest.raises(InputError, match="takes no option no_such_option"):
        codec.options(bpppb=BUDGET, no_such_option=1)


def metadata_travels(name: str, cube: Cube) -> None:
    values = cube.data.copy()
    values[:4, :6] = 0  # a block of no-data pixels
    meta = Metadata(fwhm=np.linspace(5, 9, cube.bands), nodata=0.0, bad_bands=(1, 7),
                    crs="EPSG:32611", transform=(5e5, 30.0, 0.0, 4.1e6, 0.0, -30.0),
                    wavelength_units="nm", extra={"sensor type": "test"})  # fmt: skip
    marked = Cube(values, wavelengths=np.linspace(400, 2400, cube.bands), metadata=meta)
    encoding = codecs.encode(name, marked, {"bpppb": BUDGET}, QUIET)
    assert encoding.within_budget and container.unpack(encoding.data).metadata
    decoded = codecs.decode(encoding.data)
    assert decoded.metadata == meta and np.array_equal(decoded.wavelengths, marked.wavelengths)
    assert np.all(decoded.data[:4, :6] == 0) and np.all(decoded.data[:, :, [1, 7]] == 0)
    assert np.count_nonzero(decoded.data[4:, :, 2]) > decoded.data[4:, :, 2].size // 2  # coded
    part = codecs.decode(encoding.data, Window(slice(2, 9), slice(3, 30), slice(4, 15)))
    # a torch codec renders a window's bands in another float order: a value may round
    # to the next integer
    difference = np.abs(part.data.astype(int) - decoded.data[2:9, 3:30, 4:15].astype(int))
    assert difference.max() <= 1 and np.mean(difference == 0) > 0.99
    assert part.metadata.bad_bands == (3,)
    assert part.metadata.transform[:4:3] == (5e5 + 90, 4.1e6 - 60)
    stripped = codecs.encode(name, marked, {"bpppb": BUDGET}, Run(progress=False,
                                                                 strip_metadata=True))
    assert codecs.decode(stripped.data).metadata.empty
    assert not container.unpack(stripped.data).metadata


CONTRACT = [round_trip, within_budget, budget_policy, deterministic_decode, window_is_a_slice,
            damaged_files_are_refused, options_are_declared, metadata_travels]  # fmt: skip


@pytest.mark.parametrize("promise", CONTRACT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", codecs.names())
def test_every_codec_keeps_the_contract(name, promise, cube):
    promise(name, cube)


@pytest.mark.parametrize("name", codecs.names())
@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(case=st.integers(0, 2**32 - 1))
def test_every_codec_decodes_or_refuses_mutated_files(name, case, cube):
    """The hardening fuzz test, through the same parametrisation: header fields attacked
    with the CRC recomputed, payloads damaged (:mod:`hsinr.fuzzing`)."""
    data = mutate_compressed(encoded(name, cube).data, case_rng("contract", name, case))
    attempt(lambda: codecs.decode(data, run=fuzz_run()))
    attempt(lambda: codecs.for_file(data).describe(data, fuzz_run()))


# -- a new codec: one module and one registration -------------------------------------------------


@dataclass(frozen=True)
class ToyOptions(Options):
    """A toy codec's options."""

    bits: int | None = option(None, "bits per value (default: the most the budget allows)",
                              low=1, high=8)  # fmt: skip


class ToyCodec(Codec):
    """Each value quantised to a few bits and deflated; nothing else."""

    name = "toy"
    codec_id = 200
    summary = "values quantised to a few bits, deflated (a test codec)"
    Options = ToyOptions

    def _encode(self, cube: Cube, options: ToyOptions, run: Run) -> Encoding:
        header = CubeHeader.of(cube)
        values, _ = cube.normalise(np.float64)
        bits = options.bits or max(1, min(8, int(options.bpppb)))
        levels = np.rint(values * (2**bits - 1)).astype(np.uint8)
        payload = struct.pack("<B", bits) + zlib.compress(levels.tobytes(), 9)
        return self.encoding(container.pack(self.codec_id, header.pack(), payload), cube, options)

    def _decode(self, data: bytes, window, run: Run) -> Cube:
        frame = self.frame(data)
        header, _ = CubeHeader.unpack_from(frame.header, run.limits)
        if not frame.payload or not 1 <= frame.payload[0] <= 8:
            raise container.CorruptFileError("toy payload has no valid bits")
        values = np.prod(header.shape)
        try:
            raw = zlib.decompressobj().decompress(frame.payload[1:], int(values))
        except zlib.error as exc:
            raise container.CorruptFileError(f"toy payload is damaged: {exc}") from None
        if len(raw) != values:
            raise container.CorruptFileError("toy payload holds the wrong number of values")
        levels = np.frombuffer(raw, np.uint8).reshape(header.shape)
        return header.restore(levels / (2 ** frame.payload[0] - 1))

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        frame = self.frame(data)
        header, _ = CubeHeader.unpack_from(frame.header, (run or Run()).limits)
        return {**header.describe(), "bits": frame.payload[0] if frame.payload else None}


@pytest.fixture
def toy():
    codecs.register(ToyCodec)
    yield "toy"
    codecs.unregister("toy")
    _FILES.pop("toy", None)


def test_a_registered_codec_is_on_the_command_line_in_bench_and_held_to_the_contract(
    toy, cube, tmp_path, capsys
):
    for promise in CONTRACT:
        promise(toy, cube)
    with pytest.raises(SystemExit):
        main(["compress", "--codec", "toy", "--help"])
    help_text = capsys.readouterr().out
    assert "toy options" in help_text and "--bits" in help_text
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "toy: bits" in capsys.readouterr().out
    source, packed = tmp_path / "crop.npy", tmp_path / "crop.hsinr"
    np.save(source, cube.data)
    assert main(["compress", str(source), str(packed), "--codec", "toy", "--bpppb", "3",
                 "--bits", "2"]) == 0  # fmt: skip
    assert main(["info", str(packed)]) == 0 and "bits" in capsys.readouterr().out
    assert main(["bench", "--scenes", "pavia_university", "--codecs", "toy:bits=3",
                 "--bpppb", "4", "--out", str(tmp_path / "bench"), "--quiet"]) == 0  # fmt: skip
    assert "toy:bits=3" in (tmp_path / "bench" / "results.md").read_text()


def test_a_codec_coding_whole_cubes_refuses_a_lazy_one_over_its_memory_up_front(
    toy, cube, tmp_path
):
    path = tmp_path / "c.npy"
    np.save(path, cube.data[:12, :10, :16])
    lazy = io.load(path, lazy=True)
    assert not codecs.get(toy).encodes_in_parts
    message = (r"codec toy holds the whole cube in memory: about 0\.00 GB for this "
               r"12 x 10 x 16 \w+ cube, over the 0\.00 GB .*\(siren, .*latent\)")  # fmt: skip
    with pytest.raises(InputError, match=message):
        codecs.encode(toy, lazy, {"bpppb": 2.0}, Run(memory=1000))
    assert main(["compress", str(path), str(tmp_path / "c.hsinr"), "--codec", toy,
                 "--bpppb", "2", "--max-memory", "0.000001"]) == 1  # fmt: skip
    assert codecs.encode(toy, lazy, {"bpppb": 2.0}).shape == (12, 10, 16)


@pytest.mark.parametrize("name", ["jpeg", "latent"])
def test_a_decode_over_the_memory_allowed_is_refused_up_front(name, cube):
    """A codec that decodes whole (jpeg) is told to decode a window; one that decodes in
    parts (latent) also to decode to a file, which it writes a piece at a time."""
    data = encoded(name, cube).data
    with pytest.raises(InputError, match=rf"decoding this {name} file in memory needs") as err:
        codecs.decode(data, run=Run(memory=1000))
    assert ("decode to a file" in str(err.value)) == codecs.get(name).decodes_in_parts
    window = Window(rows=slice(0, 2), cols=slice(0, 2), bands=slice(0, 2))
    assert codecs.decode(data, window, Run(memory=10**6)).shape == (2, 2, 2)


def test_codec_ids_and_names_are_unique():
    assert len(set(codecs.names())) == len(codecs.names())
    with pytest.raises(ValueError, match="is registered already"):
        codecs.register(codecs.get("latent").__class__)


def test_a_budget_the_codec_cannot_reach_warns_and_says_so(cube):
    with pytest.warns(BudgetWarning, match="over the budget of 0.001"):
        encoding = codecs.encode("pca-dct", cube, {"bpppb": 1e-3}, QUIET)
    assert not encoding.within_budget
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert codecs.encode("pca-dct", cube, {"bpppb": 1.0}, QUIET).within_budget
