"""GeoTIFF georeferencing (rasterio) and NetCDF-4: every metadata field through .hdr, .tif,
.nc and .npz, and GDAL reading what hsinr wrote."""

import sys
import warnings

import h5py
import numpy as np
import pytest

from hsinr import Cube, InputError, io
from hsinr.io import netcdf, tiff
from hsinr.metadata import Metadata

rasterio = pytest.importorskip("rasterio")
pytest.importorskip("h5netcdf")
from affine import Affine  # noqa: E402
from rasterio.crs import CRS  # noqa: E402

UTM = CRS.from_epsg(32611)
TRANSFORM = (500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0)


def full_metadata(bands: int, crs: str | None = None) -> Metadata:
    """Every field set, as an ENVI header written by another tool would have them."""
    return Metadata(
        wavelength_units="Nanometers",
        fwhm=np.linspace(9.5, 12.25, bands),
        band_names=tuple(f"band {i} (é)" for i in range(bands)),
        bad_bands=(1, bands - 2),
        data_units="reflectance",
        scale_factor=1e-4,
        offset=0.5,
        nodata=0.0,
        description="a crop, with a comma",
        acquisition_time="2021-06-01T18:20:00Z",
        crs=UTM.to_wkt() if crs is None else crs,
        transform=TRANSFORM,
        extra={"sensor type": "AVIRIS-NG", "reflectance:long_name": "Surface reflectance",
               "title": "kept although NetCDF uses the name", "cloud cover": ("1.5", "2")},
    )


@pytest.fixture
def geo_cube(small_cube) -> Cube:
    return small_cube.replace(metadata=full_metadata(small_cube.bands))


def differences(first: Metadata, second: Metadata) -> dict:
    a, b = first.to_dict(), second.to_dict()
    return {key: (a.get(key), b.get(key)) for key in set(a) | set(b) if a.get(key) != b.get(key)}


def envi_scene(tmp_path, cube: Cube) -> Cube:
    """``cube`` written to and read from an ENVI header (map info + coordinate system
    string), as the round trips start from."""
    io.save(cube, tmp_path / "scene.hdr")
    return io.load(tmp_path / "scene.hdr")


# -- GeoTIFF ----------------------------------------------------------------------------------


def test_envi_to_geotiff_gdal_reads_the_crs_and_transform(tmp_path, geo_cube):
    envi = envi_scene(tmp_path, geo_cube)
    assert envi.metadata.crs and envi.metadata.map_info  # what ENVI holds
    io.save(envi, tmp_path / "scene.tif")
    with rasterio.open(tmp_path / "scene.tif") as src:
        assert src.crs == UTM
        assert src.transform.to_gdal() == TRANSFORM
        assert src.nodata == 0.0
        assert src.descriptions == envi.metadata.band_names
        assert float(src.tags(3)["wavelength"]) == envi.wavelengths[2]
        assert float(src.tags(3)["fwhm"]) == envi.metadata.fwhm[2]
        assert src.tags(1)["wavelength_units"] == "Nanometers"
        assert src.scales[0] == 1e-4 and src.units[0] == "reflectance"
    assert not [p.name for p in tmp_path.iterdir() if ".partial" in p.name or ".aux" in p.name]


def test_geotiff_to_envi_keeps_every_field(tmp_path, geo_cube):
    envi = envi_scene(tmp_path, geo_cube)
    io.save(envi, tmp_path / "scene.tif")
    tif = io.load(tmp_path / "scene.tif")
    assert differences(tif.metadata, envi.metadata) == {}
    assert tif.notes == ()
    io.save(tif, tmp_path / "back.hdr")
    back = io.load(tmp_path / "back.hdr")
    assert differences(back.metadata, envi.metadata) == {}
    assert CRS.from_wkt(back.metadata.crs) == UTM
    np.testing.assert_array_equal(back.wavelengths, geo_cube.wavelengths)
    np.testing.assert_array_equal(back.data, geo_cube.data)


