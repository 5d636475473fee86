"""The ``latent`` codec: wavelet latents + coded spectral basis, in tiles."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hsinr import codecs, container, io, metrics
from hsinr.cli import main
from hsinr.codecs import BudgetWarning, Run, latent_encoder, latent_format
from hsinr.cube import Cube
from hsinr.entropy.context import Neighbours
from hsinr.entropy.laplace import LaplaceDecoder, encode_symbols, fit_scale_codes, scale_of
from hsinr.errors import InputError
from hsinr.transforms.wavelet import Wavelet2D, default_levels

QUIET = Run(progress=False, jobs=1)


@pytest.fixture(scope="module")
def crop(cuprite) -> Cube:
    """A 40 x 36 x 60 real crop of Cuprite (int16 reflectance)."""
    return Cube(np.ascontiguousarray(cuprite.data[5:45, 10:46, 20:80]), name="cuprite_crop")


@pytest.fixture(scope="module")
def scene(indian_pines) -> Cube:
    """An 85 x 70 x 40 real scene, coded below in tiles of 32: 3 x 3 tiles of odd sizes."""
    return Cube(np.ascontiguousarray(indian_pines.data[:, :, ::5]), name="indian_tiles")


@pytest.fixture(scope="module")
def tiled(scene):
    return codecs.encode("latent", scene, {"bpppb": 0.2, "tile": 32}, QUIET)


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (7, 5), (40, 36), (64, 64)])
def test_wavelet_inverts_exactly_and_its_subbands_tile_the_image(shape):
    rows, cols = shape
    wavelet = Wavelet2D(rows, cols)
    images = np.random.default_rng(1).normal(size=(2, rows, cols))
    assert np.allclose(wavelet.synthesis(wavelet.analysis(images)), images)
    assert set(np.unique(wavelet.subbands)) == set(range(wavelet.subband_count))
    assert wavelet.levels == default_levels(rows, cols)


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


def test_a_scene_smaller_than_a_tile_is_one_tile_whatever_the_tile_size(crop):
    """Tiling is inert for a small scene: one tile, the same latents and basis at any tile
    size, and its decoding is the untiled formula, spectra = (q W^-1(y)) B + m, applied
    to the whole image."""
    files = [codecs.encode("latent", crop, {"bpppb": 0.2, "tile": tile}, QUIET).data
             for tile in (64, 1024)]  # fmt: skip
    frames = [container.unpack(data) for data in files]
    assert [len(frame.chunks) for frame in frames] == [2, 2]
    assert [frame.chunks[i] for i in (0, 1) for frame in frames[:1]] == [
        frames[1].chunks[0], frames[1].chunks[1]]  # fmt: skip
    file = latent_format.read(files[0])
    latents, offset = latent_format.unpack_tile(frames[0].chunks[1], file.header.components,
                                                Wavelet2D(40, 36, file.header.levels))  # fmt: skip
    k = file.header.components
    images = Wavelet2D(40, 36, file.header.levels).synthesis(
        latent_format.dequantised(latents, offset / 256).reshape(k, 40, 36)) * file.header.step
    spectra = images.reshape(k, -1).T @ file.basis[1:] + file.basis[0]
    expected = file.header.cube.restore(spectra.reshape(40, 36, -1)).data
    assert np.array_equal(codecs.decode(files[0]).data, expected)


def test_round_trip_within_the_budget_and_lands_within_one_percent_under_it(crop):
    encoding = codecs.encode("latent", crop, {"bpppb": 0.2}, QUIET)
    assert 0.99 * 0.2 <= encoding.bpppb <= 0.2
    decoded = codecs.decode(encoding.data)
    assert decoded.shape == crop.shape and decoded.dtype == crop.dtype
    psnr = metrics.psnr(crop.data, decoded.data)
    assert psnr > 40
    # what the encoder measured (before the decoder's clipping) is what decodes, or less
    assert encoding.psnr - 0.01 <= psnr <= encoding.psnr + 0.05


def test_a_scene_of_several_tiles_with_odd_edges(scene, tiled):
    frame = container.unpack(tiled.data)
    header = latent_format.read(tiled.data).header
    assert header.grid.row_edges == [0, 28, 56, 85] and header.grid.col_edges == [0, 23, 46, 70]
    assert len(frame.chunks) == 1 + 9 and tiled.details["tiles"] == 9
    assert 0.99 * 0.2 <= tiled.bpppb <= 0.2
    decoded = codecs.decode(tiled.data)
    assert decoded.shape == scene.shape
    assert metrics.psnr(scene.data, decoded.data) > 38
    file_size = container.CHUNKED_OVERHEAD + len(frame.header) + 8 * 9
    assert len(tiled.data) == file_size + sum(frame.chunks.length(i) for i in range(10))


def test_stored_integers_survive_entropy_coding_exactly(crop):
    wavelet = Wavelet2D(40, 36)
    latents = np.random.default_rng(4).laplace(size=(5, 40, 36)) * np.array([9, 4, 2, 1, 0.3])[
        :, None, None]  # fmt: skip
    quantised = latent_encoder.quantise(latents, wavelet, 2, True)
    chunk = latent_format.pack_tile(quantised.symbols, quantised.offset_code, wavelet,
                                    quantised.model)  # fmt: skip
    back, offset = latent_format.unpack_tile(chunk, 5, wavelet)
    assert np.array_equal(back, quantised.symbols) and offset == quantised.offset_code
    rows = np.rint(np.random.default_rng(5).normal(size=(6, 60)) * 50)
    codes = np.arange(6, dtype=np.uint8) + 120
    again, again_codes = latent_format.unpack_basis(latent_format.pack_basis(rows, codes), 5, 60)
    assert np.array_equal(again, rows) and np.array_equal(again_codes, codes)


def test_rate_distortion_optimised_quantisation_lowers_the_lagrangian(crop):
    """At a fixed step, RDOQ passes give a lower error + lambda * bits than plain rounding,
    on the crop's own latents, the bits those of the coded tile."""
    from hsinr.transforms.klt import principal_basis

    wavelet = Wavelet2D(40, 36)
    values, _ = crop.normalise(np.float64)
    pixels = values.reshape(-1, crop.bands)
    basis = principal_basis(pixels, 6, stored=False)
    latents = latent_encoder.latent_images(pixels, basis.mean, basis.components.T, wavelet) / 0.02
    costs = []
    for passes in (0, 2):
        quantised = latent_encoder.quantise(latents, wavelet, passes, True)
        chunk = latent_format.pack_tile(quantised.symbols, quantised.offset_code, wavelet,
                                        quantised.model)  # fmt: skip
        decoded = latent_format.dequantised(quantised.symbols, quantised.offset_code / 256)
        error = float(np.sum((latents.reshape(6, -1) - decoded) ** 2))  # in squared steps
        costs.append(error + np.log(2) / 6 * 8 * len(chunk))
    assert costs[1] < costs[0]


