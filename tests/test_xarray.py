"""Cube <-> xarray.DataArray (hsinr.xarray), and codecs taking a DataArray."""

import sys

import numpy as np
import pytest

import hsinr
from hsinr import Cube, InputError, io
from hsinr.metadata import Metadata

xr = pytest.importorskip("xarray")

UTM_EPSG = "EPSG:32611"
TRANSFORM = (500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0)


def full_metadata(bands: int, crs: str) -> Metadata:
    return Metadata(
        wavelength_units="Nanometers", fwhm=np.linspace(9.5, 12.25, bands),
        band_names=tuple(f"b{i}" for i in range(bands)), bad_bands=(1, bands - 2),
        data_units="reflectance", scale_factor=1e-4, offset=0.5, nodata=0.0,
        description="a crop", acquisition_time="2021-06-01T18:20:00Z", crs=crs,
        transform=TRANSFORM, map_info=("UTM", "1", "1", "500000.0", "4100000.0", "30", "30"),
        extra={"sensor type": "AVIRIS-NG", "units": "clashes with the CF name", "n": ("1", "2")},
    )  # fmt: skip


def wkt() -> str:
    rasterio_crs = pytest.importorskip("rasterio.crs")
    return rasterio_crs.CRS.from_epsg(32611).to_wkt()


@pytest.mark.parametrize("crs", ["wkt", UTM_EPSG])
def test_round_trip_keeps_every_field(small_cube, crs):
    cube = small_cube.replace(metadata=full_metadata(small_cube.bands,
                                                     wkt() if crs == "wkt" else crs))  # fmt: skip
    array = cube.to_xarray()
    assert array.dims == ("y", "x", "band") and array.name == cube.name
    assert array.band.values.tolist() == cube.wavelengths.tolist()
    assert array.band.attrs["units"] == "Nanometers"
    assert array.fwhm.dims == ("band",) and array.bad_band.values.sum() == 2
    assert array.x.values[0] == 500015.0 and array.y.values[0] == 4099985.0
    back = Cube.from_xarray(array)
    assert back.metadata == cube.metadata
    assert back.name == cube.name and back.wavelengths.tolist() == cube.wavelengths.tolist()
    np.testing.assert_array_equal(back.data, cube.data)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # rioxarray's use of affine
def test_crs_the_rioxarray_way(small_cube):
    pytest.importorskip("rioxarray")
    from rasterio.crs import CRS

    cube = small_cube.replace(metadata=Metadata(crs=UTM_EPSG, transform=TRANSFORM))
    array = cube.to_xarray()
    assert "spatial_ref" in array.coords
    assert CRS.from_user_input(array.rio.crs) == CRS.from_epsg(32611)
    assert array.rio.transform().to_gdal() == TRANSFORM


def test_without_rioxarray_the_crs_is_an_attribute(small_cube, monkeypatch):
    monkeypatch.setitem(sys.modules, "rioxarray", None)
    cube = small_cube.replace(metadata=Metadata(crs=UTM_EPSG, transform=TRANSFORM))
    array = cube.to_xarray()
    assert array.attrs["crs_wkt"] == UTM_EPSG and "spatial_ref" not in array.coords
    assert Cube.from_xarray(array).metadata == cube.metadata


def test_dims_in_any_order_and_a_cut_array_keep_per_band_fields_right(small_cube):
    cube = small_cube.replace(metadata=full_metadata(small_cube.bands, UTM_EPSG))
    array = cube.to_xarray().transpose("band", "x", "y").isel(x=slice(2, 6), band=slice(1, 5))
    back = Cube.from_xarray(array)
    assert back.shape == (cube.height, 4, 4)
    np.testing.assert_array_equal(back.data, cube.data[:, 2:6, 1:5])
    assert back.wavelengths.tolist() == cube.wavelengths[1:5].tolist()
    assert back.metadata.fwhm.tolist() == cube.metadata.fwhm[1:5].tolist()
    assert back.metadata.band_names == ("b1", "b2", "b3", "b4")
    assert back.metadata.bad_bands == (0,)
    assert back.metadata.transform == (500060.0, 30.0, 0.0, 4100000.0, 0.0, -30.0)
    assert back.metadata.map_info is None  # ENVI's map info no longer fits the cut


