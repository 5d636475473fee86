"""The meta-learned codec: modulated SIREN, meta-training, base network files, codec ``meta``."""

import json
import struct

import numpy as np
import pytest
import torch

from hsinr import basenet, codecs, container, datasets, metrics
from hsinr.cli import main
from hsinr.codecs import BudgetWarning, Run, Window
from hsinr.codecs import meta as meta_codec
from hsinr.codecs.header import CubeHeader
from hsinr.cube import Cube, Normalisation
from hsinr.nn.meta import (
    MetaTraining,
    PatchSampler,
    adapt,
    fit_latents,
    meta_train,
    new_state,
    patch_mse,
    tile_patches,
    untile_patches,
)  # fmt: skip
from hsinr.nn.modulated import ModulatedConfig, ModulatedSiren


def encode(cube: Cube, base, **options):
    """The meta codec's encoding of ``cube`` on ``base`` (None: the shipped base)."""
    return codecs.get("meta").encode(cube, options, Run(base=base, progress=False))


def decode(data: bytes, base) -> Cube:
    return codecs.decode(data, run=Run(base=base))


TINY = ModulatedConfig(hidden_layers=2, width=16, bands=198, latent_dim=8, patch=8)
FAST = MetaTraining(steps=40, batch=4, inner_steps=2, inner_lr=5.0, outer_lr=1e-3)


def sample_values() -> np.ndarray:
    return datasets.sample().normalise(np.float32)[0]


def tiny_model(seed: int = 0) -> ModulatedSiren:
    torch.manual_seed(seed)
    return ModulatedSiren.from_config(TINY)


@pytest.fixture(scope="module")
def trained_base(tmp_path_factory) -> basenet.BaseNetwork:
    """A tiny base network meta-trained briefly on the bundled sample."""
    model = tiny_model()
    sampler = PatchSampler([sample_values()], TINY.patch, TINY.bands, seed=0)
    meta_train(model, new_state(model, sampler, FAST), FAST, progress=False)
    path = tmp_path_factory.mktemp("base") / "tiny.hsbase"
    return basenet.save_base(model, TINY, path, {"inner_steps": 2, "inner_lr": 5.0})


@pytest.fixture(scope="module")
def sample_crop() -> Cube:
    return Cube(np.ascontiguousarray(datasets.sample().data[:20, :27]), name="crop")


# -- network and meta-learning -------------------------------------------------------------


def test_modulations_are_a_linear_map_of_the_latent():
    model = tiny_model()
    latents = torch.randn(3, TINY.latent_dim)
    beta = model.modulations(latents).reshape(3, -1)
    expected = latents @ model.meta.weight.T + model.meta.bias
    assert torch.allclose(beta, expected, atol=1e-6)
    assert torch.equal(model.modulations(torch.zeros(1, 8)), torch.zeros(1, 2, 1, 16))


def test_tiling_and_untiling_round_trip_with_partial_edges():
    values = np.random.default_rng(1).random((19, 13, 5), dtype=np.float32)
    patches = tile_patches(values, patch=8)
    assert len(patches) == 3 * 2
    assert patches.mask.sum() == 19 * 13
    back = untile_patches(patches.targets, patches.positions, values.shape)
    np.testing.assert_array_equal(back, values)


def test_loss_ignores_masked_pixels_and_missing_bands():
    values = np.full((5, 5, 3), 0.5, np.float32)
    patches = tile_patches(values, patch=8)
    outputs = torch.full((1, 64, 7), 0.5)
    outputs[0, 40:, :] = 9.0  # pixels outside the 5 x 5 image
    outputs[..., 3:] = -4.0  # outputs beyond the image's 3 bands
    assert float(patch_mse(outputs, patches)) == 0.0


