"""Satellite products (hsinr.io.products): small files built here after each published layout
(NASA EMIT L1B / L2A NetCDF-4, ASI PRISMA HDF-EOS5, DLR EnMAP GeoTIFF + METADATA.XML),
read through hsinr.io.load."""

import warnings

import h5py
import numpy as np
import pytest

from hsinr import InputError, io
from hsinr.io import products

h5netcdf = pytest.importorskip("h5netcdf")

WGS84 = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
         'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
         'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
         'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]')  # fmt: skip
GEOTRANSFORM = [-115.946, 0.000542, -0.0, 33.386, -0.0, -0.000542]


# -- EMIT ---------------------------------------------------------------------------------------


def emit_file(path, variable="reflectance", good=True, down=6, cross=5, bands=7):
    """An EMIT L2A RFL (or L1B RAD) NetCDF-4 file as the LP DAAC distributes them."""
    rng = np.random.default_rng(1)
    values = rng.random((down, cross, bands), dtype=np.float32)
    values[0, 0] = -9999.0
    glt_x = np.array([[1, 2, 0], [3, 4, 5], [5, 0, 1], [2, 2, 2]], dtype=np.int32)
    glt_y = np.array([[1, 1, 0], [2, 3, 6], [6, 0, 4], [5, 4, 3]], dtype=np.int32)
    with h5netcdf.File(path, "w") as file:
        file.dimensions = {"downtrack": down, "crosstrack": cross, "bands": bands,
                           "ortho_y": glt_x.shape[0], "ortho_x": glt_x.shape[1]}  # fmt: skip
        item = file.create_variable(variable, ("downtrack", "crosstrack", "bands"), np.float32,
                                    fillvalue=np.float32(-9999.0))  # fmt: skip
        item[...] = values
        item.attrs["long_name"] = "Surface Reflectance"
        item.attrs["units"] = "unitless" if variable == "reflectance" else "uW/cm^2/SR/nm"
        band = file.create_group("sensor_band_parameters")
        band.create_variable("wavelengths", ("bands",), np.float32,
                             data=np.linspace(381.0, 2493.0, bands, dtype=np.float32))  # fmt: skip
        band["wavelengths"].attrs["units"] = "nm"
        band.create_variable("fwhm", ("bands",), np.float32,
                             data=np.linspace(8.5, 9.5, bands, dtype=np.float32))  # fmt: skip
        if good:
            flags = np.ones(bands, np.uint8)
            flags[[2, 5]] = 0
            band.create_variable("good_wavelengths", ("bands",), np.uint8, data=flags)
        location = file.create_group("location")
        location.create_variable("glt_x", ("ortho_y", "ortho_x"), np.int32, data=glt_x)
        location.create_variable("glt_y", ("ortho_y", "ortho_x"), np.int32, data=glt_y)
        location.create_variable("lat", ("downtrack", "crosstrack"), np.float64,
                                 data=np.zeros((down, cross)))  # fmt: skip
        file.attrs.update({
            "title": "EMIT L2A Estimated Surface Reflectance 60 m V001",
            "summary": "The Earth Surface Mineral Dust Source Investigation ...",
            "Conventions": "CF-1.63", "time_coverage_start": "2024-10-06T16:52:00+0000",
            "time_coverage_end": "2024-10-06T16:52:12+0000", "spatial_ref": WGS84,
            "geotransform": np.array(GEOTRANSFORM), "product_version": "V001",
        })  # fmt: skip
    return values, glt_x, glt_y


def test_emit_l2a_reflectance_is_read_as_the_raw_swath(tmp_path):
    path = tmp_path / "EMIT_L2A_RFL_001_20241006T165200_2428011_004.nc"
    values, _, _ = emit_file(path)
    cube = io.load(path, lazy=True)
    assert cube.lazy and cube.shape == (6, 5, 7) and cube.dtype == np.float32
    np.testing.assert_array_equal(cube.read(range(1, 4), range(2, 5), range(3, 6)),
                                  values[1:4, 2:5, 3:6])  # fmt: skip
    meta = cube.metadata
    assert cube.wavelengths[0] == np.float32(381.0) and meta.wavelength_units == "Nanometers"
    assert meta.fwhm.tolist() == np.linspace(8.5, 9.5, 7, dtype=np.float32).tolist()
    assert meta.bad_bands == (2, 5)
    assert meta.nodata == -9999.0 and meta.data_units == "unitless"
    assert meta.crs is None and meta.transform is None  # a swath has none of its own
    assert meta.extra["spatial_ref"] == WGS84
    assert [float(v) for v in meta.extra["geotransform"]] == GEOTRANSFORM
    assert "glt_x" in meta.extra["glt"] and meta.extra["reflectance:long_name"]
    assert meta.acquisition_time == "2024-10-06T16:52:00+0000"
    assert meta.description.startswith("EMIT L2A")
    assert "not orthorectified" in cube.notes[-1] and "EMIT L2A reflectance" in cube.source
    io.save(cube, tmp_path / "swath.nc")  # every field survives hsinr's own NetCDF
    assert io.load(tmp_path / "swath.nc").metadata == meta
    io.save(cube, tmp_path / "swath.hdr")  # and an ENVI header (a text with commas as a list)
    assert ",".join(io.load(tmp_path / "swath.hdr").metadata.extra["spatial_ref"]) == WGS84


