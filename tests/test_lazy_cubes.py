"""Lazy cubes: every format that can leave its values in the file reads windows equal to
the slices of the whole cube, checks values as it reads them, and holds no more than
the window it returns."""

import tracemalloc

import h5py
import numpy as np
import pytest
import tifffile

from hsinr import Cube, InputError, io
from hsinr.lazy import HDF5Array, RawArray

WINDOWS = [
    (slice(None), slice(None), slice(None)),
    (slice(3, 7), slice(2, 9), slice(None)),
    (slice(0, 1), slice(9, 10), slice(5, 11)),
    (slice(11, 12), slice(0, 10), slice(0, 1)),
]


def _cube(small_cube, dtype) -> Cube:
    return small_cube.replace(data=(small_cube.data.astype(np.float64) - 2000).astype(dtype))


def _written(tmp_path, cube, name, **options):
    path = tmp_path / name
    io.save(cube, path, **options)
    return path


LAZY_OUTPUTS = [
    ("cube.npy", {}),
    ("cube.hdr", {"interleave": "bsq"}),
    ("cube.hdr", {"interleave": "bil"}),
    ("cube.hdr", {"interleave": "bip"}),
    ("cube.tif", {}),
    ("cube.mat", {"version": "7.3"}),
]


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
@pytest.mark.parametrize(("name", "options"), LAZY_OUTPUTS, ids=str)
def test_a_lazy_cube_reads_windows_equal_to_slices(tmp_path, small_cube, name, options, dtype):
    cube = _cube(small_cube, dtype)
    path = _written(tmp_path, cube, name, **options)
    lazy = io.load(path, lazy=True)
    assert lazy.lazy and lazy.shape == cube.shape and lazy.dtype == cube.dtype
    for window in WINDOWS:
        np.testing.assert_array_equal(lazy.read(*window), cube.data[window])
    np.testing.assert_array_equal(lazy.loaded().data, cube.data)
    assert lazy.scale() == cube.scale()


@pytest.mark.parametrize("name", ["cube.npz", "cube.mat"])
def test_formats_read_whole_say_so_by_not_being_lazy(tmp_path, small_cube, name):
    assert not io.load(_written(tmp_path, small_cube, name), lazy=True).lazy


def test_fortran_order_and_big_endian_npy(tmp_path, small_cube):
    data = np.asfortranarray(small_cube.data.astype(">i4"))
    path = tmp_path / "f.npy"
    np.save(path, data)
    lazy = io.load(path, lazy=True)
    assert lazy.dtype == np.dtype("int32")
    np.testing.assert_array_equal(lazy.read(slice(2, 5), slice(1, 8)), data[2:5, 1:8])


def test_big_endian_envi(tmp_path, small_cube):
    path = _written(tmp_path, small_cube, "cube.hdr", interleave="bil")
    header = path.read_text()
    data = np.fromfile(path.with_suffix(".img"), dtype="<u2")
    data.astype(">u2").tofile(path.with_suffix(".img"))
    path.write_text(header.replace("byte order = 0", "byte order = 1"))
    np.testing.assert_array_equal(io.load(path, lazy=True).read(slice(4, 6)), small_cube.data[4:6])


def test_pixel_interleaved_tiff_is_lazy(tmp_path, small_cube):
    path = tmp_path / "contig.tif"
    tifffile.imwrite(path, small_cube.data, photometric="minisblack", planarconfig="contig")
    lazy = io.load(path, lazy=True)
    assert lazy.lazy
    np.testing.assert_array_equal(lazy.read(slice(1, 4), slice(2, 3)), small_cube.data[1:4, 2:3])