def test_decoding_is_deterministic(tiled):
    assert np.array_equal(codecs.decode(tiled.data).data, codecs.decode(tiled.data).data)


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


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (7, 5), (40, 36), (6, 13)])
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


def test_training_is_deterministic_keeps_to_the_budget_and_wants_one_tile(crop, scene):
    codec = codecs.get("latent")
    run = Run(seed=3, progress=False)
    runs = [codec.encode(crop, {"bpppb": 0.1, "iterations": 30}, run) for _ in range(2)]
    assert runs[0].data == runs[1].data
    assert metrics.bpppb(len(runs[0].data), crop.shape) <= 0.1
    with pytest.raises(InputError, match="--iters trains a scene of one tile"):
        codec.encode(scene, {"bpppb": 0.1, "iterations": 5, "tile": 32}, run)


def test_an_unreachable_budget_writes_the_smallest_file(crop):
    with pytest.warns(BudgetWarning):
        encoding = codecs.encode("latent", crop, {"bpppb": 1e-4}, QUIET)
    assert encoding.bpppb > 1e-4 and not encoding.within_budget
    assert encoding.details["components"] == 1
    assert codecs.decode(encoding.data).shape == crop.shape


def _with_header(data: bytes, offset: int, value: bytes) -> bytes:
    frame = container.unpack(data)
    header = bytearray(frame.header)
    header[offset : offset + len(value)] = value
    return container.pack_chunks(latent_format.CODEC_ID, bytes(header),
                                 [frame.chunks[i] for i in range(len(frame.chunks))])  # fmt: skip


