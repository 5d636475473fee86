import h5py
import numpy as np
import pytest
import scipy.io
import tifffile

from hsinr import Cube, InputError, UnsupportedFormatError, io

DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
OUTPUTS = [
    ("cube.mat", {}),
    ("cube.mat", {"version": "7.3"}),
    ("cube.npy", {}),
    ("cube.npz", {}),
    ("cube.hdr", {"interleave": "bsq"}),
    ("cube.hdr", {"interleave": "bil"}),
    ("cube.hdr", {"interleave": "bip"}),
    ("cube.tif", {}),
]
KEEPS_WAVELENGTHS = {".mat", ".npz", ".hdr", ".tif"}


def _as_dtype(cube: Cube, dtype) -> Cube:
    """The real crop in ``dtype``: scaled into range for uint8, signed and fractional for floats."""
    data = cube.data.astype(np.float64)
    if dtype == np.uint8:
        data = data / data.max() * 255
    elif np.issubdtype(dtype, np.floating):
        data = (data - data.mean()) / 997.0  # negative values and non-representable fractions
    elif dtype == np.int16:
        data = data - 3000
    return cube.replace(data=data.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("filename", "options"), OUTPUTS, ids=lambda x: str(x))
def test_save_then_load_is_bit_exact(tmp_path, small_cube, filename, options, dtype):
    cube = _as_dtype(small_cube, dtype)
    path = tmp_path / filename
    io.save(cube, path, **options)
    loaded = io.load(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.shape == cube.shape
    np.testing.assert_array_equal(loaded.data, cube.data)
    if path.suffix in KEEPS_WAVELENGTHS:
        np.testing.assert_array_equal(loaded.wavelengths, cube.wavelengths)
    assert not [p.name for p in tmp_path.iterdir() if ".partial" in p.name]


def test_jasper_bands_by_pixels_layout_is_column_major(data_dir):
    cube = io.load(data_dir / "jasperRidge2_R198.mat")
    raw = scipy.io.loadmat(data_dir / "jasperRidge2_R198.mat")["Y"]
    assert cube.shape == (100, 100, 198)
    for row, col in [(0, 0), (3, 0), (0, 3), (57, 91), (99, 99)]:
        np.testing.assert_array_equal(cube.data[row, col], raw[:, col * 100 + row])


def test_mat_v73_written_as_matlab_does_is_read_with_axes_reversed(tmp_path, small_cube):
    """An HDF5 file laid out by hand as MATLAB's ``save -v7.3`` (not by hsinr's writer)."""
    path = tmp_path / "scene.mat"
    with h5py.File(path, "w", userblock_size=512) as file:
        dataset = file.create_dataset("radiance", data=small_cube.data.transpose(2, 1, 0))
        dataset.attrs["MATLAB_class"] = np.bytes_("uint16")
        labels = file.create_dataset("labels", data=np.zeros((7, 3), dtype=np.uint8))
        labels.attrs["MATLAB_class"] = np.bytes_("uint8")
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.data, small_cube.data)
    assert "v7.3" in loaded.source and "radiance" in loaded.source


def test_mat_largest_cube_wins_and_var_selects(tmp_path, small_cube):
    path = tmp_path / "two.mat"
    small = small_cube.data[:4, :4, :3]
    scipy.io.savemat(path, {"small": small, "big": small_cube.data, "gt": np.zeros((3, 3))})
    np.testing.assert_array_equal(io.load(path).data, small_cube.data)
    np.testing.assert_array_equal(io.load(path, var="small").data, small)
    with pytest.raises(InputError, match="no variable 'nope'; it holds: small"):
        io.load(path, var="nope")


@pytest.mark.parametrize(
    ("kwargs", "first"),
    [
        ({"photometric": "minisblack", "planarconfig": "contig"}, False),
        ({"photometric": "minisblack", "planarconfig": "separate"}, True),
        ({}, True),  # band-sequential pages, as many tools write them
    ],
)
def test_tiff_band_axis_first_or_last_is_detected(tmp_path, small_cube, kwargs, first):
    path = tmp_path / "scene.tif"
    stored = small_cube.data.transpose(2, 0, 1) if first else small_cube.data
    tifffile.imwrite(path, np.ascontiguousarray(stored), **kwargs)
    np.testing.assert_array_equal(io.load(path).data, small_cube.data)


