import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hsinr import Cube, InputError, Normalisation


def test_cube_keeps_original_dtype_and_shape(small_cube):
    assert small_cube.shape == (12, 10, 16)
    assert small_cube.dtype == np.uint16
    assert (small_cube.height, small_cube.width, small_cube.bands) == (12, 10, 16)


def test_normalise_maps_global_min_max_to_unit_interval(small_cube):
    values, scale = small_cube.normalise()
    assert values.dtype == np.float32
    assert values.min() == 0.0 and values.max() == 1.0
    assert scale.minimum == small_cube.data.min() and scale.maximum == small_cube.data.max()
    assert scale.span == pytest.approx(float(small_cube.data.max()) - small_cube.data.min())


def test_denormalise_restores_units_and_dtype(small_cube):
    values, scale = small_cube.normalise(np.float64)
    restored = Cube.denormalise(values, scale, dtype=small_cube.dtype)
    assert restored.dtype == np.uint16
    np.testing.assert_array_equal(restored.data, small_cube.data)


def test_denormalise_clips_and_rounds_for_integer_dtypes():
    scale = Normalisation(0.0, 100.0)
    restored = scale.invert(np.array([-0.5, 0.004, 0.996, 1.7]), np.uint8)
    np.testing.assert_array_equal(restored, [0, 0, 100, 170])
    assert scale.invert(np.array([3.0]), np.uint8)[0] == 255


def test_constant_cube_normalises_to_zero_and_back():
    cube = Cube(np.full((3, 4, 5), 7, dtype=np.int16))
    values, scale = cube.normalise()
    assert not values.any()
    np.testing.assert_array_equal(Cube.denormalise(values, scale, dtype=np.int16).data, cube.data)


@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.uint16]),
        shape=hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
    )
)
def test_integer_cubes_survive_normalise_round_trip(data):
    cube = Cube(data)
    values, scale = cube.normalise(np.float64)
    np.testing.assert_array_equal(Cube.denormalise(values, scale, dtype=data.dtype).data, data)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4)), "expected a 3-D"),
        (np.zeros((2, 2, 2, 2)), "expected a 3-D"),
        (np.array([[["a"]]]), "not numeric"),
        (np.zeros((2, 2, 2), dtype=bool), "not numeric"),
        (np.zeros((2, 2, 2), dtype=complex), "not numeric"),
        (np.zeros((0, 4, 3)), "empty"),
    ],
)
def test_unusable_arrays_are_refused(array, message):
    with pytest.raises(InputError, match=message):
        Cube(array)


def test_nan_and_inf_are_counted_in_the_message():
    data = np.ones((3, 3, 3), dtype=np.float32)
    data[0, 0, :2] = np.nan
    data[1, 1, 1] = np.inf
    data[2, 2, 2] = -np.inf
    with pytest.raises(InputError, match="2 NaN and 2 Inf values out of 27"):
        Cube(data, source="scan.npy")


def test_wavelengths_must_match_band_count():
    with pytest.raises(InputError, match="3 wavelengths given for 4 bands"):
        Cube(np.zeros((2, 2, 4)), wavelengths=[1, 2, 3])
