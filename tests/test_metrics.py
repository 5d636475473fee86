import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hsinr import Cube, InputError, metrics


@pytest.fixture
def pair(cuprite):
    """A real Cuprite crop (with its negative values) and a noisy, biased copy."""
    original = cuprite.data[:24, :30, :40].astype(np.float64)
    rng = np.random.default_rng(0)
    decoded = original + rng.normal(0, 40, original.shape) + 5
    return original, decoded


def test_hand_computed_values():
    a = np.array([0.0, 2.0, 4.0, 6.0]).reshape(1, 2, 2)
    b = np.array([0.0, 2.0, 3.0, 8.0]).reshape(1, 2, 2)
    assert metrics.mse(a, b) == pytest.approx((1 + 4) / 4)
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(36 / 1.25))
    # band 0 holds 0 and 4 (range 4, mse 0.5); band 1 holds 2 and 6 (range 4, mse 2)
    expected = (10 * math.log10(16 / 0.5) + 10 * math.log10(16 / 2)) / 2
    assert metrics.mpsnr(a, b) == pytest.approx(expected)


def test_psnr_uses_the_original_range_not_the_decoded():
    a = np.array([10.0, 20.0]).reshape(1, 1, 2)
    b = np.array([0.0, 30.0]).reshape(1, 1, 2)
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(100 / 100))


def test_identical_cubes_have_infinite_psnr_and_zero_angle(pair):
    original, _ = pair
    assert metrics.psnr(original, original) == math.inf
    assert metrics.sam(original, original) == pytest.approx(0, abs=1e-6)
    assert metrics.ssim(original, original) == pytest.approx(1.0)


def test_psnr_agrees_with_scikit_image(pair):
    original, decoded = pair
    value_range = original.max() - original.min()
    expected = peak_signal_noise_ratio(original, decoded, data_range=value_range)
    assert metrics.psnr(original, decoded) == pytest.approx(expected, rel=1e-12)


def test_mpsnr_agrees_with_per_band_scikit_image(pair):
    original, decoded = pair
    per_band = [
        peak_signal_noise_ratio(
            original[:, :, k], decoded[:, :, k], data_range=np.ptp(original[:, :, k])
        )
        for k in range(original.shape[2])
    ]
    assert metrics.mpsnr(original, decoded) == pytest.approx(np.mean(per_band), rel=1e-12)


def test_ssim_agrees_with_scikit_image_gaussian_ssim(pair):
    original, decoded = pair
    value_range = original.max() - original.min()
    per_band = [
        structural_similarity(
            original[:, :, k],
            decoded[:, :, k],
            data_range=value_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for k in range(original.shape[2])
    ]
    assert metrics.ssim(original, decoded) == pytest.approx(np.mean(per_band), rel=1e-9)


def test_sam_known_angles():
    a = np.array([[[1.0, 0.0], [1.0, 1.0], [2.0, 3.0], [0.0, 0.0]]])
    b = np.array([[[0.0, 5.0], [1.0, 0.0], [4.0, 6.0], [0.0, 0.0]]])
    # 90, 45, 0 (same direction, other length) and 0 (both zero) degrees
    assert metrics.sam(a, b) == pytest.approx((90 + 45 + 0 + 0) / 4)


def test_bpppb():
    assert metrics.bpppb(2500, (100, 100, 200)) == pytest.approx(0.01)
    with pytest.raises(InputError):
        metrics.bpppb(10, (10, 10))


def test_cubes_and_arrays_are_accepted_and_shapes_must_match(pair):
    original, decoded = pair
    assert metrics.mse(Cube(original), Cube(decoded)) == metrics.mse(original, decoded)
    with pytest.raises(InputError, match="shapes differ"):
        metrics.psnr(original, decoded[:, :, :3])


def test_report_has_every_measure(pair):
    assert set(metrics.report(*pair)) == {"psnr", "mpsnr", "sam", "ssim", "mse"}