def test_a_few_meta_training_steps_lower_the_adapted_loss():
    model = tiny_model()
    probe = tile_patches(sample_values(), TINY.patch)

    def adapted_mse() -> float:
        latents = adapt(model, probe, steps=FAST.inner_steps, lr=FAST.inner_lr)
        with torch.no_grad():
            return float(patch_mse(model(probe.coords, latents), probe).mean())

    before = adapted_mse()
    sampler = PatchSampler([sample_values()], TINY.patch, TINY.bands, seed=0)
    state = meta_train(model, new_state(model, sampler, FAST), FAST, progress=False)
    assert len(state.history) == FAST.steps
    assert adapted_mse() < 0.7 * before


def test_first_order_training_runs_and_inner_steps_help(trained_base):
    model = tiny_model()
    settings = MetaTraining(steps=3, batch=2, second_order=False, outer_lr=1e-3)
    sampler = PatchSampler([sample_values()], TINY.patch, TINY.bands)
    meta_train(model, new_state(model, sampler, settings), settings, progress=False)
    probe = tile_patches(sample_values(), TINY.patch)
    _, at_zero = fit_latents(trained_base.model, probe, steps=0)
    _, fitted = fit_latents(trained_base.model, probe, steps=5, lr=5.0)
    assert torch.all(fitted <= at_zero) and fitted.mean() < at_zero.mean()


# -- base network files and checkpoints -----------------------------------------------------


def test_base_file_round_trips_with_its_hash_and_config(trained_base):
    again = basenet.load_base(trained_base.path)
    assert again.digest == trained_base.digest and again.config == TINY
    for name, tensor in trained_base.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])
    assert again.training["inner_lr"] == 5.0


def test_info_shows_a_base_networks_config_and_hash(trained_base, capsys):
    assert main(["info", str(trained_base.path), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["hash"] == trained_base.name and facts["latent_dim"] == TINY.latent_dim
    assert facts["training"]["inner_lr"] == 5.0


def test_damaged_base_files_are_refused(trained_base, tmp_path):
    raw = bytearray(trained_base.path.read_bytes())
    raw[-5] ^= 0xFF  # a weight's byte: the content hash no longer matches
    (tmp_path / "flipped.hsbase").write_bytes(bytes(raw))
    with pytest.raises(basenet.BaseNetworkError, match="content hash"):
        basenet.load_base(tmp_path / "flipped.hsbase")
    (tmp_path / "cut.hsbase").write_bytes(bytes(raw[:200]))
    with pytest.raises(basenet.BaseNetworkError):
        basenet.load_base(tmp_path / "cut.hsbase")
    (tmp_path / "pickle.hsbase").write_bytes(b"\x80\x04\x95" + bytes(100))
    with pytest.raises(basenet.BaseNetworkError):
        basenet.load_base(tmp_path / "pickle.hsbase")
    with pytest.raises(basenet.BaseNetworkError, match="no such"):
        basenet.load_base(tmp_path / "missing.hsbase")


def test_base_file_whose_tensors_disagree_with_its_config_is_refused(trained_base, tmp_path):
    raw = trained_base.path.read_bytes()
    (size,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8 : 8 + size])
    config = json.loads(header["__metadata__"]["config"])
    config["width"] = 4000  # would allocate a huge network if trusted
    header["__metadata__"]["config"] = json.dumps(config)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    (tmp_path / "lying.hsbase").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])
    with pytest.raises(basenet.BaseNetworkError, match="shape"):
        basenet.load_base(tmp_path / "lying.hsbase")


def meta_train_cli(tmp_path, out: str, steps: int, *extra: str) -> int:
    return main([
        "meta-train", "--scenes", "sample", "--out", str(tmp_path / out), "--steps", str(steps),
        "--batch", "2", "--patch", "8", "--layers", "2", "--width", "8", "--latent", "4",
        "--inner-lr", "5", "--outer-lr", "1e-3", "--checkpoint-every", "1", "--quiet", *extra,
    ])  # fmt: skip