SEGMENTED_TIFFS = {
    "tiled planes, zlib": ((2, 0, 1), {"tile": (16, 16), "planarconfig": "separate",
                                       "compression": "zlib"}),
    "tiled planes, raw": ((2, 0, 1), {"tile": (16, 16), "planarconfig": "separate"}),
    "strips of interleaved samples, zlib": ((0, 1, 2), {"rowsperstrip": 5,
                                                        "planarconfig": "contig",
                                                        "compression": "zlib"}),
    "tiled interleaved samples": ((0, 1, 2), {"tile": (16, 32), "planarconfig": "contig",
                                              "compression": "zlib"}),
    "a page a band, zlib strips": ((2, 0, 1), {"rowsperstrip": 7, "compression": "zlib"}),
}  # fmt: skip


@pytest.mark.parametrize("layout", SEGMENTED_TIFFS)
def test_tiled_and_compressed_tiffs_are_read_a_window_of_segments_at_a_time(
    tmp_path, small_cube, layout, monkeypatch
):
    from hsinr.io.tiff import SegmentedArray

    axes, options = SEGMENTED_TIFFS[layout]
    data = np.pad(small_cube.data, ((0, 21), (0, 30), (0, 0)), mode="reflect")  # odd edges
    path = tmp_path / "segmented.tif"
    tifffile.imwrite(path, data.transpose(axes), photometric="minisblack", **options)
    lazy = io.load(path, lazy=True)
    assert isinstance(lazy.data, SegmentedArray)
    np.testing.assert_array_equal(lazy.read(slice(3, 29), slice(17, 40), slice(2, 7)),
                                  data[3:29, 17:40, 2:7])  # fmt: skip
    np.testing.assert_array_equal(io.load(path).data, data)
    decoded = []
    original = SegmentedArray._paste
    monkeypatch.setattr(SegmentedArray, "_paste",
                        lambda self, *args: decoded.append(1) or original(self, *args))  # fmt: skip
    lazy.read(slice(0, 1), slice(0, 1), slice(0, 1))
    assert len(decoded) == 1  # one segment for one value


def test_a_segmented_tiff_with_data_past_its_end_or_a_damaged_segment_is_refused(
    tmp_path, small_cube
):
    path = tmp_path / "short.tif"
    tifffile.imwrite(path, small_cube.data.transpose(2, 0, 1), photometric="minisblack",
                     tile=(16, 16), planarconfig="separate", compression="zlib")  # fmt: skip
    with tifffile.TiffFile(path) as tif:
        first = tif.pages[0].dataoffsets[0]
    whole = bytearray(path.read_bytes())
    path.write_bytes(whole[:-100])
    with pytest.raises(InputError, match=r"past the end of the file"):
        io.load(path, lazy=True)
    whole[first : first + 8] = b"damaged!"  # band 0's one tile: its zlib stream
    path.write_bytes(whole)
    lazy = io.load(path, lazy=True)
    assert lazy.read(slice(0, 2), slice(0, 2), slice(1, 16)).shape == (2, 2, 15)
    with pytest.raises(InputError, match=r"short\.tif: cannot decode its image segment 0"):
        lazy.read(slice(0, 2), slice(0, 2))


def test_non_finite_values_are_found_in_the_window_that_holds_them(tmp_path, small_cube):
    data = small_cube.data.astype(np.float32)
    data[8, 3, 2] = np.inf
    path = tmp_path / "holes.npy"
    np.save(path, data)
    lazy = io.load(path, lazy=True)
    lazy.read(slice(0, 8))  # the rows above are fine
    with pytest.raises(InputError, match=r"0 NaN and 1 Inf values in rows 8:12"):
        lazy.read(slice(8, 12))
    with pytest.raises(InputError, match=r"holes\.npy"):
        lazy.scale()


def test_a_window_past_the_cube_is_refused(tmp_path, small_cube):
    lazy = io.load(_written(tmp_path, small_cube, "c.npy"), lazy=True)
    with pytest.raises(InputError, match="rows 10:13 are not within its 12 rows"):
        lazy.read(slice(10, 13))


