"""``hsinr view`` and :mod:`hsinr.view`: colour pictures, comparisons, bounded reads."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import hsinr
from hsinr import view
from hsinr.cli import main
from hsinr.cube import Cube
from hsinr.lazy import LazyArray


@pytest.fixture(scope="module")
def sample() -> Cube:
    return hsinr.datasets.sample()


@pytest.fixture(scope="module")
def compressed(sample, tmp_path_factory):
    """The sample in a pca-dct file of four 32 x 32 tiles, and its decoded cube."""
    encoding = hsinr.codecs.encode("pca-dct", sample, {"bpppb": 0.5, "components": 4, "tile": 32})
    path = tmp_path_factory.mktemp("view") / "sample.hsinr"
    path.write_bytes(encoding.data)
    return path, hsinr.codecs.decode(encoding.data)


def true_rmse(original: Cube, decoded: Cube) -> np.ndarray:
    difference = original.data.astype(np.float64) - decoded.data.astype(np.float64)
    return np.sqrt(np.mean(difference**2, axis=2))


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return picture.size  # (width, height)


def test_sample_in_colour_writes_a_png_of_the_cube_shape(tmp_path):
    out = tmp_path / "sample.png"
    shown = view.colour(hsinr.datasets.sample_path(), out)
    assert shown.step == 1 and shown.image.shape == (64, 64, 3)
    assert shown.bands == (23, 16, 7)  # no wavelengths: hsinr.plot's fractions of 198 bands
    width, height = png_size(out)
    assert width == height and width >= 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.png"]  # no partial left


def test_bands_are_the_ones_asked_for_and_named(tmp_path, sample):
    shown = view.colour(sample, tmp_path / "false.png", bands=(100, 50, 3))
    assert shown.bands == (100, 50, 3)
    assert shown.labels == ("R: band 100", "G: band 50", "B: band 3")
    red = sample.data[:, :, 100].astype(np.float64)
    low, high = np.percentile(red, 2), np.percentile(red, 98)
    expected = np.clip((red - low) / (high - low), 0, 1) * 255
    assert np.abs(shown.image[:, :, 0].astype(float) - expected).max() <= 0.5 + 1e-9


@pytest.mark.parametrize("factor, unit", [(1.0, "nm"), (1e-3, "µm")])
def test_true_colour_takes_the_bands_nearest_640_550_460_nm(tmp_path, sample, factor, unit):
    nanometres = np.linspace(380.0, 2510.0, sample.bands)
    cube = sample.replace(wavelengths=nanometres * factor)
    shown = view.colour(cube, tmp_path / "rgb.png")
    expected = tuple(int(np.argmin(np.abs(nanometres - nm))) for nm in (640, 550, 460))
    assert shown.bands == expected
    assert shown.labels[0].startswith(f"R: band {expected[0]} (")
    assert shown.labels[0].endswith(f" {unit})")
    if unit == "nm":
        assert shown.labels[0] == f"R: band {expected[0]} ({nanometres[expected[0]]:.1f} nm)"


def test_compressed_file_against_its_original(tmp_path, sample, compressed):
    path, decoded = compressed
    shown = view.compare(path, sample, tmp_path / "cmp.png", pixels=[(3, 4)])
    rmse = true_rmse(sample, decoded)
    np.testing.assert_allclose(shown.error, rmse)
    worst = np.unravel_index(np.argmax(rmse), rmse.shape)
    labels = [(s.label, s.row, s.col) for s in shown.spectra]
    assert labels[0] == ("worst", int(worst[0]), int(worst[1]))
    assert labels[1][0] == "median" and labels[2] == ("pixel", 3, 4)
    median = labels[1][1:]
    assert rmse[median] == pytest.approx(np.sort(rmse, axis=None)[(rmse.size - 1) // 2])
    pixel = shown.spectra[2]
    np.testing.assert_array_equal(pixel.original, sample.data[3, 4])
    np.testing.assert_array_equal(pixel.decoded, decoded.data[3, 4])
    assert pixel.error == pytest.approx(rmse[3, 4])
    assert shown.original_image.shape == shown.image.shape == (64, 64, 3)
    assert png_size(tmp_path / "cmp.png")[0] > 0


def test_a_large_compressed_file_is_streamed_piece_by_piece(tmp_path, monkeypatch, sample,
                                                            compressed):  # fmt: skip
    path, decoded = compressed
    monkeypatch.setattr(view, "WHOLE_BYTES", 0)  # as if the cube were too large to decode
    source = view.open_source(path)
    assert isinstance(source, view.FileSource)
    monkeypatch.setattr(Cube, "loaded", lambda self: pytest.fail("loaded a whole cube"))
    shown = view.compare(source, sample, tmp_path / "streamed.png", metric="sam")
    expected = view.pixel_errors(sample.data, decoded.data, "sam")
    np.testing.assert_allclose(shown.error, expected, atol=1e-9)
    assert shown.error.mean() == pytest.approx(hsinr.metrics.sam(sample.data, decoded.data))
    worst = shown.spectra[0]
    np.testing.assert_array_equal(worst.decoded, decoded.data[worst.row, worst.col])
    coloured = view.colour(source, tmp_path / "streamed_colour.png", bands=(5, 60, 150))
    whole = view.colour(decoded, tmp_path / "whole_colour.png", bands=(5, 60, 150))
    np.testing.assert_array_equal(coloured.image, whole.image)


@pytest.fixture
def tall_cube(tmp_path):
    """A lazy 2000 x 300 x 6 uint16 .npy cube, with every read it serves recorded."""
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4000, size=(2000, 300, 6), dtype=np.uint16)
    np.save(tmp_path / "tall.npy", values)
    cube = hsinr.io.load(tmp_path / "tall.npy", lazy=True)
    assert cube.lazy
    return cube, values


def spy_reads(monkeypatch, cube: Cube) -> list:
    reads = []
    original = cube.data.read

    def read(rows=None, cols=None, bands=None):
        assert None not in (rows, cols, bands), "a read of a whole axis"
        reads.append((rows, cols, bands))
        return original(rows, cols, bands)

    monkeypatch.setattr(cube.data, "read", read)
    monkeypatch.setattr(LazyArray, "__array__", lambda *a, **k: pytest.fail("read whole"))
    monkeypatch.setattr(Cube, "loaded", lambda self: pytest.fail("loaded a whole cube"))
    return reads


def test_a_tall_lazy_cube_is_read_on_a_strided_grid(tmp_path, monkeypatch, tall_cube):
    cube, values = tall_cube
    monkeypatch.setattr(view, "READ_BYTES", 100)  # smaller than a row: one row a read
    reads = spy_reads(monkeypatch, cube)
    shown = view.colour(cube, tmp_path / "tall.png", bands=(0, 2, 4))
    assert shown.step == 2 and shown.image.shape == (1000, 150, 3)
    assert max(shown.image.shape[:2]) <= view.MAX_SIDE
    assert {len(rows) for rows, _, _ in reads} == {1}
    assert sorted({rows.start for rows, _, _ in reads}) == list(range(0, 2000, 2))
    assert {(b.start, b.stop) for _, _, b in reads} == {(0, 1), (2, 3), (4, 5)}
    picture = values[::2, ::2][:, :, [0, 2, 4]].astype(np.float64)
    low, high = np.percentile(picture, 2, axis=(0, 1)), np.percentile(picture, 98, axis=(0, 1))
    expected = np.clip((picture - low) / (high - low), 0, 1) * 255
    assert np.abs(shown.image - expected).max() <= 0.5 + 1e-9
    width, height = png_size(tmp_path / "tall.png")
    assert width / height == pytest.approx(150 / 1000, rel=0.01)


def test_error_map_of_a_lazy_cube_reads_bounded_blocks(tmp_path, monkeypatch, tall_cube):
    cube, values = tall_cube
    noisy = values.astype(np.int32) + np.arange(6)
    np.save(tmp_path / "noisy.npy", noisy.astype(np.uint16))
    monkeypatch.setattr(view, "READ_BYTES", 64 * 1024)
    reads = spy_reads(monkeypatch, cube)
    shown = view.compare(tmp_path / "noisy.npy", cube, tmp_path / "err.png", pixels=[(1999, 299)])
    assert shown.error.shape == (1000, 150)
    np.testing.assert_allclose(shown.error, np.sqrt(np.mean(np.arange(6.0) ** 2)))
    assert reads and all(len(r) * len(c) * len(b) * 2 <= 64 * 1024 for r, c, b in reads)
    assert shown.spectra[-1].label == "pixel"
    np.testing.assert_array_equal(shown.spectra[-1].original, values[1999, 299])


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_view_and_compare(tmp_path, capsys, compressed):
    path, _ = compressed
    status, out, err = run(capsys, "view", "scene:sample", "--bands", "10,20,30",
                           "--out", str(tmp_path / "a.png"))  # fmt: skip
    assert status == 0, err
    assert "R: band 10, G: band 20, B: band 30" in out and (tmp_path / "a.png").is_file()
    status, out, err = run(capsys, "view", str(path), "--compare", "scene:sample", "--pixel",
                           "3,4", "--pixel", "10,11", "--out", str(tmp_path / "b.png"))  # fmt: skip
    assert status == 0, err
    assert "per-pixel RMSE" in out and (tmp_path / "b.png").is_file()


def test_cli_errors_are_one_line(tmp_path, capsys, sample, compressed):
    path, _ = compressed
    np.save(tmp_path / "crop.npy", sample.data[:32])
    out = str(tmp_path / "x.png")
    status, _, err = run(capsys, "view", str(path), "--compare", str(tmp_path / "crop.npy"),
                         "--out", out)  # fmt: skip
    assert status == 1 and "must match" in err and "64 x 64 x 198" in err
    assert len(err.strip().splitlines()) == 1
    for bad in ("1,2", "1,2,x", "1,2,198"):
        status, _, err = run(capsys, "view", "scene:sample", "--bands", bad, "--out", out)
        assert status == 2 and len(err.strip().splitlines()) == 1 and "--bands" in err
    status, _, err = run(capsys, "view", "scene:sample", "--pixel", "1,1", "--out", out)
    assert status == 2 and "--compare" in err
    status, _, err = run(capsys, "view", str(path), "--compare", "scene:sample", "--pixel",
                         "64,0", "--out", out)  # fmt: skip
    assert status == 2 and "--pixel 64,0" in err
    assert not (tmp_path / "x.png").exists()