def test_an_interrupted_meta_training_resumes_exactly(tmp_path, capsys):
    assert meta_train_cli(tmp_path, "straight.hsbase", 4) == 0
    assert meta_train_cli(tmp_path, "resumed.hsbase", 2) == 0  # "stopped" after 2 steps
    assert meta_train_cli(tmp_path, "resumed.hsbase", 4) == 0  # picks up the checkpoint
    assert "resuming" in capsys.readouterr().err
    straight = basenet.load_base(tmp_path / "straight.hsbase")
    resumed = basenet.load_base(tmp_path / "resumed.hsbase")
    assert straight.digest == resumed.digest
    assert resumed.training["steps"] == 4 and "meta-train" in resumed.training["command"]


def test_resuming_with_other_settings_is_refused(tmp_path, capsys):
    assert meta_train_cli(tmp_path, "base.hsbase", 1) == 0
    assert meta_train_cli(tmp_path, "base.hsbase", 2, "--first-order") == 1
    assert "--restart" in capsys.readouterr().err
    assert meta_train_cli(tmp_path, "base.hsbase", 2, "--first-order", "--restart") == 0


# -- the codec -----------------------------------------------------------------------------


def test_round_trip_size_arithmetic_and_quality(trained_base, sample_crop):
    codec = codecs.get("meta")
    encoding = encode(sample_crop, trained_base, bits=8)
    header, _ = codec.read_header(encoding.data)
    assert len(encoding.data) == meta_codec.file_size(header)
    models = 1 if header.model == meta_codec.SHARED else header.latent_dim
    assert len(encoding.data) == 20 + 61 + 3 * models + 4 * header.words  # docs/FORMAT.md
    assert header.n_patches == 3 * 4 and header.bits == 8
    decoded = decode(encoding.data, trained_base.path)
    assert decoded.shape == sample_crop.shape and decoded.dtype == sample_crop.dtype
    psnr = metrics.psnr(sample_crop, decoded)
    unfitted = encode(sample_crop, trained_base, bits=8, steps=0)
    fitted = encoding.details["fitted_psnr"]
    assert psnr > 14.0 and fitted > unfitted.details["fitted_psnr"] + 0.5
    assert psnr == pytest.approx(fitted, abs=0.5)  # 8 bits lose little
    again = decode(encoding.data, trained_base)
    np.testing.assert_array_equal(again.data, decoded.data)


def test_bits_auto_takes_the_most_bits_within_the_budget(trained_base, sample_crop):
    codec = codecs.get("meta")
    sizes = {
        bits: len(encode(sample_crop, trained_base, bits=bits).data)
        for bits in (4, 5, 6)
    }
    budget = 8 * sizes[5] / np.prod(sample_crop.shape)
    data = encode(sample_crop, trained_base, bpppb=budget).data
    assert codec.describe(data)["bits"] == 5 and len(data) == sizes[5]
    with pytest.warns(BudgetWarning):
        tiny = encode(sample_crop, trained_base, bpppb=1e-6)
    assert codec.describe(tiny.data)["bits"] == 2 and not tiny.within_budget


def test_quantisation_error_is_within_half_a_step():
    latents = np.random.default_rng(2).normal(size=(30, 8)).astype(np.float32)
    for bits in (2, 5, 12):
        symbols, low, step = meta_codec.quantise(latents, bits)
        assert symbols.min() >= 0 and symbols.max() <= 2**bits - 1
        error = np.abs(meta_codec.dequantise(symbols, low, step) - latents)
        assert error.max() <= step / 2 * (1 + 1e-4)


@pytest.mark.parametrize("kind", [meta_codec.SHARED, meta_codec.PER_DIMENSION])
def test_entropy_coding_is_bit_exact(kind):
    rng = np.random.default_rng(3)
    symbols = np.clip(rng.laplace(100, 6, size=(17, 8)).round(), 0, 255).astype(np.int32)
    side, words = meta_codec.entropy_code(symbols, 8, kind)
    cube_header = CubeHeader((17 * 8, 8, 3), np.dtype("uint16"), Normalisation(0, 1))
    header = meta_codec.MetaHeader(b"\0" * 16, cube_header, 8, 8, 8, kind, 0.0, 1.0, len(words))
    decoded = meta_codec.entropy_decode(header, side + words.tobytes())
    np.testing.assert_array_equal(decoded, symbols)