def test_emit_l1b_radiance_and_orthorectification_by_the_glt(tmp_path):
    path = tmp_path / "EMIT_L1B_RAD_001_20241006T165200_2428011_004.nc"
    values, glt_x, glt_y = emit_file(path, variable="radiance", good=False)
    assert glt_x[1, 2] == 5 and glt_y[1, 2] == 6
    cube = io.load(path)
    assert cube.metadata.bad_bands == () and cube.metadata.data_units == "uW/cm^2/SR/nm"
    assert "L1B radiance" in cube.source
    x, y, transform, crs = products.emit_glt(path)
    np.testing.assert_array_equal(x, glt_x)
    np.testing.assert_array_equal(y, glt_y)
    assert transform == tuple(GEOTRANSFORM) and crs == WGS84
    ortho = products.emit_orthorectify(cube, path)
    assert ortho.shape == (4, 3, 7) and ortho.metadata.transform == tuple(GEOTRANSFORM)
    np.testing.assert_array_equal(ortho.data[1, 2], values[5, 4])  # glt (x 5, y 6), 1-based
    np.testing.assert_array_equal(ortho.data[0, 2], np.full(7, -9999.0, np.float32))


def test_emit_var_chooses_another_variable(tmp_path):
    path = tmp_path / "emit.nc"
    emit_file(path)
    with h5netcdf.File(path, "a") as file:
        extra = file.create_variable("reflectance_uncertainty",
                                     ("downtrack", "crosstrack", "bands"), np.float32)  # fmt: skip
        extra[...] = np.full((6, 5, 7), 0.01, np.float32)
    cube = io.load(path, var="reflectance_uncertainty")
    assert np.all(cube.data == np.float32(0.01)) and "uncertainty" in cube.source


# -- PRISMA -------------------------------------------------------------------------------------

VNIR_CW = [0.0, 0.0, 1010.0, 990.0, 970.0, 950.0, 900.0, 500.0, 450.0, 0.0]  # descending
SWIR_CW = [2500.0, 2000.0, 1500.0, 1000.0, 960.0, 0.0]


def prisma_file(path, level="L2D", rows=5, cols=4, swir_scale=(0.0, 1.0)):
    """A PRISMA product: both cubes (rows, bands, cols) uint16 in the HCO swath of
    ``level``, the band lists and scales as root attributes."""
    rng = np.random.default_rng(2)
    vnir = rng.integers(1, 60000, (rows, len(VNIR_CW), cols), dtype=np.uint16)
    swir = rng.integers(1, 60000, (rows, len(SWIR_CW), cols), dtype=np.uint16)
    with h5py.File(path, "w") as file:
        fields = file.create_group(f"HDFEOS/SWATHS/PRS_{level}_HCO/Data Fields")
        fields["VNIR_Cube"], fields["SWIR_Cube"] = vnir, swir
        geo = file.create_group(f"HDFEOS/SWATHS/PRS_{level}_HCO/Geolocation Fields")
        geo["Latitude"] = np.zeros((rows, cols), np.float32)
        file.create_group("HDFEOS INFORMATION")["StructMetadata.0"] = np.bytes_(b"GROUP=...")
        attrs = file.attrs
        attrs["Processing_Level"] = np.bytes_(level[1:].encode())
        attrs["Product_StartTime"] = np.bytes_(b"2020-07-01T10:20:30.000")
        attrs["List_Cw_Vnir"] = np.array(VNIR_CW, np.float32)
        attrs["List_Cw_Swir"] = np.array(SWIR_CW, np.float32)
        attrs["List_Fwhm_Vnir"] = np.array([0.0 if c == 0 else 10.0 for c in VNIR_CW], np.float32)
        attrs["List_Fwhm_Swir"] = np.array([0.0 if c == 0 else 12.0 for c in SWIR_CW], np.float32)
        attrs["List_Cw_Vnir_Flags"] = np.array([c > 0 for c in VNIR_CW], np.int8)
        attrs["List_Cw_Swir_Flags"] = np.array([c > 0 for c in SWIR_CW], np.int8)
        if level == "L1":
            attrs["ScaleFactor_Vnir"], attrs["Offset_Vnir"] = np.float32(100.0), np.float32(0.0)
            attrs["ScaleFactor_Swir"], attrs["Offset_Swir"] = np.float32(50.0), np.float32(0.0)
        else:
            attrs["L2ScaleVnirMin"], attrs["L2ScaleVnirMax"] = np.float32(0), np.float32(1)
            attrs["L2ScaleSwirMin"], attrs["L2ScaleSwirMax"] = (np.float32(v) for v in swir_scale)
        if level == "L2D":
            attrs["Epsg_Code"] = np.int32(32632)
            attrs["Product_ULcorner_easting"] = np.float64(600015.0)  # pixel centres
            attrs["Product_ULcorner_northing"] = np.float64(5000985.0)
            attrs["Product_LRcorner_easting"] = np.float64(600015.0 + 30 * (cols - 1))
            attrs["Product_LRcorner_northing"] = np.float64(5000985.0 - 30 * (rows - 1))
    return vnir, swir


