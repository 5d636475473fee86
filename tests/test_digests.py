"""Every codec writes the same bytes as it did when the digests were taken (before the
codec-face refactor of issue 13): a pin that moving code around changes no file. The
``latent``, ``pca-dct`` and ``pca-jpeg2000`` pins were taken again when their layouts
became tiled (container version 2, issue 14); the others are the originals. The ``siren``
pins run the paper's loop (``faithful``), which the default loop was before issue 17;
``siren-default-loop`` was added then, and taken again when the default loop began to
solve the output layer by least squares (issue 17).

Floating-point results depend on the CPU and the libraries (BLAS and torch kernels,
OpenJPEG), so the digests are compared only in the environment they were taken in (the
project's machines); elsewhere the test is skipped and says why. Regenerate with
``python tests/test_digests.py --write`` (only when a change is meant to change files).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

PINS = Path(__file__).parent / "data" / "digests.json"
LIBRARIES = ("numpy", "scipy", "torch", "pillow", "constriction")
JOBS = {  # name -> (codec, options given to its encoder)
    "siren": ("siren", {"bpppb": 0.5, "precision": 16, "iterations": 100, "faithful": True}),
    "siren-bits8": ("siren", {"bpppb": 0.5, "bits": 8, "iterations": 100, "faithful": True}),
    "siren-search": ("siren", {"bpppb": 0.5, "search": True, "search_iterations": 20,
                               "iterations": 50, "faithful": True}),
    "siren-default-loop": ("siren", {"bpppb": 0.5, "precision": 16, "iterations": 100}),
    "jpeg": ("jpeg", {"bpppb": 2.0}),
    "jpeg2000": ("jpeg2000", {"bpppb": 1.0}),
    "pca-dct": ("pca-dct", {"bpppb": 0.3}),
    "pca-jpeg2000": ("pca-jpeg2000", {"bpppb": 0.3}),
    "meta": ("meta", {"bpppb": None, "bits": 8}),
    "meta-budget": ("meta", {"bpppb": 0.02}),
    "latent": ("latent", {"bpppb": 0.3}),
    "latent-trained": ("latent", {"bpppb": 0.3, "iterations": 20}),
}


def environment() -> dict[str, str]:
    """What the bytes depend on besides hsinr's code."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    found = {name: metadata.version(name) for name in LIBRARIES}
    return {**found, "machine": platform.machine(), "cpu": cpu}


def sample_crop():
    from hsinr import Cube, datasets

    return Cube(np.ascontiguousarray(datasets.sample().data[:24, :20]), name="digest")


def encode(name: str) -> bytes:
    """The file the job ``name`` writes (the codecs' API of the day: keep it in step)."""
    from hsinr import codecs

    codec, options = JOBS[name]
    return codecs.encode(codec, sample_crop(), options, codecs.Run(progress=False)).data


def digests() -> dict[str, str]:
    return {name: hashlib.sha256(encode(name)).hexdigest() for name in JOBS}


@pytest.fixture(scope="module")
def pinned() -> dict[str, str]:
    recorded = json.loads(PINS.read_text())
    here = environment()
    if recorded["environment"] != here:
        different = sorted(k for k in here if recorded["environment"].get(k) != here[k])
        pytest.skip(f"digests were taken in another environment (differs in {different})")
    return recorded["digests"]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_each_codec_writes_the_bytes_it_wrote_before(name, pinned):
    assert hashlib.sha256(encode(name)).hexdigest() == pinned[name]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_digests.py --write")
    PINS.write_text(json.dumps({"environment": environment(), "digests": digests()}, indent=2)
                    + "\n")  # fmt: skip
    print(f"wrote {PINS}")