def test_a_different_or_missing_base_is_refused(trained_base, sample_crop, tmp_path):
    data = encode(sample_crop, trained_base, bits=6).data
    other = basenet.save_base(tiny_model(seed=5), TINY, tmp_path / "other.hsbase", {})
    with pytest.raises(basenet.BaseNetworkError, match=f"base network {trained_base.name}"):
        decode(data, other.path)
    with pytest.raises(basenet.BaseNetworkError, match="could not be loaded"):
        decode(data, tmp_path / "nowhere.hsbase")


def test_corrupt_meta_files_are_refused(trained_base, sample_crop):
    data = encode(sample_crop, trained_base, bits=6).data
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(container.CorruptFileError):
        decode(bytes(flipped), trained_base)
    with pytest.raises(container.CorruptFileError):
        decode(data[:-7], trained_base)
    frame = container.unpack(data)
    bad_bits = bytearray(frame.header)
    bad_bits[meta_codec.HASH_BYTES + 27 + 4] = 0  # bits = 0, with a valid CRC
    with pytest.raises(container.CorruptFileError, match="bits"):
        decode(container.pack(6, bytes(bad_bits), frame.payload), trained_base)
    with pytest.raises(container.CorruptFileError, match="payload"):
        decode(container.pack(6, frame.header, frame.payload[:-4]), trained_base)


def _units_apart(a: np.ndarray, b: np.ndarray) -> int:
    """The largest difference of two decodes (a window's bands or pixels are rendered in
    another float order: a value may round to the next integer)."""
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


def test_a_cube_with_more_bands_than_the_base_has_outputs_is_resampled(trained_base):
    wide = np.repeat(datasets.sample().data[:16, :16], 2, axis=2)[:, :, :250]  # 250 bands
    cube = Cube(np.ascontiguousarray(wide), name="wide")
    encoding = encode(cube, trained_base, bits=8)
    decoded = decode(encoding.data, trained_base)
    assert decoded.shape == (16, 16, 250) and metrics.psnr(cube, decoded) > 10
    window = codecs.decode(encoding.data, Window(slice(3, 11), slice(2, 9), slice(240, 250)),
                           Run(base=trained_base))  # fmt: skip
    assert _units_apart(window.data, decoded.data[3:11, 2:9, 240:250]) <= 1  # float order


def test_a_budget_above_the_latents_is_spent_on_the_residual(trained_base, sample_crop):
    scores, sizes = [], []
    for budget in (0.05, 0.2, 0.5):
        encoding = encode(sample_crop, trained_base, bpppb=budget)
        assert encoding.within_budget and encoding.bpppb > 0.8 * budget
        decoded = decode(encoding.data, trained_base)
        scores.append(metrics.psnr(sample_crop, decoded))
        sizes.append(encoding.details.get("residual_bytes", 0))
    assert sizes[0] < sizes[1] < sizes[2] and scores[0] < scores[1] < scores[2]
    alone = encode(sample_crop, trained_base, bpppb=0.5, refine=False)
    assert "residual_bytes" not in alone.details and container.unpack(alone.data).version == 1
    assert metrics.psnr(sample_crop, decode(alone.data, trained_base)) < scores[2] - 3
    data = encode(sample_crop, trained_base, bpppb=0.5).data
    window = codecs.decode(data, Window(slice(3, 17), slice(5, 20)), Run(base=trained_base))
    assert _units_apart(window.data, decode(data, trained_base).data[3:17, 5:20]) <= 1
    frame = container.unpack(data)
    three = container.pack_chunks(6, frame.header, [frame.chunks[0], frame.chunks[1], b"x"])
    with pytest.raises(container.CorruptFileError, match="not 3 chunks"):
        decode(three, trained_base)


