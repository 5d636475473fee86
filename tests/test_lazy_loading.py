"""Commands that need no network never load torch (nor anything else they do not use),
so that ``hsinr --help`` and a numpy codec's compress / decompress start at once. Each
command runs in a fresh interpreter, which then reports what it imported."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hsinr import datasets

REPORT = """
import json, sys
from hsinr.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = ("torch", "matplotlib", "h5py", "tifffile", "spectral", "PIL", "constriction")
print(json.dumps({"status": status, "loaded": [m for m in heavy if m in sys.modules]}))
"""
NUMPY_CODECS = ["latent", "jpeg2000", "pca-dct", "pca-jpeg2000"]


def loaded(*argv: str) -> list[str]:
    """The heavy libraries ``hsinr ARGV`` loaded (its exit status checked)."""
    result = subprocess.run([sys.executable, "-c", REPORT, *argv], capture_output=True,
                            text=True, check=False)  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, result.stderr
    return report["loaded"]


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    path = tmp_path_factory.mktemp("lazy") / "crop.npy"
    np.save(path, np.ascontiguousarray(datasets.sample().data[:16, :16, ::10]))
    return path


def test_help_loads_no_library_it_does_not_need():
    assert loaded("--help") == []
    assert loaded("compress", "--help") == []


@pytest.mark.parametrize("codec", NUMPY_CODECS)
def test_numpy_codecs_compress_and_decompress_without_torch(codec, crop, tmp_path):
    packed = tmp_path / "crop.hsinr"
    assert "torch" not in loaded("compress", str(crop), str(packed), "--codec", codec,
                                 "--bpppb", "2", "--quiet")  # fmt: skip
    assert "torch" not in loaded("decompress", str(packed), str(tmp_path / "back.npy"))