def test_lazy_arrays_pickle_to_what_they_were(tmp_path, small_cube):
    import pickle

    npy = io.load(_written(tmp_path, small_cube, "c.npy"), lazy=True).data
    mat = io.load(_written(tmp_path, small_cube, "c.mat", version="7.3"), lazy=True).data
    for array in (npy, mat):
        assert isinstance(array, RawArray | HDF5Array)
        again = pickle.loads(pickle.dumps(array))
        np.testing.assert_array_equal(again.read(slice(1, 2)), small_cube.data[1:2])


def test_reading_a_window_holds_the_window_not_the_file(tmp_path):
    rows, cols, bands = 512, 256, 64  # 16 MiB of int16 on disk
    path = tmp_path / "big.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.int16, shape=(rows, cols, bands))
    out[:] = np.arange(rows * cols * bands, dtype=np.int64).reshape(out.shape) % 3001
    del out
    for interleave in ("npy", "bsq"):
        lazy = io.load(path, lazy=True)
        if interleave == "bsq":
            cube = lazy.loaded()
            path = tmp_path / "big.hdr"
            io.save(cube, path, interleave="bsq")
            del cube
            lazy = io.load(path, lazy=True)
        tracemalloc.start()
        window = lazy.read(slice(100, 164), slice(30, 94))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert window.shape == (64, 64, 64)
        # the window (0.5 MiB) as stored and rearranged, and one read buffer (a band's
        # rows: 32 KiB here); the file is 16 MiB
        assert peak < 2.5 * window.nbytes, (interleave, peak)


def test_hdf5_arrays_read_chunked_datasets_by_hyperslab(tmp_path, small_cube):
    path = tmp_path / "chunked.mat"
    with h5py.File(path, "w", userblock_size=512) as file:
        dataset = file.create_dataset("cube", data=small_cube.data.T, chunks=(4, 5, 6),
                                      compression="gzip")  # fmt: skip
        dataset.attrs["MATLAB_class"] = np.bytes_("uint16")
    lazy = io.load(path, lazy=True)
    assert isinstance(lazy.data, HDF5Array)
    np.testing.assert_array_equal(lazy.read(slice(2, 9), slice(3, 4), slice(1, 13)),
                                  small_cube.data[2:9, 3:4, 1:13])  # fmt: skip


@pytest.mark.parametrize("name", ["jpeg", "jpeg2000"])
def test_per_band_codecs_code_a_lazy_cube_band_by_band_as_they_code_it_in_memory(
    tmp_path, small_cube, name, monkeypatch
):
    """The same file from the cube in memory and from its .npy read lazily (through the
    band spool); and with the setting searched on a sample of bands, a file within the
    budget."""
    from hsinr import codecs
    from hsinr.codecs import per_band

    lazy = io.load(_written(tmp_path, small_cube, "c.npy"), lazy=True)
    options = {"bpppb": 15.0}  # above the per-band headers' floor on this tiny crop
    run = codecs.Run(progress=False)
    in_memory = codecs.encode(name, small_cube.replace(wavelengths=None), options, run).data
    assert codecs.encode(name, lazy, options, run).data == in_memory
    monkeypatch.setattr(per_band, "SEARCH_VALUES", 100)
    monkeypatch.setattr(per_band, "SEARCH_BANDS", 4)
    sampled = codecs.encode(name, lazy, options, run)
    assert sampled.bpppb <= 15.0
    decoded = codecs.decode(sampled.data).data
    assert decoded.shape == small_cube.shape
    # a large window goes band by band through a temporary file, then a block of rows at
    # a time: the same values as decoded in memory
    monkeypatch.setattr(per_band, "SPOOL_BYTES", 100)
    monkeypatch.setattr(per_band, "ROW_BLOCK_BYTES", 3 * 7 * 9 * small_cube.dtype.itemsize)
    window = codecs.Window(slice(1, 11), slice(2, 9), slice(3, 12))
    pieces = list(codecs.get(name).stream(sampled.data, window))
    assert [len(p.rows) for p in pieces] == [3, 3, 3, 1]
    assembled = np.concatenate([p.values for p in pieces])
    np.testing.assert_array_equal(assembled, decoded[1:11, 2:9, 3:12])
