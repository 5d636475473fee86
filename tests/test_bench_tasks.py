"""hsinr bench on users' data (cube files as scenes) and tasks (classify, unmix)."""

import csv
import json
import sys

import numpy as np
import pytest

import hsinr
from hsinr import DatasetError, InputError, bench
from hsinr.bench import tasks
from hsinr.bench.run import resolve_scene, resolve_scenes
from hsinr.cli import main


@pytest.fixture
def crop_file(tmp_path):
    """A 24 x 20 x 198 crop of the bundled sample, saved as my_crop.npy."""
    path = tmp_path / "data" / "my_crop.npy"
    path.parent.mkdir()
    np.save(path, hsinr.io.load(hsinr.datasets.sample_path()).data[:24, :20])
    return path


def _csv(folder):
    with open(folder / "results.csv") as stream:
        return list(csv.DictReader(stream))


def test_a_cube_file_is_a_scene_labelled_by_its_stem(crop_file, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "--scenes", str(crop_file), "--codecs", "pca-dct", "--bpppb", "0.5",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    (row,) = _csv(out)
    assert row["scene"] == "my_crop" and row["shape"] == "24x20x198" and not row["error"]
    assert float(row["psnr"]) > 40
    assert "oa" not in row  # no task asked: no task columns
    assert "## my_crop (24 x 20 x 198)" in (out / "results.md").read_text()
    logged = bench.read_log(out)
    assert logged[0]["source"] == str(crop_file.resolve())

    # asking for a task runs the job again, with the task's column
    assert main([*argv, "--task", "unmix", "--endmembers", "3"]) == 0
    (row,) = _csv(out)
    assert 0 < float(row["abundance_rmse"]) < 0.05
    assert len(bench.read_log(out)) == 2
    assert main([*argv, "--task", "unmix", "--endmembers", "3"]) == 0  # done: not run again
    assert len(bench.read_log(out)) == 2
    capsys.readouterr()


def test_scene_names_and_paths_are_resolved_up_front(crop_file, tmp_path, capsys):
    assert resolve_scene("scene:indian_pines") == resolve_scene("indian_pines")
    assert resolve_scene("scene:indian_pines").label == "indian_pines"
    assert resolve_scene(str(crop_file)).label == "my_crop"
    with pytest.raises(DatasetError, match="unknown scene 'nope'"):
        resolve_scene("scene:nope")
    with pytest.raises(InputError, match="not a file"):
        resolve_scene(str(tmp_path))
    other = tmp_path / "my_crop.npy"  # another file of the same stem
    np.save(other, np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(InputError, match="both labelled 'my_crop'"):
        resolve_scenes([str(crop_file), str(other)])
    assert len(resolve_scenes([str(crop_file), str(crop_file)])) == 1

    out = tmp_path / "out"
    missing = tmp_path / "missing.npy"
    argv = ["bench", "--scenes", "pavia_university", str(missing), "--codecs", "pca-dct",
            "--bpppb", "0.5", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) != 0
    error = capsys.readouterr().err
    assert "missing.npy" in error and "no such file" in error and len(error.splitlines()) == 1
    assert not out.exists()  # nothing was coded


def test_classify_on_indian_pines(indian_pines, tmp_path):
    rows = bench.run(["indian_pines"], ["pca-dct"], [0.5], tmp_path, tasks=["classify"],
                     progress=False)  # fmt: skip
    (row,) = rows
    assert not row["error"] and not row["task_notes"]
    majority = np.unique(hsinr.datasets.ground_truth("indian_pines"), return_counts=True)[1][1:]
    assert row["oa_original"] > 0.75 > majority.max() / majority.sum()  # well above chance
    assert row["kappa_original"] > 0.6
    assert abs(row["oa"] - row["oa_original"]) < 0.03  # 48 dB: the classes survive
    assert abs(row["kappa"] - row["kappa_original"]) < 0.04
    assert row["task_details"]["classes"] == 4
    assert "abundance_rmse" not in row
    bench.write_all(tmp_path, rows, bench.environment("cpu"), "test")
    (written,) = _csv(tmp_path)
    assert float(written["oa"]) == pytest.approx(row["oa"])
    assert "Classifier on the original: OA" in (tmp_path / "results.md").read_text()


def test_a_scene_without_ground_truth_gets_empty_columns_and_one_note(tmp_path):
    rows = bench.run(["pavia_university"], ["pca-dct"], [0.4, 0.5], tmp_path,
                     tasks=["classify", "unmix"], progress=False)  # fmt: skip
    assert all(row["oa"] is None and row["abundance_rmse"] > 0 for row in rows)
    assert all("position in the full scene is unknown" in row["task_notes"] for row in rows)
    bench.write_all(tmp_path, rows, bench.environment("cpu"), "test")
    assert {(row["oa"], row["kappa_original"]) for row in _csv(tmp_path)} == {("", "")}
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.count("Not run: classify:") == 1
    document = json.loads((tmp_path / "results.json").read_text())
    assert "VCA" in document["definitions"]


def test_unmixing_error_is_zero_on_the_original_and_grows_with_noise(indian_pines):
    cube = indian_pines.data[:40, :40]
    reference = tasks.Reference.of(cube, tasks.settings(["unmix"]))
    assert reference.endmembers.shape == (4, 200) and not reference.notes
    assert np.allclose(reference.abundances.sum(axis=1), 1, atol=0.01)
    assert reference.evaluate(cube)["abundance_rmse"] == 0
    noise = np.random.default_rng(1).normal(0, 0.02 * cube.std(), cube.shape)
    slightly = reference.evaluate(cube + noise)["abundance_rmse"]
    more = reference.evaluate(cube + 10 * noise)["abundance_rmse"]
    assert 0 < slightly < more


def test_the_split_is_fixed_and_stratified():
    labels = np.repeat([0, 1, 2, 3, 4], [50, 100, 39, 200, 7])
    labels = np.random.default_rng(3).permutation(labels).reshape(18, 22)
    train, test = tasks.stratified_split(labels)
    again = tasks.stratified_split(labels)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not set(train) & set(test)
    flat = labels.reshape(-1)
    counts = dict(zip(*np.unique(flat[train], return_counts=True), strict=True))
    assert counts == {1: 10, 2: 5, 3: 20}  # 10 %, at least 5; class 4 (7 pixels) left out
    assert set(np.unique(flat[test])) == {1, 2, 3}
    assert len(train) + len(test) == 100 + 39 + 200
    assert not np.array_equal(tasks.stratified_split(labels, seed=1)[0], train)


def test_task_settings_are_checked(monkeypatch):
    with pytest.raises(InputError, match="unknown task sort"):
        tasks.settings(["sort"])
    with pytest.raises(InputError, match="at least 2"):
        tasks.settings(["unmix"], endmembers=1)
    with pytest.raises(InputError, match="applies to --task unmix"):
        tasks.settings(["classify"], endmembers=3)
    assert tasks.covers({"unmix": tasks.settings(["unmix"])["unmix"]}, tasks.settings(["unmix"]))
    assert not tasks.covers(None, tasks.settings(["unmix"]))
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    with pytest.raises(InputError, match=r'pip install "hsinr\[tasks\]"'):
        tasks.settings(["classify"])
    assert "unmix" in tasks.settings(["unmix"])  # unmixing needs only scipy