def test_prisma_l2d_joins_vnir_and_swir_by_wavelength(tmp_path):
    path = tmp_path / "PRS_L2D_STD_20200701102030_20200701102034_0001.he5"
    vnir, swir = prisma_file(path)
    cube = io.load(path, lazy=True)
    expected = [450.0, 500.0, 900.0, 950.0, 960.0, 970.0, 990.0, 1000.0, 1010.0, 1500.0,
                2000.0, 2500.0]  # zero-wavelength bands dropped, the overlap kept, ascending
    assert cube.lazy and cube.shape == (5, 4, len(expected)) and cube.dtype == np.uint16
    assert cube.wavelengths.tolist() == expected
    names = cube.metadata.band_names
    assert names[:3] == ("VNIR 9", "VNIR 8", "VNIR 7") and names[4] == "SWIR 5"
    values = cube.read()
    np.testing.assert_array_equal(values[:, :, 0], vnir[:, 8, :])  # 450 nm: VNIR band 9
    np.testing.assert_array_equal(values[:, :, 4], swir[:, 4, :])  # 960 nm: SWIR band 5
    np.testing.assert_array_equal(values[:, :, -1], swir[:, 0, :])
    window = cube.read(range(1, 4), range(1, 3), range(3, 8))  # across both spectrometers
    np.testing.assert_array_equal(window, values[1:4, 1:3, 3:8])
    meta = cube.metadata
    assert meta.fwhm.tolist() == [10.0] * 3 + [10.0, 12.0, 10.0, 10.0, 12.0, 10.0] + [12.0] * 3
    assert meta.nodata == 0.0 and meta.bad_bands == ()
    assert meta.scale_factor == pytest.approx(1 / 65535) and meta.offset == 0.0
    assert meta.crs == "EPSG:32632"
    assert meta.transform == (600000.0, 30.0, 0.0, 5001000.0, 0.0, -30.0)
    assert meta.acquisition_time == "2020-07-01T10:20:30.000"
    assert "List_Cw_Vnir" not in meta.extra and meta.extra["Processing_Level"] == "2D"


def test_prisma_l1_with_different_scales_keeps_them_in_extra(tmp_path):
    path = tmp_path / "PRS_L1_STD_OFFL_20200701102030_20200701102034_0001.he5"
    prisma_file(path, level="L1")
    cube = io.load(path)
    assert cube.metadata.scale_factor is None and cube.metadata.nodata is None
    assert cube.metadata.extra["ScaleFactor_Vnir"] == "100.0"
    assert any("different scales" in note for note in cube.notes)
    assert cube.metadata.transform is None and "Geolocation" in cube.metadata.extra["geolocation"]


def test_he5_without_the_prisma_layout_is_read_as_hdf5(tmp_path):
    with h5py.File(tmp_path / "other.he5", "w") as file:
        file["cube"] = np.ones((3, 4, 5), np.int16)
    assert io.load(tmp_path / "other.he5").shape == (3, 4, 5)
    with pytest.raises(InputError, match="var= does not apply"):
        prisma_file(tmp_path / "p.he5")
        io.load(tmp_path / "p.he5", var="VNIR_Cube")


# -- EnMAP --------------------------------------------------------------------------------------

ENMAP = "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z"


