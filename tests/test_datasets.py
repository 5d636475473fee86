import shutil

import numpy as np
import pytest
import scipy.io

import hsinr
from hsinr import DatasetError, datasets

EXPECTED = {
    "indian_pines": ((85, 70, 200), np.uint16),
    "jasper_ridge": ((100, 100, 198), np.uint16),
    "pavia_university": ((50, 50, 103), np.uint16),
    "cuprite": ((50, 90, 188), np.int16),
}


@pytest.mark.parametrize("name", datasets.SCENE_NAMES)
def test_each_scene_loads_checked_with_its_shape_and_dtype(data_dir, name):
    cube = datasets.load(name, data_dir)
    shape, dtype = EXPECTED[name]
    assert cube.shape == shape and cube.dtype == dtype
    assert cube.name == name


def test_indian_pines_ground_truth_is_cut_to_the_crop_window(data_dir):
    labels = datasets.ground_truth("indian_pines", data_dir)
    assert labels.shape == (85, 70)
    local = scipy.io.loadmat(data_dir / "Indian_part.mat")["grd"]
    # The crop's own (renumbered) labels mark exactly the pixels the full map labels.
    np.testing.assert_array_equal(labels > 0, local > 0)


def test_ground_truth_refused_where_it_cannot_line_up(data_dir):
    with pytest.raises(DatasetError, match="position in the full scene is unknown"):
        datasets.ground_truth("pavia_university", data_dir)
    with pytest.raises(DatasetError, match="no ground-truth map"):
        datasets.ground_truth("jasper_ridge", data_dir)


def test_a_corrupted_file_fails_its_sha256(tmp_path, data_dir):
    copy = tmp_path / "paviaU_subimg.mat"
    shutil.copy(data_dir / "paviaU_subimg.mat", copy)
    with open(copy, "r+b") as stream:
        stream.seek(5000)
        byte = stream.read(1)
        stream.seek(5000)
        stream.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(DatasetError, match=r"sha256 is .* expected 72d2d6cd"):
        datasets.load("pavia_university", tmp_path)


def test_full_standard_file_wins_over_the_crop(tmp_path, data_dir):
    for name in ("Indian_part.mat", "Indian_pines_gt.mat"):
        shutil.copy(data_dir / name, tmp_path / name)
    full = np.zeros((145, 145, 200), dtype=np.uint16)
    full[30:115, 25:95] = datasets.load("indian_pines", data_dir).data
    scipy.io.savemat(tmp_path / "Indian_pines_corrected.mat", {"indian_pines_corrected": full})
    cube = datasets.load("indian_pines", tmp_path)
    assert cube.shape == (145, 145, 200)
    assert "Indian_pines_corrected.mat" in cube.source
    assert datasets.ground_truth("indian_pines", tmp_path).shape == (145, 145)


def test_a_full_file_of_the_wrong_shape_is_refused(tmp_path):
    scipy.io.savemat(tmp_path / "PaviaU.mat", {"paviaU": np.ones((61, 34, 103), np.uint16)})
    with pytest.raises(DatasetError, match=r"shape \(61, 34, 103\), expected \(610, 340, 103\)"):
        datasets.load("pavia_university", tmp_path)


def test_data_folder_comes_from_the_environment(tmp_path, monkeypatch, data_dir):
    shutil.copy(data_dir / "Rcuprite50x90x188.mat", tmp_path)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    assert datasets.find_data_dir() == tmp_path
    assert datasets.load("cuprite").shape == (50, 90, 188)
    with pytest.raises(DatasetError, match=r"none of .*Indian_part\.mat is in"):
        datasets.load("indian_pines")
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "absent"))
    with pytest.raises(DatasetError, match=r"does not exist"):
        datasets.find_data_dir()


def test_unknown_scene_lists_the_known_ones():
    with pytest.raises(DatasetError, match="unknown scene 'salinas'; known: indian_pines"):
        datasets.load("salinas")


def test_bundled_sample_is_a_real_crop_of_jasper_ridge(data_dir):
    sample = datasets.sample()
    assert sample.shape == (64, 64, 198) and sample.dtype == np.uint16
    assert datasets.sample_path().stat().st_size < 2 * 1024 * 1024
    jasper = datasets.load("jasper_ridge", data_dir)
    np.testing.assert_array_equal(sample.data, jasper.data[0:64, 36:100])
    assert hsinr.datasets.load("sample").shape == sample.shape
