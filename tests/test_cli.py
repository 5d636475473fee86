import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from hsinr import io
from hsinr.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_info_on_the_bundled_sample(capsys):
    status, out, err = run(capsys, "info", "scene:sample")
    assert status == 0, err
    assert "64 x 64 x 198" in out and "uint16" in out and "0 .. 5437" in out
    assert "bpppb" in out


def test_info_json_reports_size_and_bpppb(capsys, data_dir):
    path = data_dir / "paviaU_subimg.mat"
    status, out, _ = run(capsys, "info", str(path), "--json")
    facts = json.loads(out)
    assert status == 0
    assert facts["shape"] == [50, 50, 103] and facts["dtype"] == "uint16"
    assert facts["bytes_on_disk"] == path.stat().st_size
    assert facts["bpppb"] == pytest.approx(8 * path.stat().st_size / (50 * 50 * 103))
    assert facts["min"] == 0 and facts["max"] == 6614


def test_info_counts_both_envi_files(capsys, tmp_path, small_cube):
    io.save(small_cube, tmp_path / "scene.hdr")
    _, out, _ = run(capsys, "info", str(tmp_path / "scene.hdr"), "--json")
    facts = json.loads(out)
    sizes = (tmp_path / "scene.hdr").stat().st_size + (tmp_path / "scene.img").stat().st_size
    assert facts["bytes_on_disk"] == sizes
    assert facts["wavelengths"][0] == pytest.approx(400.5)


def test_scenes_lists_every_scene_checked(capsys):
    status, out, _ = run(capsys, "scenes")
    assert status == 0
    for name in ("indian_pines", "jasper_ridge", "pavia_university", "cuprite"):
        assert name in out
    assert out.count("sha256 checked") == 4


def _bad_inputs(tmp_path):
    garbage = tmp_path / "broken.mat"
    garbage.write_bytes(b"MATLAB? no." * 50)
    nan_cube = np.ones((4, 4, 3), dtype=np.float32)
    nan_cube[1, 2, :] = np.nan
    np.save(tmp_path / "nan.npy", nan_cube)
    np.save(tmp_path / "empty.npy", np.zeros((4, 0, 3)))
    np.save(tmp_path / "text.npy", np.full((2, 2, 2), "x"))
    scipy.io.savemat(tmp_path / "flat.mat", {"band": np.ones((5, 5))})
    (tmp_path / "notes.txt").write_text("hello")
    return {
        "missing file": (tmp_path / "absent.mat", "no such file"),
        "unknown suffix": (tmp_path / "notes.txt", "unknown file type '.txt'"),
        "mat without a cube": (tmp_path / "flat.mat", "no 3-D cube found"),
        "non-numeric cube": (tmp_path / "text.npy", "not numeric"),
        "nan values": (tmp_path / "nan.npy", "3 NaN and 0 Inf"),
        "empty cube": (tmp_path / "empty.npy", "empty"),
        "corrupt file": (garbage, "cannot read as MATLAB"),
        "unknown scene": ("scene:salinas", "unknown scene 'salinas'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "unknown suffix",
        "mat without a cube",
        "non-numeric cube",
        "nan values",
        "empty cube",
        "corrupt file",
        "unknown scene",
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(capsys, tmp_path, case):
    path, message = _bad_inputs(tmp_path)[case]
    status, out, err = run(capsys, "info", str(path))
    assert status == 1
    assert out == ""
    assert err.startswith("hsinr: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_exit_status(tmp_path):
    """The installed ``hsinr`` entry point, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "hsinr", "info", str(tmp_path / "absent.npy")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith("absent.npy: no such file")
    usage = subprocess.run(
        [sys.executable, "-m", "hsinr", "info"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
