import math
import struct
import zlib

import numpy as np
import pytest
import torch

from hsinr import Cube, InputError, codecs, container, metrics
from hsinr.codecs import Run, Window
from hsinr.codecs.siren import HEADER, SirenCodec
from hsinr.metrics import psnr_of_mse
from hsinr.nn import Arch, Siren, grid, siren_param_count
from hsinr.nn.fit import fit, full_mse, solve_head

CODEC = SirenCodec()


@pytest.fixture(scope="module")
def crop(request) -> Cube:
    """A real 16 x 12 x 24 crop of Jasper Ridge (uint16)."""
    import hsinr

    jasper = hsinr.datasets.load("jasper_ridge")
    return Cube(np.ascontiguousarray(jasper.data[40:56, 50:62, ::8][:, :, :24]), name="crop")


QUIET = Run(progress=False)


def encode(cube: Cube, **options) -> bytes:
    return CODEC.encode(cube, options, QUIET).data


@pytest.fixture(scope="module")
def encoded(crop) -> bytes:
    return encode(crop, arch=(3, 16), iterations=400, lr=1e-3)


@pytest.mark.parametrize(("layers", "width", "bands"), [(1, 4, 3), (3, 16, 24), (10, 20, 198)])
def test_param_count_is_exact(layers, width, bands):
    model = Siren(layers, width, bands)
    assert sum(p.numel() for p in model.parameters()) == siren_param_count(layers, width, bands)
    paper_eq5 = width * 2 + (width * width) * (layers - 1) + bands * width
    assert siren_param_count(layers, width, bands) - paper_eq5 == width * layers + bands


def test_grid_spans_both_axes_independently_and_windows_match():
    full = grid(5, 9)
    assert full.shape == (45, 2)
    assert full[:, 0].min() == -1 and full[:, 0].max() == 1  # rows
    assert full[:, 1].min() == -1 and full[:, 1].max() == 1  # cols, not squeezed by H != W
    window = grid(5, 9, slice(1, 4), slice(2, 7))
    expected = full.reshape(5, 9, 2)[1:4, 2:7].reshape(-1, 2)
    assert torch.equal(window, expected)


def test_flat_parameters_round_trip():
    model = Siren(2, 8, 5)
    flat = model.to_flat()
    other = Siren(2, 8, 5)
    other.load_flat(flat)
    assert np.array_equal(other.to_flat(), flat)


def _targets(crop: Cube):
    values, _ = crop.normalise()
    return grid(crop.height, crop.width), torch.from_numpy(values.reshape(-1, crop.bands))


def test_fit_keeps_the_best_parameters_seen(crop):
    coords, targets = _targets(crop)
    torch.manual_seed(0)
    model = Siren(2, 16, crop.bands)
    result = fit(model, coords, targets, iterations=150, lr=5e-3, progress=False)
    assert result.best_psnr == pytest.approx(max(result.curve))
    with torch.no_grad():
        final_mse = float(torch.mean((model(coords) - targets) ** 2))
    assert -10 * math.log10(final_mse) == pytest.approx(result.best_psnr, abs=1e-4)
    assert result.best_psnr > result.curve[0] + 3


def test_fit_stops_at_target_psnr_and_wall_time(crop):
    coords, targets = _targets(crop)
    torch.manual_seed(0)
    reached = fit(
        Siren(2, 16, crop.bands), coords, targets, iterations=5000, lr=1e-3,
        target_psnr=15.0, progress=False,
    )  # fmt: skip
    assert reached.stopped_by == "target" and reached.best_psnr >= 15.0
    assert reached.iterations < 5000
    timed = fit(
        Siren(2, 16, crop.bands), coords, targets, iterations=10**6, max_seconds=0.3,
        progress=False,
    )  # fmt: skip
    assert timed.stopped_by == "time" and timed.iterations < 10**6


class _NanOnce(Siren):
    """A SIREN whose 20th forward pass returns NaN, as a diverging step would."""

    calls = 0

    def forward(self, coords):
        self.calls += 1
        out = super().forward(coords)
        return out * float("nan") if self.calls == 20 else out