def test_a_residual_of_several_tiles_decodes_a_tile_at_a_time(trained_base):
    """A residual wider than the latent codec's tiles: the file decodes in the residual's
    tile pieces (each tile decoded once), and any window across a tile edge is a slice
    of the whole decode."""
    strip = np.concatenate([datasets.sample().data[:12, :, :24]] * 5, axis=1)  # 12 x 320
    cube = Cube(np.ascontiguousarray(strip), name="strip")
    data = encode(cube, trained_base, bpppb=1.0).data
    run = Run(base=trained_base)
    pieces = list(codecs.get("meta").stream(data, run=run).pieces)
    residual = codecs.get("latent").stream(meta_codec.MetaCodec.residual_of(data)).pieces
    assert [(p.rows, p.cols) for p in pieces] == [(p.rows, p.cols) for p in residual]
    assert len(pieces) > 1
    whole = decode(data, trained_base)
    assert metrics.psnr(cube, whole) > 30
    for piece in pieces:
        np.testing.assert_array_equal(piece.values, whole.data[:, piece.cols.start:piece.cols.stop])
    edge = pieces[0].cols.stop
    across = Window(slice(2, 9), slice(edge - 10, edge + 10), slice(3, 20))
    window = codecs.decode(data, across, run)
    assert _units_apart(window.data, whole.data[2:9, edge - 10 : edge + 10, 3:20]) <= 1


def test_cli_compress_and_decompress_with_a_base(trained_base, tmp_path, capsys):
    out = tmp_path / "s.hsinr"
    status = main(["compress", "scene:sample", str(out), "--codec", "meta", "--bpppb", "0.01",
                   "--base", str(trained_base.path), "--quiet"])  # fmt: skip
    text = capsys.readouterr().out
    assert status == 0 and "amortised" in text and "PSNR" in text
    assert main(["decompress", str(out), str(tmp_path / "d.npz"), "--base",
                 str(trained_base.path)]) == 0  # fmt: skip
    other = basenet.save_base(tiny_model(seed=7), TINY, tmp_path / "other.hsbase", {})
    assert main(["decompress", str(out), str(tmp_path / "e.npz"), "--base", str(other.path)]) == 1
    assert "pass the right one with --base" in capsys.readouterr().err
    for flags, message in [(["--bits", "1"], "argument --bits: must be auto or 2-16, not 1"),
                           (["--bits", "1.5"], "argument --bits: must be auto or 2-16, not '1.5'"),
                           (["--arch", "3x8"], "unrecognized arguments: --arch")]:  # fmt: skip
        with pytest.raises(SystemExit) as exit_status:  # usage errors: argparse's status 2
            main(["compress", "scene:sample", str(tmp_path / "x.hsinr"), "--codec", "meta",
                  *flags])  # fmt: skip
        assert exit_status.value.code == 2 and message in capsys.readouterr().err


def test_an_outlier_step_is_not_applied_but_ordinary_ones_are():
    from hsinr.nn.meta import _is_spike

    calm = [20.0] * 50
    assert _is_spike(5.0, calm) and not _is_spike(15.0, calm)
    assert not _is_spike(-30.0, calm[:10])  # too little history to judge


def test_the_shipped_base_network_works_out_of_the_box():
    net = basenet.resolve_base(None)
    assert net.path == basenet.shipped_base_path() and net.config.bands == 200
    assert net.training["command"].startswith("hsinr meta-train --scenes")
    cube = datasets.sample()
    data = encode(cube, None, bits=8).data
    assert codecs.get("meta").describe(data)["base"] == net.name
    decoded = codecs.decode(data)  # no base named: the shipped one
    assert metrics.psnr(cube, decoded) > 18.0
    assert metrics.bpppb(len(data), cube.shape) < 0.01