def test_epsg_code_becomes_geotiff_tags(tmp_path, small_cube):
    geographic = Metadata(crs="EPSG:4326", transform=(10, 0.1, 0, 50, 0, -0.1))
    cube = small_cube.replace(metadata=geographic)
    io.save(cube, tmp_path / "geo.tif")
    with rasterio.open(tmp_path / "geo.tif") as src:
        assert src.crs == CRS.from_epsg(4326)
        assert src.transform == Affine(0.1, 0, 10, 0, -0.1, 50)
    assert io.load(tmp_path / "geo.tif").metadata == cube.metadata  # the description's text


def test_a_geotiff_written_by_gdal_is_read_with_its_georeferencing(tmp_path):
    path = tmp_path / "gdal.tif"
    values = np.arange(3 * 20 * 24, dtype=np.int16).reshape(3, 20, 24)
    profile = {"driver": "GTiff", "width": 24, "height": 20, "count": 3, "dtype": "int16",
               "crs": "EPSG:32633", "transform": Affine(30, 0, 300000, 0, -30, 5000000),
               "nodata": -9999, "tiled": True, "blockxsize": 16, "blockysize": 16,
               "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        for band, wavelength in enumerate((450.5, 550.25, 650.0), start=1):
            dst.set_band_description(band, f"B{band}")
            dst.update_tags(band, wavelength=str(wavelength), wavelength_units="nm", fwhm="10")
        dst.scales, dst.offsets = (1e-4,) * 3, (0.0,) * 3
        dst.update_tags(PROCESSING="test")
    cube = io.load(path, lazy=True)
    assert cube.lazy  # values still read by tifffile, a tile at a time
    np.testing.assert_array_equal(cube.read(), values.transpose(1, 2, 0))
    meta = cube.metadata
    assert CRS.from_wkt(meta.crs) == CRS.from_epsg(32633)
    assert meta.transform == (300000.0, 30.0, 0.0, 5000000.0, 0.0, -30.0)
    assert meta.nodata == -9999.0 and meta.scale_factor == 1e-4 and meta.offset is None
    assert meta.band_names == ("B1", "B2", "B3") and meta.wavelength_units == "nm"
    assert cube.wavelengths.tolist() == [450.5, 550.25, 650.0]
    assert meta.fwhm.tolist() == [10.0] * 3
    assert meta.extra == {"PROCESSING": "test"}


def test_gdal_edits_after_hsinr_win_with_a_note(tmp_path, small_cube):
    cube = small_cube.replace(metadata=Metadata(crs="EPSG:32611", transform=TRANSFORM))
    io.save(cube, tmp_path / "edited.tif")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp_path / "edited.tif", "r+") as dst:
        dst.transform = Affine(60, 0, 400000, 0, -60, 4000000)
    loaded = io.load(tmp_path / "edited.tif")
    assert loaded.metadata.transform == (400000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0)
    assert loaded.metadata.crs == "EPSG:32611"  # the same CRS: hsinr's text is kept
    assert any("another transform" in note for note in loaded.notes)


def test_without_rasterio_plain_tiff_works_and_says_what_is_missing(tmp_path, small_cube,
                                                                     monkeypatch):  # fmt: skip
    geo = small_cube.replace(metadata=Metadata(crs="EPSG:32611", transform=TRANSFORM, nodata=0))
    io.save(geo, tmp_path / "with_tags.tif")  # GeoTIFF tags, written with rasterio
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), \
            rasterio.open(tmp_path / "with_tags.tif", "r+") as dst:  # a GDAL-only file
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION="written by GDAL")
    monkeypatch.setitem(sys.modules, "rasterio", None)
    monkeypatch.setattr(tiff, "_warned", set())
    gdal_only = io.load(tmp_path / "with_tags.tif")
    assert gdal_only.metadata.crs is None
    assert gdal_only.notes == ('GeoTIFF georeferencing not read (it needs rasterio): '
                               'pip install "hsinr[geo]"',)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        io.save(geo, tmp_path / "plain.tif")
        io.save(geo, tmp_path / "plain2.tif")
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and 'hsinr[geo]' in said[0]
    plain = io.load(tmp_path / "plain.tif")
    assert plain.metadata == geo.metadata and plain.notes == ()
    io.save(small_cube, tmp_path / "no_geo.tif")
    assert io.load(tmp_path / "no_geo.tif").metadata == Metadata()
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "Dataset has no geotransform"
        with rasterio.open(tmp_path / "plain.tif") as src:
            assert src.crs is None  # no GeoTIFF tags were written


