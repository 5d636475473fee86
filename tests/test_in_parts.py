"""Codecs that are not tiled still code and decode large scenes in parts: ``siren`` fits a
lazy cube from a reservoir of row blocks and decodes a block of rows at a time; ``meta``
fits and decodes a strip of patch rows at a time; the per-band codecs (see
test_lazy_cubes.py) go band by band. Here: what they read, and that the parts make the
whole."""

from __future__ import annotations

import numpy as np
import pytest

from hsinr import Cube, codecs, io, metrics, synthetic
from hsinr.codecs import Run, Window
from hsinr.lazy import RawArray

QUIET = Run(progress=False, jobs=1)


@pytest.fixture(scope="module")
def scene_path(tmp_path_factory):
    """A 96 x 80 x 24 mixture scene in a .npy."""
    spectra = np.abs(np.random.default_rng(3).normal(1500, 400, size=(5, 24)))
    path = tmp_path_factory.mktemp("parts") / "scene.npy"
    synthetic.mixture((96, 80), spectra, seed=5, path=path)
    return path


@pytest.fixture
def reads(monkeypatch):
    """The row counts of every window read from a lazy cube."""
    seen: list[int] = []
    original = RawArray._read

    def recorded(self, rows, cols, bands):
        seen.append(len(rows))
        return original(self, rows, cols, bands)

    monkeypatch.setattr(RawArray, "_read", recorded)
    return seen


def test_siren_fits_a_lazy_cube_from_blocks_of_rows(scene_path, reads, monkeypatch):
    from hsinr.nn import pixels

    monkeypatch.setattr(pixels, "RESERVOIR_BYTES", 8 * 80 * 24 * 4 * 4)  # 4 rows a block
    cube = io.load(scene_path, lazy=True)
    options = {"arch": "2x16", "iterations": 200, "batch_size": 256, "lr": 1e-3}
    encoding = codecs.encode("siren", cube, options, QUIET)
    assert reads[0] == 96 and max(reads[1:]) == 4  # the scale's pass, then blocks of 4 rows
    decoded = codecs.decode(encoding.data)
    assert decoded.shape == cube.shape
    in_memory = codecs.encode("siren", cube.loaded(), options, QUIET)
    reference = metrics.psnr(cube.loaded(), codecs.decode(in_memory.data))
    assert metrics.psnr(cube.loaded(), decoded) > reference - 1.5  # about as well fitted


def test_siren_decodes_a_window_in_blocks_of_rows_that_make_the_whole(scene_path, monkeypatch):
    from hsinr.codecs import siren

    cube = io.load(scene_path)
    data = codecs.encode("siren", cube, {"arch": "2x16", "iterations": 5}, QUIET).data
    whole = codecs.decode(data).data
    monkeypatch.setattr(siren, "DECODE_CHUNK", 3 * 17)  # blocks of 3 rows of the window
    stream = codecs.get("siren").stream(data, Window(slice(10, 60), slice(5, 22), slice(2, 9)))
    pieces = list(stream)
    assert len(pieces) == 17 and all(len(p.rows) <= 3 for p in pieces)
    assembled = np.concatenate([p.values for p in pieces])
    assert np.array_equal(assembled, whole[10:60, 5:22, 2:9])


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny base network for 24 bands (trained briefly: only its shape matters here)."""
    import torch

    from hsinr import basenet
    from hsinr.nn.modulated import ModulatedConfig, ModulatedSiren

    torch.manual_seed(0)
    config = ModulatedConfig(hidden_layers=2, width=16, bands=24, latent_dim=8, patch=8)
    model = ModulatedSiren(config.hidden_layers, config.width, config.bands, config.latent_dim)
    path = tmp_path_factory.mktemp("base") / "tiny.hsbase"
    return basenet.save_base(model, config, path, {}).path


def test_meta_fits_and_decodes_in_strips_of_patch_rows(scene_path, base, reads, monkeypatch):
    from hsinr.codecs import meta

    monkeypatch.setattr(meta, "STRIP_PIXELS", 16 * 80)  # strips of 16 rows (two patches)
    run = Run(progress=False, base=base)
    lazy = io.load(scene_path, lazy=True)
    data = codecs.encode("meta", lazy, {"bits": 8}, run).data
    assert max(reads[1:]) <= 16  # after the scale's pass
    in_memory = codecs.encode("meta", io.load(scene_path), {"bits": 8}, run).data
    assert np.allclose(codecs.decode(data, run=run).data.astype(float),
                       codecs.decode(in_memory, run=run).data.astype(float), atol=2)  # fmt: skip
    whole = codecs.decode(data, run=run).data
    window = Window(slice(13, 70), slice(9, 31), slice(4, 20))
    stream = codecs.get("meta").stream(data, window, run)
    assert all(len(p.rows) <= 16 for p in stream.pieces)
    assert np.array_equal(codecs.decode(data, window, run).data, whole[13:70, 9:31, 4:20])


def test_a_cube_in_memory_decodes_as_it_did(base):
    """Strips are only for large images: a small one is rendered in one strip, as before."""
    from hsinr import datasets

    crop = Cube(np.ascontiguousarray(datasets.sample().data[:20, :20, :24]))
    run = Run(progress=False, base=base)
    data = codecs.encode("meta", crop, {"bits": 6}, run).data
    assert codecs.decode(data, run=run).shape == crop.shape
