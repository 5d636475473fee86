import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
import torch

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


@pytest.fixture
def crop_file(tmp_path, small_cube):
    path = tmp_path / "crop.npy"
    io.save(small_cube, path)
    return path


def test_compress_decompress_info_eval_through_files(capsys, tmp_path, crop_file, small_cube):
    packed = tmp_path / "crop.hsinr"
    status, out, err = run(
        capsys, "compress", str(crop_file), str(packed), "--bpppb", "4", "--precision", "16",
        "--iters", "150", "--lr", "1e-3", "--quiet",
    )  # fmt: skip
    assert status == 0, err
    achieved = 8 * packed.stat().st_size / np.prod(small_cube.shape)
    assert f"{achieved:.4f} achieved (budget 4)" in out and "PSNR" in out

    status, out, _ = run(capsys, "info", str(packed), "--json")
    facts = json.loads(out)
    assert facts["codec"] == "siren" and facts["precision_bits"] == 16
    assert facts["shape"] == list(small_cube.shape) and facts["bytes"] == packed.stat().st_size

    decoded = tmp_path / "decoded.tif"
    assert run(capsys, "decompress", str(packed), str(decoded))[0] == 0
    assert io.load(decoded).dtype == small_cube.dtype
    status, out, _ = run(capsys, "eval", str(crop_file), str(decoded), "--json")
    scores = json.loads(out)
    assert status == 0 and set(scores) == {"psnr", "mpsnr", "sam", "ssim", "mse"}

    window = tmp_path / "window.npy"
    run(capsys, "decompress", str(packed), str(window), "--window", "2:8,:5", "--bands", "3:")
    np.testing.assert_array_equal(np.load(window), io.load(decoded).data[2:8, :5, 3:])


def test_codec_commands_refuse_bad_requests(capsys, tmp_path, crop_file):
    cases = [
        (["compress", str(crop_file), str(crop_file), "--bpppb", "4"], "overwrite the input"),
        (["compress", str(crop_file), str(tmp_path / "a.hsinr"), "--bpppb", "0.01"],
         "the minimum is"),
        (["compress", str(crop_file), str(tmp_path / "a.hsinr"), "--bpppb", "4",
          "--device", "cuda"], "no GPU"),
        (["decompress", str(crop_file), str(tmp_path / "b.npy")], "not an hsinr file"),
        (["decompress", str(tmp_path / "none.hsinr"), str(tmp_path / "b.npy")], "no such file"),
    ]  # fmt: skip
    for argv, message in cases:
        if "cuda" in argv and torch.cuda.is_available():
            continue
        status, _, err = run(capsys, *argv)
        assert status == 1 and message in err, (argv, err)
        assert err.count("\n") == 1


def test_demo_writes_the_file_the_decoded_cube_and_the_picture(capsys, tmp_path):
    from PIL import Image

    status, out, err = run(capsys, "demo", "--out", str(tmp_path), "--iters", "30", "--quiet")
    assert status == 0, err
    packed = tmp_path / "sample.hsinr"
    assert 8 * packed.stat().st_size / (64 * 64 * 198) <= 0.1
    assert io.load(tmp_path / "sample_decoded.npz").shape == (64, 64, 198)
    with Image.open(tmp_path / "sample_comparison.png") as picture:
        assert picture.width > picture.height > 100
    assert "PSNR" in out and "bpppb" in out