def test_a_crs_gdal_cannot_parse_stays_in_the_description(tmp_path, small_cube):
    cube = small_cube.replace(metadata=Metadata(crs="not a crs", transform=TRANSFORM))
    with pytest.warns(UserWarning, match="GDAL cannot read the CRS"):
        io.save(cube, tmp_path / "odd.tif")
    loaded = io.load(tmp_path / "odd.tif")
    assert loaded.metadata.crs == "not a crs" and loaded.metadata.transform == TRANSFORM


# -- NetCDF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", [None, "EPSG:32611"], ids=["wkt", "epsg"])
def test_netcdf_round_trips_every_field(tmp_path, small_cube, crs):
    cube = small_cube.replace(metadata=full_metadata(small_cube.bands, crs))
    io.save(cube, tmp_path / "scene.nc")
    loaded = io.load(tmp_path / "scene.nc", lazy=True)
    assert loaded.lazy and loaded.name == cube.name and loaded.notes == ()
    assert differences(loaded.metadata, cube.metadata) == {}
    np.testing.assert_array_equal(loaded.wavelengths, cube.wavelengths)
    np.testing.assert_array_equal(loaded.read(), cube.data)
    np.testing.assert_array_equal(loaded.read(range(3, 7), range(2, 9), range(4, 11)),
                                  cube.data[3:7, 2:9, 4:11])  # fmt: skip


def test_netcdf_layout_is_cf_for_gdal_and_xarray(tmp_path, geo_cube):
    path = tmp_path / "scene.nc"
    io.save(geo_cube, path)
    with h5py.File(path, "r") as file:
        values = file["reflectance"]
        assert netcdf.dimension_names(values) == ["y", "x", "band"]
        assert values.attrs["grid_mapping"] == "crs"
        assert values.attrs["_FillValue"] == 0 and values.attrs["units"] == "reflectance"
        assert values.attrs["long_name"] == "Surface reflectance"  # the VAR:NAME extra field
        assert file["wavelength"].attrs["units"] == "Nanometers"
        assert file["good_wavelengths"][()].tolist().count(0) == 2
        assert file["crs"].attrs["GeoTransform"] == " ".join(map(repr, TRANSFORM))
        assert file["x"][0] == 500015.0 and file["y"][0] == 4099985.0
    with rasterio.open(path) as src:  # GDAL's netCDF driver
        assert src.crs == UTM and src.transform.to_gdal() == TRANSFORM
        assert src.count == geo_cube.bands
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(path, engine="h5netcdf", mask_and_scale=False) as dataset:
        assert dataset["reflectance"].dims == ("y", "x", "band")
        assert dataset["wavelength"].values.tolist() == geo_cube.wavelengths.tolist()


@pytest.mark.parametrize("other", ["scene.hdr", "scene.npz", "scene.tif", "scene.mat"])
def test_netcdf_to_and_from_other_formats(tmp_path, geo_cube, other):
    io.save(geo_cube, tmp_path / "first.nc")
    first = io.load(tmp_path / "first.nc")
    io.save(first, tmp_path / other)
    middle = io.load(tmp_path / other)
    io.save(middle, tmp_path / "last.nc")
    last = io.load(tmp_path / "last.nc")
    expected = middle.metadata if other == "scene.hdr" else geo_cube.metadata
    assert differences(last.metadata, expected) == {}
    lost = {"map_info": None, "description": None}  # ENVI adds its map info and description
    if other == "scene.hdr":
        lost["offset"] = None  # an ENVI header has no field for a CF add_offset
    assert differences(middle.metadata.replace(**lost), geo_cube.metadata.replace(**lost)) == {}
    np.testing.assert_array_equal(last.data, geo_cube.data)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float32, np.float64])
