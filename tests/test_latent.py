"""The ``latent`` codec: wavelet latents + coded spectral basis, rate-distortion trained."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hsinr import codecs, container, metrics
from hsinr.cli import main
from hsinr.codecs import BudgetWarning, Run, latent
from hsinr.cube import Cube
from hsinr.entropy.context import BUCKETS, Neighbours
from hsinr.entropy.laplace import LaplaceDecoder, encode_symbols, fit_scale_codes, scale_of
from hsinr.transforms.wavelet import Wavelet2D, default_levels

QUIET = Run(progress=False)
CONTAINER_BYTES = 20  # magic, version, codec id, lengths, CRC (docs/FORMAT.md)


@pytest.fixture(scope="module")
def crop(cuprite) -> Cube:
    """A 40 x 36 x 60 real crop of Cuprite (int16 reflectance)."""
    return Cube(np.ascontiguousarray(cuprite.data[5:45, 10:46, 20:80]), name="cuprite_crop")


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (7, 5), (40, 36), (64, 64)])
def test_wavelet_inverts_exactly_and_its_subbands_tile_the_image(shape):
    rows, cols = shape
    wavelet = Wavelet2D(rows, cols)
    images = np.random.default_rng(1).normal(size=(2, rows, cols))
    assert np.allclose(wavelet.synthesis(wavelet.analysis(images)), images)
    assert set(np.unique(wavelet.subbands)) == set(range(wavelet.subband_count))
    assert wavelet.levels == default_levels(rows, cols)


def test_wavelet_compacts_a_smooth_image_into_its_low_band():
    y, x = np.mgrid[0:32, 0:32] / 32
    coefficients = Wavelet2D(32, 32).analysis(np.sin(2 * y + x)[None])[0]
    low = Wavelet2D(32, 32).subbands == 0
    assert np.sum(coefficients[low] ** 2) > 0.99 * np.sum(coefficients**2)


def test_zero_centred_entropy_coding_is_bit_exact():
    rng = np.random.default_rng(2)
    symbols = np.rint(rng.laplace(scale=[0.3] * 500 + [40.0] * 500)).astype(np.int64)
    groups = np.repeat([0, 1], 500)
    scales = scale_of(fit_scale_codes(symbols, groups, 2))[groups]
    bound = int(np.abs(symbols).max())
    words = encode_symbols(symbols, scales, -bound, bound)
    decoder = LaplaceDecoder(words, -bound, bound)
    assert np.array_equal(decoder.decode(scales), symbols)
    decoder.finish()
    assert words.nbytes * 8 < 1.1 * 1000 * 4  # about the entropy, far below raw int32


def test_round_trip_within_budget_and_size_equals_the_header_arithmetic(crop):
    codec = codecs.get("latent")
    encoding = codec.encode(crop, {"bpppb": 0.2}, QUIET)
    data = encoding.data
    assert 0.95 * 0.2 <= metrics.bpppb(len(data), crop.shape) <= 0.2
    header, wavelet, _ = latent.unpack(data)
    k = header.components
    tables = 4 + 2 * (k + 1) + k * wavelet.subband_count + BUCKETS
    words = (len(data) - CONTAINER_BYTES - 35 - tables) // 4
    assert len(data) == CONTAINER_BYTES + 35 + tables + 4 * words
    decoded = codecs.decode(data)
    assert decoded.shape == crop.shape and decoded.dtype == crop.dtype
    psnr = metrics.psnr(crop.data, decoded.data)
    assert psnr > 40
    assert abs(psnr - encoding.psnr) < 0.05  # what the encoder measured is what decodes


def test_stored_integers_survive_entropy_coding_exactly(crop):
    problem = latent._Problem(crop, 6, -1)
    header, latents, rows, codes = problem.start(6, 0.05)
    header, quantised = problem.quantise(header, latents, rows, codes)
    _, _, back = latent.unpack(latent.pack(header, problem.wavelet, quantised))
    assert np.array_equal(back.latents, quantised.latents)
    assert np.array_equal(back.rows, quantised.rows)
    assert np.array_equal(back.row_codes, quantised.row_codes)


def test_decoding_is_deterministic(crop):
    data = codecs.encode("latent", crop, {"bpppb": 0.1, "iterations": 20}, QUIET).data
    first, second = codecs.decode(data), codecs.decode(data)
    assert np.array_equal(first.data, second.data)


def test_training_is_deterministic_and_keeps_to_the_budget(crop):
    codec = codecs.get("latent")
    run = Run(seed=3, progress=False)
    runs = [codec.encode(crop, {"bpppb": 0.1, "iterations": 30}, run) for _ in range(2)]
    assert runs[0].data == runs[1].data
    assert metrics.bpppb(len(runs[0].data), crop.shape) <= 0.1


def test_contexts_use_only_what_the_decoder_has_already_decoded(crop):
    """Row by row in decoding order, with everything later still zero, each row's contexts
    equal the ones the encoder computes from the whole array."""
    wavelet = Wavelet2D(*crop.shape[:2])
    neighbours = Neighbours.of(wavelet)
    magnitude = np.abs(np.random.default_rng(5).laplace(size=(3, crop.shape[0] * crop.shape[1])))
    expected = neighbours.all_contexts(magnitude)
    partial = np.zeros((3, magnitude.shape[1] + 1))  # the last entry: "no neighbour"
    for component in range(3):
        previous = partial[component - 1] if component else None
        for positions in neighbours.rows:
            found = neighbours.contexts(partial[component], previous, positions)
            assert np.array_equal(found, expected[component, positions])
            partial[component, positions] = magnitude[component, positions]


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (7, 5), (40, 36)])
def test_contexts_follow_the_documented_definition(shape):
    """docs/FORMAT.md: the mean of |y| / s over the parent, the up-left, up and up-right
    neighbours within the subband and the previous component, those that exist, summed
    in that order; computed here one latent at a time."""
    wavelet = Wavelet2D(*shape)
    rows, cols = shape
    magnitude = np.abs(np.random.default_rng(6).laplace(size=(2, rows * cols)))
    parents = wavelet.parents.reshape(-1)
    subband = wavelet.subbands
    found = Neighbours.of(wavelet).all_contexts(magnitude)
    for component in range(2):
        for i in range(rows):
            for j in range(cols):
                looked = []
                if parents[i * cols + j] >= 0:
                    looked.append(magnitude[component, parents[i * cols + j]])
                for shift in (-1, 0, 1):
                    ii, jj = i - 1, j + shift
                    if ii >= 0 and 0 <= jj < cols and subband[ii, jj] == subband[i, j]:
                        looked.append(magnitude[component, ii * cols + jj])
                if component:
                    looked.append(magnitude[component - 1, i * cols + j])
                total = 0.0
                for value in looked:
                    total += value
                assert found[component, i * cols + j] == total / max(len(looked), 1)


def test_rate_distortion_optimised_quantisation_lowers_the_lagrangian(crop):
    """At a fixed step, RDOQ passes give a lower error + lambda * rate than plain rounding,
    both measured on the real file and its decoded cube."""
    from hsinr.nn.latent import lagrangian

    costs = []
    for passes in (0, 2):
        problem = latent._Problem(crop, 8, -1, passes)
        encoding = codecs.get("latent")._untrained(problem, 8, 0.04)
        mse = 10 ** (-encoding.psnr / 10)
        costs.append(mse + lagrangian(0.04) * 8 * len(encoding.data) / crop.data.size)
    assert costs[1] < costs[0]


def test_an_unreachable_budget_writes_the_smallest_file(crop):
    with pytest.warns(BudgetWarning):
        encoding = codecs.encode("latent", crop, {"bpppb": 1e-4}, QUIET)
    assert encoding.bpppb > 1e-4 and not encoding.within_budget
    assert encoding.details["components"] == 1
    assert codecs.decode(encoding.data).shape == crop.shape


def test_corrupt_latent_files_are_refused(crop):
    data = codecs.encode("latent", crop, {"bpppb": 0.1}, QUIET).data
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x04
    with pytest.raises(container.CorruptFileError):
        codecs.decode(bytes(flipped))
    with pytest.raises(container.CorruptFileError):
        codecs.decode(data[:-5])
    frame = container.unpack(data)
    for offset, value, message in [(28, 0, "components"), (27, 9, "levels"), (30, 0, "step")]:
        header = bytearray(frame.header)
        header[offset : offset + 4 if message == "step" else offset + 1] = (
            struct.pack("<f", float("nan")) if message == "step" else bytes([value])
        )
        with pytest.raises(container.CorruptFileError, match=message):
            codecs.decode(container.pack(latent.CODEC_ID, bytes(header), frame.payload))
    with pytest.raises(container.CorruptFileError, match="payload"):
        codecs.decode(container.pack(latent.CODEC_ID, frame.header, frame.payload[:-2]))
    zero_bound = struct.pack("<I", 0) + frame.payload[4:]
    with pytest.raises(container.CorruptFileError, match="bound"):
        codecs.decode(container.pack(latent.CODEC_ID, frame.header, zero_bound))


def test_bad_options_are_refused(crop):
    from hsinr.errors import InputError

    codec = codecs.get("latent")
    with pytest.raises(InputError, match="--rdoq must be at least 0, not -1"):
        codec.encode(crop, {"bpppb": 0.1, "rdoq": -1})
    with pytest.raises(InputError, match="--components must be at least 1"):
        codec.encode(crop, {"bpppb": 0.1, "components": 0})
    with pytest.raises(InputError, match="needs a budget"):
        codec.encode(crop)
    with pytest.raises(InputError, match="takes no option precision"):
        codec.encode(crop, {"bpppb": 0.1, "precision": 16})


def test_cli_compresses_and_decompresses_with_the_latent_codec(crop, tmp_path, capsys):
    source = tmp_path / "crop.npy"
    np.save(source, crop.data)
    packed, restored = tmp_path / "crop.hsinr", tmp_path / "back.npy"
    assert main(["compress", str(source), str(packed), "--codec", "latent", "--bpppb", "0.1",
                 "--iters", "0", "--quiet"]) == 0  # fmt: skip
    assert main(["decompress", str(packed), str(restored)]) == 0
    assert np.load(restored).shape == crop.shape
    assert main(["info", str(packed)]) == 0
    assert "components" in capsys.readouterr().out