def test_envi_loads_from_data_file_and_keeps_wavelengths(tmp_path, small_cube):
    io.save(small_cube, tmp_path / "scene.hdr", interleave="bil")
    from_data = io.load(tmp_path / "scene.img")
    np.testing.assert_array_equal(from_data.data, small_cube.data)
    np.testing.assert_allclose(from_data.wavelengths, small_cube.wavelengths, rtol=0, atol=0)
    assert {p.name for p in io.storage_paths(tmp_path / "scene.hdr")} == {"scene.hdr", "scene.img"}


def test_interrupted_save_leaves_the_old_file_and_no_partial(tmp_path, small_cube, monkeypatch):
    path = tmp_path / "cube.npz"
    path.write_bytes(b"previous contents")

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", fail)
    with pytest.raises(KeyboardInterrupt):
        io.save(small_cube, path)
    assert path.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["cube.npz"]


def test_unknown_suffix_names_the_supported_ones(tmp_path):
    path = tmp_path / "scene.xyz"
    path.write_bytes(b"123")
    with pytest.raises(UnsupportedFormatError, match=r"unknown file type '\.xyz'.*\.mat"):
        io.load(path)
    with pytest.raises(UnsupportedFormatError, match="hsinr can write"):
        io.save(Cube(np.zeros((2, 2, 2))), tmp_path / "out.img")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        io.load(tmp_path / "absent.mat")
    with pytest.raises(InputError, match="not a file"):
        io.load(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        io.save(Cube(np.zeros((2, 2, 2))), tmp_path / "absent" / "out.npy")


def test_mat_without_a_cube_lists_its_variables(data_dir):
    with pytest.raises(InputError, match=r"no 3-D cube found.*indian_pines_gt \(145 x 145\)"):
        io.load(data_dir / "Indian_pines_gt.mat")


def test_non_numeric_cube_is_refused(tmp_path):
    mat = tmp_path / "flags.mat"
    scipy.io.savemat(mat, {"flags": np.zeros((3, 3, 3), dtype=bool)})
    with pytest.raises(InputError, match="'flags' is not numeric"):
        io.load(mat)
    npy = tmp_path / "words.npy"
    np.save(npy, np.full((2, 2, 2), "ab"))
    with pytest.raises(InputError, match="not numeric"):
        io.load(npy)


def test_nan_values_are_refused_with_a_count(tmp_path, small_cube):
    data = small_cube.data.astype(np.float32)
    data[0, 0, :5] = np.nan
    path = tmp_path / "holes.npy"
    np.save(path, data)
    with pytest.raises(InputError, match="5 NaN and 0 Inf"):
        io.load(path)


def test_empty_cube_is_refused(tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, 5, 5), dtype=np.uint16))
    with pytest.raises(InputError, match="empty"):
        io.load(path)


@pytest.mark.parametrize("name", ["junk.mat", "junk.npy", "junk.npz", "junk.tif", "junk.hdr"])
def test_garbage_bytes_give_a_clear_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a cube file\n" * 8)
    with pytest.raises(InputError, match=r"junk\.\w+: "):
        io.load(path)


def test_pickled_npy_is_never_unpickled(tmp_path, monkeypatch):
    """Refused from its header: the pickle module is never reached."""
    path = tmp_path / "evil.npy"
    payload = np.empty((2, 2, 2), dtype=object)
    payload[...] = {"payload": 1}
    np.save(path, payload, allow_pickle=True)
    import pickle

    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(InputError, match=r"evil\.npy: the cube is not numeric \(dtype object\)"):
        io.load(path)


def test_options_are_checked_against_the_format(tmp_path, small_cube):
    with pytest.raises(InputError, match="takes no option interleave"):
        io.save(small_cube, tmp_path / "a.mat", interleave="bil")
    io.save(small_cube, tmp_path / "a.npy")
    with pytest.raises(InputError, match=r"var= applies to \.mat and \.npz"):
        io.load(tmp_path / "a.npy", var="x")
