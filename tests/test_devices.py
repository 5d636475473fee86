"""The torch codecs on each device: every test runs on the CPU and, marked ``gpu``, on CUDA
when torch sees a GPU (skipped otherwise), through the same functions. A file written on
either device decodes anywhere; results on the GPU match the CPU's up to floating-point
order (a GPU's sums differ in their last bits, which a fit then carries along).

    pytest -m gpu            # the CUDA half alone, on a machine with a GPU
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import hsinr
from hsinr import basenet, codecs, metrics
from hsinr.cli import main
from hsinr.codecs import Run
from hsinr.cube import Cube

gpu = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]
DEVICES = ["cpu", pytest.param("cuda", marks=gpu)]


@pytest.fixture(scope="module")
def crop() -> Cube:
    """A real 24 x 20 x 198 crop of Jasper Ridge (uint16)."""
    jasper = hsinr.datasets.load("jasper_ridge")
    return Cube(np.ascontiguousarray(jasper.data[30:54, 40:60]), name="crop")


def coded(name: str, cube: Cube, device: str, **options) -> tuple[bytes, float]:
    """The file of ``cube`` written on ``device`` and its PSNR decoded on the CPU."""
    data = codecs.encode(name, cube, options, Run(device=device, progress=False)).data
    return data, metrics.psnr(cube.data, codecs.decode(data))


def psnr_on_cpu(name: str, cube: Cube, device: str, psnr: float, **options) -> float:
    """The PSNR of the same encoding on the CPU (``psnr`` itself when that is where it ran)."""
    return psnr if device == "cpu" else coded(name, cube, "cpu", **options)[1]


def decoded_on(data: bytes, device: str) -> np.ndarray:
    return codecs.decode(data, run=Run(device=device)).data.astype(np.int64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", [{}, {"faithful": True}, {"batch_size": 256}],
                         ids=["default", "faithful", "batches"])  # fmt: skip
def test_siren_fits_on_the_device_as_on_the_cpu(crop, device, options):
    settings = {"arch": "3x16", "iterations": 150, **options}
    data, psnr = coded("siren", crop, device, **settings)
    on_cpu = psnr_on_cpu("siren", crop, device, psnr, **settings)
    assert psnr > 15 and abs(psnr - on_cpu) < 0.5
    # the decoder evaluates the network on the device; a value may round a step apart
    assert np.abs(decoded_on(data, device) - decoded_on(data, "cpu")).max() <= 1


@pytest.mark.parametrize("device", DEVICES)
def test_siren_search_on_the_device(crop, device):
    data, psnr = coded("siren", crop, device, bpppb=2.0, search=True, search_iterations=30,
                       iterations=60)  # fmt: skip
    assert 8 * len(data) / crop.data.size <= 2.0 and psnr > 15


@pytest.mark.parametrize("device", DEVICES)
def test_latent_training_on_the_device(crop, device):
    _, untrained = coded("latent", crop, "cpu", bpppb=0.5)
    _, psnr = coded("latent", crop, device, bpppb=0.5, iterations=20)
    on_cpu = psnr_on_cpu("latent", crop, device, psnr, bpppb=0.5, iterations=20)
    assert psnr > untrained - 0.5 and abs(psnr - on_cpu) < 0.3


@pytest.mark.parametrize("device", DEVICES)
def test_meta_codes_on_the_device(crop, device):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. "latent has no GPU work here"
        data, psnr = coded("meta", crop, device, bpppb=0.05, steps=20)
    on_cpu = psnr_on_cpu("meta", crop, device, psnr, bpppb=0.05, steps=20)
    assert psnr > 15 and abs(psnr - on_cpu) < 0.3
    assert np.abs(decoded_on(data, device) - decoded_on(data, "cpu")).max() <= 1


@pytest.mark.parametrize("device", DEVICES)
def test_meta_training_on_the_device(tmp_path, device):
    tiny = ["--scenes", "sample", "--batch", "4", "--patch", "8", "--layers", "2", "--width",
            "8", "--latent", "4", "--inner-steps", "2", "--inner-lr", "5", "--outer-lr", "1e-3",
            "--pixels", "40", "--bands", "150", "--steps", "6", "--quiet"]  # fmt: skip
    for where in dict.fromkeys([device, "cpu"]):
        assert main(["meta-train", *tiny, "--device", where,
                     "--out", str(tmp_path / f"{where}.hsbase")]) == 0  # fmt: skip
    trained = basenet.load_base(tmp_path / f"{device}.hsbase")
    reference = basenet.load_base(tmp_path / "cpu.hsbase")
    assert trained.training["device"].startswith(device)
    for name, tensor in reference.model.state_dict().items():
        torch.testing.assert_close(trained.model.state_dict()[name], tensor, rtol=1e-3,
                                   atol=1e-4)  # fmt: skip
