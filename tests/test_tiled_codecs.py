"""What every tiled codec promises (``latent``, ``pca-dct``, ``pca-jpeg2000``, and any codec
registered with ``tiled = True``): a scene of several tiles with odd edges round-trips;
a window decodes to the slice of the whole and reads only the tiles it touches; worker
processes write the same bytes as one; a lazy scene is coded holding a few tiles, not
the scene."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from hsinr import Cube, codecs, container, io, metrics, synthetic
from hsinr.codecs import Run, Window, tiling

QUIET = Run(progress=False, jobs=1)
TILED = [name for name in codecs.names() if codecs.get(name).tiled]
RATE = 0.3


@pytest.fixture(scope="module")
def scene(indian_pines) -> Cube:
    """An 85 x 70 x 40 real scene: in tiles of 32, 3 x 3 tiles of odd sizes."""
    return Cube(np.ascontiguousarray(indian_pines.data[:, :, ::5]), name="indian_tiles")


@pytest.fixture(scope="module")
def files(scene) -> dict[str, bytes]:
    return {name: codecs.encode(name, scene, {"bpppb": RATE, "tile": 32}, QUIET).data
            for name in TILED}  # fmt: skip


def test_the_registry_knows_the_tiled_codecs():
    assert {"latent", "pca-dct", "pca-jpeg2000"} <= set(TILED)


@pytest.mark.parametrize("name", TILED)
def test_a_scene_of_several_tiles_round_trips(scene, files, name):
    data = files[name]
    frame = container.unpack(data)
    assert frame.version == 2 and len(frame.chunks) == 1 + 9
    assert codecs.get(name).describe(data)["tiles"] == 9
    assert 0.95 * RATE <= metrics.bpppb(len(data), scene.shape) <= RATE
    decoded = codecs.decode(data)
    assert decoded.shape == scene.shape and decoded.dtype == scene.dtype
    assert metrics.psnr(scene, decoded) > 35


WINDOWS = [
    (slice(20, 40), slice(30, 41), slice(None)), (slice(27, 29), slice(22, 24), slice(3, 4)),
    (slice(84, 85), slice(0, 70), slice(39, 40)), (slice(56, 85), slice(46, 70), slice(10, 30)),
]  # fmt: skip


@pytest.mark.parametrize("name", TILED)
def test_a_window_is_the_slice_of_the_whole_and_reads_only_its_tiles(files, name):
    data = files[name]
    whole = codecs.decode(data).data
    for rows, cols, bands in WINDOWS:
        part = codecs.decode(data, Window(rows, cols, bands)).data
        assert np.array_equal(part, whole[rows, cols, bands])
    frame = container.unpack(data)
    chunks = [frame.chunks[i] for i in range(len(frame.chunks))]
    chunks[-1] = bytes(len(chunks[-1]))  # the last tile (rows 56-85, cols 46-70) destroyed
    forged = container.pack_chunks(frame.codec_id, frame.header, chunks)
    window = Window(slice(0, 50), slice(0, 60))
    assert np.array_equal(codecs.decode(forged, window).data, whole[:50, :60])
    with pytest.raises(container.CorruptFileError):
        codecs.decode(forged)


@pytest.mark.parametrize("name", TILED)
def test_worker_processes_write_and_read_the_same_bytes(scene, files, name, monkeypatch):
    monkeypatch.setattr(tiling, "PARALLEL_PIXELS", 1)
    parallel = codecs.encode(name, scene, {"bpppb": RATE, "tile": 32},
                             Run(progress=False, jobs=2))  # fmt: skip
    assert parallel.data == files[name]
    assert np.array_equal(codecs.decode(files[name], run=Run(jobs=2)).data,
                          codecs.decode(files[name], run=QUIET).data)  # fmt: skip


@pytest.fixture(scope="module")
def lazy_scene(tmp_path_factory) -> Cube:
    """A 384 x 384 x 32 mixture scene in a .npy (9 MiB as int16, 36 MiB as float64)."""
    spectra = np.abs(np.random.default_rng(7).normal(1000, 300, size=(6, 32)))
    path = tmp_path_factory.mktemp("lazy") / "scene.npy"
    synthetic.mixture((384, 384), spectra, seed=3, path=path)
    return io.load(path, lazy=True)


@pytest.mark.parametrize("name", TILED)
def test_coding_a_lazy_scene_holds_a_few_tiles_not_the_scene(lazy_scene, name, monkeypatch):
    """In tiles of 64 (36 of them) with a search sample of 4, the Python heap's peak stays
    near a few tiles' worth."""
    monkeypatch.setattr(tiling, "SAMPLE_PIXELS", 4 * 64 * 64)
    tracemalloc.start()
    encoding = codecs.encode(name, lazy_scene, {"bpppb": 0.2, "tile": 64}, QUIET)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tile_values = 64 * 64 * 32 * 8  # one tile's values as float64: 1 MiB
    assert peak < 16 * tile_values, f"{peak / 2**20:.1f} MiB"
    assert 0.99 * 0.2 <= encoding.bpppb <= 0.2