def test_fit_recovers_from_a_nan_loss(crop):
    coords, targets = _targets(crop)
    torch.manual_seed(0)
    model = _NanOnce(2, 16, crop.bands)
    result = fit(model, coords, targets, iterations=60, lr=1e-3, progress=False)
    assert result.recoveries == 1 and result.iterations == 60
    assert math.isfinite(result.best_psnr)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_mini_batch_fitting_improves(crop):
    coords, targets = _targets(crop)
    torch.manual_seed(0)
    result = fit(
        Siren(2, 16, crop.bands), coords, targets, iterations=200, lr=1e-3, batch_size=64,
        generator=torch.Generator().manual_seed(0), progress=False,
    )  # fmt: skip
    assert result.curve_iterations[0] == math.ceil(crop.height * crop.width / 64)
    assert result.best_psnr > result.curve[0]


def test_round_trip_shape_dtype_size_and_quality(crop, encoded):
    decoded = CODEC.decode(encoded)
    assert decoded.shape == crop.shape and decoded.dtype == crop.dtype
    header_arithmetic = container.OVERHEAD + HEADER.size + siren_param_count(3, 16, 24) * 4
    assert len(encoded) == header_arithmetic == CODEC.file_size(crop.shape, Arch(3, 16), 32)
    assert metrics.psnr(crop, decoded) > 25.0
    assert codecs.decode(encoded).shape == crop.shape  # found by codec id


def test_fp16_halves_the_weights(crop):
    sizes = {
        bits: len(encode(crop, arch="2x8", precision=bits, iterations=5))
        for bits in (16, 32)
    }
    overhead = container.OVERHEAD + HEADER.size
    assert sizes[32] - overhead == 2 * (sizes[16] - overhead)
    assert sizes[16] - overhead == siren_param_count(2, 8, crop.bands) * 2


def test_budget_is_respected_and_seed_repeats(crop):
    first = encode(crop, bpppb=2.0, iterations=30)
    again = encode(crop, bpppb=2.0, iterations=30)
    assert first == again
    assert metrics.bpppb(len(first), crop.shape) <= 2.0
    other_seed = CODEC.encode(crop, {"bpppb": 2.0, "iterations": 30}, Run(seed=1, progress=False))
    other_seed = other_seed.data
    assert other_seed != first


def test_search_table_covers_candidates_within_budget(crop):
    result = CODEC.encode(crop, {"bpppb": 3.0, "search": True, "search_iterations": 20,
                                 "iterations": 20}, QUIET)  # fmt: skip
    trials = result.details["trials"]
    assert len(trials) == len(CODEC.candidates(crop.shape, 3.0, 32)) > 1
    assert all(trial["bpppb"] <= 3.0 for trial in trials)
    assert result.details["arch"] == max(trials, key=lambda t: t["psnr"])["arch"]
    assert result.bpppb <= 3.0 and result.within_budget


def test_a_budget_below_the_smallest_network_names_the_minimum(crop):
    minimum = CODEC.min_bpppb(crop.shape, 32)
    with pytest.raises(InputError, match=rf"the minimum is {minimum:.4g} bpppb"):
        encode(crop, bpppb=minimum * 0.9)
    with pytest.raises(InputError, match="over the budget"):
        encode(crop, bpppb=0.1, arch="8x64")
    with pytest.raises(InputError, match="at or above the raw cube's own 16 bpppb"):
        encode(crop, bpppb=100)


def test_window_and_band_decode_equal_slices_of_the_full_decode(encoded):
    full = CODEC.decode(encoded).data
    part = CODEC.decode(encoded, Window(slice(3, 11), slice(2, 9), slice(5, 17)))
    np.testing.assert_array_equal(part.data, full[3:11, 2:9, 5:17])
    with pytest.raises(InputError, match="contiguous"):
        CODEC.decode(encoded, Window(bands=slice(None, None, -1)))
    with pytest.raises(InputError, match="within the cube's 16 rows"):
        CODEC.decode(encoded, Window(rows=slice(0, 64)))


def test_float_cubes_come_back_as_float_within_range(crop):
    cube = Cube(crop.data.astype(np.float32) / 1000 - 1.5)
    decoded = CODEC.decode(encode(cube, arch="2x8", iterations=50))
    assert decoded.dtype == np.float32
    assert decoded.data.min() >= cube.data.min() and decoded.data.max() <= cube.data.max()