def test_a_foreign_dataarray_with_other_dim_names(small_cube):
    values = small_cube.data.transpose(2, 0, 1)  # (wavelength, lat, lon)
    array = xr.DataArray(values, dims=("wavelength", "lat", "lon"), name="rad",
                         coords={"wavelength": ("wavelength", small_cube.wavelengths,
                                                {"units": "nm"})},
                         attrs={"long_name": "radiance", "history": ["a", "b"]})  # fmt: skip
    cube = Cube.from_xarray(xr.Dataset({"rad": array, "mask": array.isel(wavelength=0)}))
    np.testing.assert_array_equal(cube.data, small_cube.data)
    assert cube.wavelengths.tolist() == small_cube.wavelengths.tolist()
    assert cube.metadata.wavelength_units == "nm" and cube.name == "rad"
    assert cube.metadata.extra == {"long_name": "radiance", "history": ("a", "b")}
    with pytest.raises(InputError, match="name the same axis twice"):
        Cube.from_xarray(array.rename(lon="band"))


def test_dask_backed_arrays_stay_lazy_both_ways(tmp_path, small_cube):
    pytest.importorskip("dask")
    io.save(small_cube, tmp_path / "cube.npy")
    lazy = io.load(tmp_path / "cube.npy", lazy=True)
    array = lazy.to_xarray()
    assert array.chunks is not None  # dask, read from the file a block of rows at a time
    back = Cube.from_xarray(array.chunk({"y": 5}))
    assert back.lazy
    np.testing.assert_array_equal(back.read(range(2, 7), range(1, 4)), small_cube.data[2:7, 1:4])
    np.testing.assert_array_equal(back.loaded().data, small_cube.data)


def test_a_netcdf_opened_by_xarray_becomes_a_cube(tmp_path, small_cube):
    pytest.importorskip("h5netcdf")
    cube = small_cube.replace(metadata=full_metadata(small_cube.bands, UTM_EPSG))
    io.save(cube, tmp_path / "scene.nc")
    with xr.open_dataset(tmp_path / "scene.nc", engine="h5netcdf",
                         mask_and_scale=False) as dataset:  # fmt: skip
        back = Cube.from_xarray(dataset)  # the Dataset: its crs variable counts
        assert back.lazy  # not loaded by xarray yet: read a window at a time
        np.testing.assert_array_equal(back.loaded().data, cube.data)
    assert back.wavelengths.tolist() == cube.wavelengths.tolist()
    assert back.metadata.fwhm.tolist() == cube.metadata.fwhm.tolist()
    assert back.metadata.nodata == 0.0 and back.metadata.scale_factor == 1e-4
    assert back.metadata.transform == TRANSFORM and back.metadata.crs == UTM_EPSG
    assert back.metadata.wavelength_units == "Nanometers" and back.metadata.bad_bands == (1, 14)
    with xr.open_dataset(tmp_path / "scene.nc", engine="h5netcdf", decode_coords="all",
                         mask_and_scale=False) as dataset:  # fmt: skip
        assert Cube.from_xarray(dataset["reflectance"]).metadata.crs == UTM_EPSG


def test_encode_takes_a_dataarray(small_cube):
    array = small_cube.to_xarray()
    encoding = hsinr.codecs.encode("pca-dct", array, {"bpppb": 2.0})
    decoded = hsinr.codecs.decode(encoding.data)
    assert decoded.shape == small_cube.shape
    assert decoded.wavelengths.tolist() == small_cube.wavelengths.tolist()
    assert hsinr.metrics.psnr(small_cube, decoded) > 20


def test_without_xarray_the_message_names_the_extra(small_cube, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(InputError, match=r'pip install "hsinr\[xarray\]"'):
        small_cube.to_xarray()