def enmap_xml(bands, gains=None):
    gains = gains or [0.0001] * bands
    items = "".join(
        f'<bandID number="{b + 1}"><wavelengthCenterOfBand>{420.0 + 10 * b}'
        f"</wavelengthCenterOfBand><FWHMOfBand>{6.5 + b / 10}</FWHMOfBand>"
        f"<GainOfBand>{gains[b]}</GainOfBand><OffsetOfBand>0</OffsetOfBand></bandID>"
        for b in range(bands)
    )
    return ('<?xml version="1.0" encoding="UTF-8"?><level_X><metadata><name>'
            f"{ENMAP}-METADATA.XML</name></metadata><base><temporalCoverage><startTime>"
            "2022-07-24T10:45:26.000Z</startTime></temporalCoverage></base><specific>"
            f"<bandCharacterisation>{items}</bandCharacterisation>"
            "</specific></level_X>")  # fmt: skip


def enmap_product(folder, bands=6, xml=None):
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    values = np.arange(bands * 7 * 8, dtype=np.int16).reshape(bands, 7, 8)
    image = folder / f"{ENMAP}-SPECTRAL_IMAGE.TIF"
    with rasterio.open(image, "w", driver="GTiff", width=8, height=7, count=bands,
                       dtype="int16", crs="EPSG:32633", nodata=-32768,
                       transform=Affine(30, 0, 360000, 0, -30, 5810000)) as dst:  # fmt: skip
        dst.write(values)
    (folder / f"{ENMAP}-METADATA.XML").write_text(enmap_xml(bands) if xml is None else xml)
    return image, values


def test_enmap_l2a_geotiff_takes_its_bands_from_the_metadata_xml(tmp_path):
    from rasterio.crs import CRS

    image, values = enmap_product(tmp_path)
    cube = io.load(image)
    np.testing.assert_array_equal(cube.data, values.transpose(1, 2, 0))
    assert cube.wavelengths.tolist() == [420.0, 430.0, 440.0, 450.0, 460.0, 470.0]
    meta = cube.metadata
    assert meta.fwhm.tolist() == pytest.approx([6.5, 6.6, 6.7, 6.8, 6.9, 7.0])
    assert meta.wavelength_units == "Nanometers" and meta.scale_factor == 0.0001
    assert meta.nodata == -32768.0 and meta.acquisition_time == "2022-07-24T10:45:26.000Z"
    assert CRS.from_wkt(meta.crs) == CRS.from_epsg(32633)
    assert meta.transform == (360000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0)
    assert meta.description == "EnMAP L2A" and "EnMAP L2A GeoTIFF" in cube.source


def test_enmap_gains_that_differ_by_band_stay_in_extra(tmp_path):
    image, _ = enmap_product(tmp_path, xml=enmap_xml(6, gains=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    cube = io.load(image)
    assert cube.metadata.scale_factor is None
    assert cube.metadata.extra["GainOfBand"][1] == "0.2"
    assert any("differ by band" in note for note in cube.notes)


@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><level_X>&a;</level_X>',
    '<?xml version="1.0"?><!doctype level_X SYSTEM "file:///etc/passwd"><level_X/>',
    '<?xml version="1.0" encoding="UTF-16"?><level_X/>'.encode("utf-16").decode("latin-1"),
], ids=["entity", "external", "utf16"])
def test_enmap_xml_with_a_doctype_or_not_utf8_is_refused(tmp_path, xml):
    image, _ = enmap_product(tmp_path, xml=xml)
    with pytest.raises(InputError, match=r"DOCTYPE|UTF-8"):
        io.load(image)


def test_enmap_xml_must_be_beside_the_image_and_small(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "target.xml").write_text(enmap_xml(6))
    product = tmp_path / "product"
    product.mkdir()
    image, _ = enmap_product(product)
    xml = product / f"{ENMAP}-METADATA.XML"
    xml.unlink()
    xml.symlink_to(elsewhere / "target.xml")
    with pytest.raises(InputError, match="outside the folder"):
        io.load(image)
    xml.unlink()
    xml.write_text(enmap_xml(6))
    monkeypatch.setattr(products, "MAX_XML_BYTES", 100)
    with pytest.raises(InputError, match="at most 100"):
        io.load(image)


def test_an_enmap_name_without_its_xml_is_a_plain_geotiff(tmp_path):
    image, _ = enmap_product(tmp_path)
    (tmp_path / f"{ENMAP}-METADATA.XML").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cube = io.load(image)
    assert cube.wavelengths is None and cube.metadata.nodata == -32768.0