def _with_chunk(data: bytes, index: int, chunk: bytes) -> bytes:
    frame = container.unpack(data)
    chunks = [frame.chunks[i] for i in range(len(frame.chunks))]
    chunks[index] = chunk
    return container.pack_chunks(latent_format.CODEC_ID, frame.header, chunks)


def test_corrupt_latent_files_are_refused(tiled):
    data = tiled.data
    for cut in (5, len(data) // 2):
        with pytest.raises(container.CorruptFileError, match="truncated"):
            codecs.decode(data[:-cut])
    head = bytearray(data)
    head[40] ^= 0x10  # the codec header, under the head's CRC
    with pytest.raises(container.CorruptFileError, match="CRC mismatch in the file's head"):
        codecs.decode(bytes(head))
    frame = container.unpack(data)
    cases = [  # (header offset, bytes, message): after the 27-byte cube header
        (28, struct.pack("<H", 0), "components"), (27, bytes([9]), "levels"),
        (30, struct.pack("<f", float("nan")), "step"), (34, struct.pack("<H", 0), "tile size"),
        (34, struct.pack("<H", 16), "chunks"),
    ]  # fmt: skip
    for offset, value, message in cases:
        with pytest.raises(container.CorruptFileError, match=message):
            codecs.decode(_with_header(data, offset, value))
    tile = frame.chunks[1]
    for chunk, message in [(tile[:1] + bytes([0]) + tile[2:], "exponent"),
                           (tile[:1] + bytes([40]) + tile[2:], "exponent"),
                           (tile[:-2], "wrong length"), (tile + b"\0\0\0\0", "left over|data"),
                           (frame.chunks[0][:-4], "wrong length|holds")]:  # fmt: skip
        index = 0 if message.startswith("wrong length|holds") else 1
        with pytest.raises(container.CorruptFileError, match=message):
            codecs.decode(_with_chunk(data, index, chunk))


def test_bad_options_are_refused(crop):
    codec = codecs.get("latent")
    with pytest.raises(InputError, match="--rdoq must be at least 0, not -1"):
        codec.encode(crop, {"bpppb": 0.1, "rdoq": -1})
    with pytest.raises(InputError, match="--components must be at least 1"):
        codec.encode(crop, {"bpppb": 0.1, "components": 0})
    with pytest.raises(InputError, match="--tile must be at least 16"):
        codec.encode(crop, {"bpppb": 0.1, "tile": 8})
    with pytest.raises(InputError, match="needs a budget"):
        codec.encode(crop)
    with pytest.raises(InputError, match="takes no option precision"):
        codec.encode(crop, {"bpppb": 0.1, "precision": 16})


def test_cli_compresses_and_decompresses_a_tiled_scene(scene, tmp_path, capsys):
    source = tmp_path / "scene.npy"
    np.save(source, scene.data)
    packed = tmp_path / "scene.hsinr"
    assert main(["compress", str(source), str(packed), "--codec", "latent", "--bpppb", "0.1",
                 "--tile", "32", "--quiet"]) == 0  # fmt: skip
    assert "tiles 9" in capsys.readouterr().out
    whole = codecs.decode(packed.read_bytes()).data
    for name in ("back.npy", "back.hdr", "back.tif", "back.mat"):
        assert main(["decompress", str(packed), str(tmp_path / name), "--window",
                     "10:70,5:66", "--bands", "2:30"]) == 0  # fmt: skip
        assert np.array_equal(io.load(tmp_path / name).data, whole[10:70, 5:66, 2:30]), name
    assert main(["info", str(packed)]) == 0
    assert "layout_version" in capsys.readouterr().out