def test_netcdf_is_bit_exact_and_nodata_outside_the_dtype_is_kept(tmp_path, small_cube, dtype):
    data = (small_cube.data.astype(np.float64) / 40).astype(dtype)
    cube = Cube(data, metadata=Metadata(nodata=-9999.5))
    io.save(cube, tmp_path / "c.nc", var="radiance")
    loaded = io.load(tmp_path / "c.nc", var="radiance")
    assert loaded.dtype == np.dtype(dtype) and loaded.metadata.nodata == -9999.5
    np.testing.assert_array_equal(loaded.data, data)


def test_netcdf_axes_come_from_dimension_names_in_any_order(tmp_path):
    import h5netcdf

    values = np.arange(4 * 3 * 5, dtype=np.float32).reshape(4, 3, 5)  # (wavelength, lat, lon)
    with h5netcdf.File(tmp_path / "bands_first.nc", "w") as file:
        file.dimensions = {"wavelength": 4, "lat": 3, "lon": 5}
        file.create_variable("wavelength", ("wavelength",), float, data=[1.1, 1.2, 1.3, 1.4])
        file["wavelength"].attrs["units"] = "um"
        file.create_variable("lat", ("lat",), float, data=[50.25, 50.15, 50.05])
        file.create_variable("lon", ("lon",), float, data=[10.05, 10.15, 10.25, 10.35, 10.45])
        file.create_variable("rad", ("wavelength", "lat", "lon"), np.float32, data=values)
        file.attrs["history"] = "made by a test"
    cube = io.load(tmp_path / "bands_first.nc")
    np.testing.assert_array_equal(cube.data, values.transpose(1, 2, 0))
    assert cube.wavelengths.tolist() == [1.1, 1.2, 1.3, 1.4]
    assert cube.metadata.wavelength_units == "um"
    assert cube.metadata.transform == pytest.approx((10.0, 0.1, 0.0, 50.3, 0.0, -0.1))
    assert cube.metadata.extra == {"history": "made by a test"}


def test_netcdf_without_dimension_names_is_read_as_rows_cols_bands_with_a_note(tmp_path):
    with h5py.File(tmp_path / "plain.nc", "w") as file:
        file["cube"] = np.zeros((3, 4, 5), np.uint16)
    cube = io.load(tmp_path / "plain.nc")
    assert cube.shape == (3, 4, 5) and "read as (rows, cols, bands)" in cube.notes[0]


def test_netcdf_refuses_links_outside_the_file_and_plugin_filters(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["cube"] = np.zeros((3, 4, 5), np.uint16)
    with h5py.File(tmp_path / "linked.nc", "w") as file:
        file["local"] = np.zeros((2, 2, 2), np.uint16)
        file["grp/cube"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/cube")
    with pytest.raises(InputError, match="external link"):
        io.load(tmp_path / "linked.nc")
    with h5py.File(tmp_path / "soft.nc", "w") as file:
        file["local"] = np.zeros((2, 2, 2), np.uint16)
        file["alias"] = h5py.SoftLink("/local")
    with pytest.raises(InputError, match="soft link"):
        io.load(tmp_path / "soft.nc")
    with h5py.File(tmp_path / "external.nc", "w") as file:
        file.create_dataset("cube", shape=(3, 4, 5), dtype=np.uint16,
                            external=[(str(tmp_path / "raw.bin"), 0, 120)])  # fmt: skip
    with pytest.raises(InputError, match="external file"):
        io.load(tmp_path / "external.nc")
    (tmp_path / "classic.nc").write_bytes(b"CDF\x01" + bytes(60))
    with pytest.raises(InputError, match="NetCDF-3"):
        io.load(tmp_path / "classic.nc")


def test_netcdf_declared_size_is_checked_before_reading(tmp_path):
    from hsinr.limits import LimitError, Limits

    with h5py.File(tmp_path / "big.nc", "w") as file:
        file.create_dataset("cube", shape=(4000, 4000, 300), dtype=np.float32, chunks=(1, 1, 300))
    with pytest.raises(LimitError):
        io.load(tmp_path / "big.nc", limits=Limits(max_values=2**24))


def test_netcdf_writer_refuses_reserved_variable_names(tmp_path, small_cube):
    with pytest.raises(InputError, match="variable name"):
        io.save(small_cube, tmp_path / "x.nc", var="wavelength")
