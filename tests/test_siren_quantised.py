"""Quantised, entropy-coded SIREN weights: the siren codec's ``bits`` mode."""

import numpy as np
import pytest
import torch

from hsinr import codecs, container, datasets, metrics
from hsinr.codecs import Run, Window
from hsinr.codecs import siren as siren_codec
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.nn.qat import fake_quantise
from hsinr.nn.search import Arch
from hsinr.quantise.uniform import dequantise, quantise
from hsinr.quantise.weights import GROUP_BYTES, decode_weights, encode_weights, group_count

CODEC = codecs.get("siren")


@pytest.fixture(scope="module")
def crop() -> Cube:
    return Cube(np.ascontiguousarray(datasets.sample().data[:24, :24]), name="crop")


def compress(cube, **options):
    return CODEC.encode(cube, options, Run(progress=False))


@pytest.fixture(scope="module")
def eight_bit(crop):
    return compress(crop, bpppb=0.3, bits=8, iterations=300)


def test_training_sees_exactly_the_stored_weights():
    weights = torch.randn(7, 5)
    for bits, per in ((4, "tensor"), (9, "channel")):
        fake = fake_quantise(weights, bits, per).numpy()
        rows = weights.numpy() if per == "channel" else weights.numpy().reshape(1, -1)
        stored = np.stack([dequantise(*quantise(row, bits)) for row in rows]).reshape(7, 5)
        np.testing.assert_allclose(fake, stored, rtol=0, atol=1e-6)
        step = (rows.max(axis=1) - rows.min(axis=1)) / (2**bits - 1)
        error = np.abs(stored - weights.numpy()).reshape(rows.shape)
        assert np.all(error <= step[:, None] / 2 + 1e-6)


@pytest.mark.parametrize("per", ["tensor", "channel"])
def test_entropy_coded_weights_decode_bit_exactly(per):
    rng = np.random.default_rng(0)
    tensors = [rng.uniform(-1, 1, (16, 2)), rng.normal(size=16), rng.laplace(size=(5, 16)),
               rng.normal(size=5)]  # fmt: skip
    tensors = [t.astype(np.float32) for t in tensors]
    body, words = encode_weights(tensors, 7, per)
    shapes = [t.shape for t in tensors]
    assert len(body) == group_count(shapes, per) * GROUP_BYTES + 4 * words
    decoded = decode_weights(body, shapes, 7, per, words)
    rows = (lambda t: t.reshape(t.shape[0], -1)) if per == "channel" else (
        lambda t: t.reshape(1, -1))  # fmt: skip
    for tensor, back in zip(tensors, decoded, strict=True):
        groups = rows(tensor) if tensor.ndim > 1 else tensor.reshape(1, -1)
        expected = np.concatenate([dequantise(*quantise(g, 7)) for g in groups])
        np.testing.assert_array_equal(back.reshape(-1), expected)


def test_file_size_equals_the_header_arithmetic(eight_bit, crop):
    header, _ = CODEC.read_header(eight_bit.data)
    assert header.quantised and header.bits == 8 and header.per == "tensor"
    groups = group_count(siren_codec.weight_shapes(header.arch, crop.bands), "tensor")
    assert groups == 2 * (header.arch.hidden_layers + 1)
    assert len(eight_bit.data) == 20 + 26 + 6 + 11 * groups + 4 * header.words
    assert len(eight_bit.data) <= 0.3 * np.prod(crop.shape) / 8


def test_quantised_round_trip_and_info(eight_bit, crop):
    decoded = codecs.decode(eight_bit.data)
    assert decoded.shape == crop.shape and decoded.dtype == crop.dtype
    assert metrics.psnr(crop, decoded) > 20.0
    facts = CODEC.describe(eight_bit.data)
    assert facts["bits"] == 8 and facts["weights"] == "8-bit per-tensor"
    window = codecs.decode(eight_bit.data, Window(rows=slice(3, 9), bands=slice(5, 7)))
    np.testing.assert_array_equal(window.data, decoded.data[3:9, :, 5:7])


def test_quantisation_aware_fine_tuning_pays_at_low_bits(crop):
    def psnr(qat: int) -> float:
        encoding = compress(crop, bpppb=0.3, bits=4, iterations=300, qat_iterations=qat)
        return metrics.psnr(crop, codecs.decode(encoding.data))

    assert psnr(100) > psnr(0) + 2.0


def test_auto_bits_picks_a_pair_within_the_budget(crop):
    budget = 0.2
    encoding = compress(crop, bpppb=budget, bits="auto", iterations=60, search_iterations=30)
    assert metrics.bpppb(len(encoding.data), crop.shape) <= budget
    trials = encoding.details["trials"]
    assert {trial["weights"] for trial in trials} >= {"fp16", "8-bit per-tensor"}
    assert encoding.details["weights"] == trials[0]["weights"]


def test_bad_bits_and_corrupt_quantised_files_are_refused(eight_bit, crop):
    with pytest.raises(InputError, match="--bits: must be auto or 4-16, not 3"):
        compress(crop, bpppb=0.3, bits=3, iterations=1)
    frame = container.unpack(eight_bit.data)
    header = bytearray(frame.header)
    header[siren_codec.HEADER.size] = 2  # 2 bits: not a width the codec writes
    with pytest.raises(container.CorruptFileError, match="quantiser settings"):
        codecs.decode(container.pack(1, bytes(header), frame.payload))
    payload = bytearray(frame.payload)
    payload[4:8] = np.float32(0.0).tobytes()  # the first group's step: zero
    with pytest.raises(container.CorruptFileError, match="quantiser is invalid"):
        codecs.decode(container.pack(1, frame.header, bytes(payload)))
    with pytest.raises(container.CorruptFileError, match="payload"):
        codecs.decode(container.pack(1, frame.header, frame.payload[:-4]))
    flipped = bytearray(eight_bit.data)
    flipped[60] ^= 1
    with pytest.raises(container.CorruptFileError):
        codecs.decode(bytes(flipped))


def test_arch_given_with_bits_checks_the_estimated_budget(crop):
    with pytest.raises(Exception, match="over the budget"):
        compress(crop, bpppb=0.01, bits=8, arch=Arch(6, 40), iterations=1)