def _reframe(data: bytes, header: bytes | None = None, payload: bytes | None = None) -> bytes:
    frame = container.unpack(data)
    return container.pack(frame.codec_id, header or frame.header, payload or frame.payload)


def test_corrupt_truncated_and_foreign_files_are_refused(encoded):
    with pytest.raises(container.CorruptFileError, match="truncated"):
        CODEC.decode(encoded[:-10])
    flipped = bytearray(encoded)
    flipped[60] ^= 0x10
    with pytest.raises(container.CorruptFileError, match="CRC mismatch"):
        CODEC.decode(bytes(flipped))
    with pytest.raises(container.CorruptFileError, match="wrong magic"):
        CODEC.decode(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(container.CorruptFileError, match="only 3 bytes"):
        CODEC.decode(b"HSN")
    newer = bytearray(encoded)
    newer[4] = 9
    body = bytes(newer[:-4])
    with pytest.raises(container.CorruptFileError, match="version 9 is not supported"):
        CODEC.decode(body + struct.pack("<I", zlib.crc32(body)))


def test_header_inconsistent_with_payload_is_refused(encoded):
    frame = container.unpack(encoded)
    fields = list(HEADER.unpack(frame.header))
    fields[4] = 17  # a different width than the weights were written for
    with pytest.raises(container.CorruptFileError, match="the header implies"):
        CODEC.decode(_reframe(encoded, header=HEADER.pack(*fields)))


def test_huge_claimed_dimensions_are_refused_before_allocating():
    """A well-formed file whose header asks for a 65535^3 cube."""
    bands = 65535
    weights = np.zeros(siren_param_count(1, 4, bands), dtype="<f2").tobytes()
    header = HEADER.pack(65535, 65535, bands, 1, 4, 1, 3, 0.0, 1.0)
    data = container.pack(SirenCodec.codec_id, header, weights)
    with pytest.raises(InputError, match="over the limit"):
        CODEC.decode(data)
    tiny = CODEC.decode(data, Window(slice(0, 2), slice(0, 3), slice(0, 4)))
    assert tiny.shape == (2, 3, 4)


# -- the fitting loops (issue 17) -----------------------------------------------------------


def test_the_default_loop_beats_the_papers_at_the_same_iterations(crop):
    """The default loop (warm-up, higher peak lr, cosine) ends higher than the paper's
    (Adam at 2e-4, constant) after the same iterations on the same network and seed."""
    common = {"arch": (3, 16), "iterations": 300}
    faithful = CODEC.encode(crop, {**common, "faithful": True}, QUIET)
    default = CODEC.encode(crop, common, QUIET)
    assert faithful.details["loop"] == {"lr": 2e-4, "schedule": "constant", "warmup": 0,
                                       "fallback_db": None, "head": "adam"}  # fmt: skip
    assert default.details["loop"]["lr"] > 2e-4 and default.details["loop"]["warmup"] > 0
    assert default.details["loop"]["head"] == "solve"
    quality = [metrics.psnr(crop.data, CODEC.decode(e.data)) for e in (faithful, default)]
    assert quality[1] > quality[0] + 1.0
    fit_curve = default.details["fit"]
    assert len(fit_curve["curve_seconds"]) == len(fit_curve["curve"])
    assert fit_curve["curve_seconds"] == sorted(fit_curve["curve_seconds"])


def test_faithful_takes_no_loop_settings_and_the_loop_takes_given_ones():
    with pytest.raises(InputError, match=r"--faithful .* leave out --lr, --warmup"):
        CODEC.options(arch="2x8", faithful=True, lr=1e-3, warmup=10)
    with pytest.raises(InputError, match=r"leave out --head"):
        CODEC.options(arch="2x8", faithful=True, head="solve")
    assert CODEC.options(arch="2x8", head="adam").loop().head == "adam"
    loop = CODEC.options(arch="2x8", lr=5e-4, schedule="constant").loop()
    assert (loop.lr, loop.schedule) == (5e-4, "constant") and loop.warmup > 0
    assert loop.fit_options(iterations=50)["warmup"] == 5  # at most a tenth of a fit


def test_the_solved_head_is_the_least_squares_fit():
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(200, 6, generator=generator) * 2 - 1
    targets = torch.rand(200, 4, generator=generator)
    model = Siren(1, 6, 4)
    solve_head(model, features, targets)
    design = np.hstack([features.numpy(), np.ones((200, 1))]).astype(np.float64)
    expected, *_ = np.linalg.lstsq(design, targets.numpy().astype(np.float64), rcond=None)
    np.testing.assert_allclose(model.head.weight.detach().numpy().T, expected[:-1], atol=1e-5)
    np.testing.assert_allclose(model.head.bias.detach().numpy(), expected[-1], atol=1e-5)
    before = model.head.weight.detach().clone()
    solve_head(model, torch.full((200, 6), float("nan")), targets)  # left as it was
    assert torch.equal(model.head.weight, before)


def test_a_solved_head_fits_sooner_and_keeps_the_best_it_reports(crop):
    """Variable projection (the head solved at every step, Adam on the sine layers) ends
    well above Adam on every layer at the same iterations, and the model it leaves has
    the PSNR it reports as its best."""
    values, _ = crop.normalise(np.float32)
    coords, targets = grid(16, 12), torch.from_numpy(values.reshape(-1, crop.bands))
    results = {}
    for head in ("adam", "solve"):
        torch.manual_seed(0)
        model = Siren(3, 16, crop.bands)
        results[head] = fit(model, coords, targets, iterations=200, lr=2e-3, head=head,
                            progress=False)  # fmt: skip
        assert abs(psnr_of_mse(full_mse(model, coords, targets)) - results[head].best_psnr) < 1e-3
    assert results["solve"].best_psnr > results["adam"].best_psnr + 3
    with pytest.raises(ValueError, match="features"):
        fit(torch.nn.Linear(2, crop.bands), coords, targets, iterations=2, head="solve",
            progress=False)  # fmt: skip


def test_the_fallback_takes_a_collapsed_fit_back_to_its_best(crop):
    """At a high lr the fit falls more than 5 dB under its best (the premise, checked);
    with ``fallback_db=5`` it goes back to its best at half the lr instead, and ends
    higher."""
    values, _ = crop.normalise(np.float32)
    coords, targets = grid(16, 12), torch.from_numpy(values.reshape(-1, crop.bands))
    results = {}
    for fallback in (None, 5.0):
        torch.manual_seed(0)
        results[fallback] = fit(Siren(3, 16, crop.bands), coords, targets, iterations=300,
                                lr=1e-2, fallback_db=fallback, progress=False)  # fmt: skip
    falls = {key: np.max(np.maximum.accumulate(r.curve) - r.curve) for key, r in results.items()}
    assert falls[None] > 5 and results[None].recoveries == 0
    assert falls[5.0] <= 5 and results[5.0].recoveries >= 1
    assert results[5.0].best_psnr > results[None].best_psnr


def test_candidates_fitted_in_worker_processes_are_the_ones_fitted_here(crop):
    """``fit_candidates`` with two jobs (one process per candidate, one thread each)
    gives each candidate the network a fit in this process gives, up to floating-point
    order, in the candidates' order."""
    from hsinr.nn.pixels import TensorPixels
    from hsinr.nn.search import fit_candidates

    values, _ = crop.normalise(np.float32)
    pixels = TensorPixels(grid(16, 12), torch.from_numpy(values.reshape(-1, crop.bands)))
    archs = [Arch(1, 8), Arch(3, 12), Arch(2, 6)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = fit_candidates(archs, pixels, iterations=40, lr=1e-3, jobs=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    there = fit_candidates(archs, pixels, iterations=40, lr=1e-3, jobs=2, progress=False)
    for arch, mine, theirs in zip(archs, here, there, strict=True):
        assert (theirs.model.hidden_layers, theirs.model.width) == arch
        np.testing.assert_allclose(theirs.model.to_flat(), mine.model.to_flat(), atol=1e-5)
        assert theirs.psnr == pytest.approx(mine.psnr, abs=1e-3)
