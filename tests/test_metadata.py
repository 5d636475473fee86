"""Nothing a scene carries is lost: metadata through every format and through compression,
no-data pixels and bad bands left out and restored exactly, damaged sections refused."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from hsinr import Cube, codecs, container, io, metrics
from hsinr.cli import main
from hsinr.codecs import Run, Window
from hsinr.container import CorruptFileError
from hsinr.errors import InputError
from hsinr.io.envi_fields import wavelengths_in_names
from hsinr.metadata import Metadata, MetadataError

QUIET = Run(progress=False)
FORMATS = (".hdr", ".npz", ".mat", ".tif")  # the formats that hold metadata


@pytest.fixture(scope="module")
def fenix(data_dir) -> Cube:
    """The real Specim Fenix cube: wavelength, fwhm, reflectance scale factor, data
    ignore value and 28 more sensor fields in its ENVI header."""
    path = data_dir / "extra" / "fenix-rock" / "image.hdr"
    if not path.exists():
        pytest.skip("extra/fenix-rock not in the data folder")
    return io.load(path)


@pytest.fixture(scope="module")
def corn(data_dir) -> Cube:
    path = data_dir / "extra" / "corn-kernel" / "corn-kernel-hyperspectral.hdr"
    if not path.exists():
        pytest.skip("extra/corn-kernel not in the data folder")
    return io.load(path, lazy=True)


def _georeferenced(cube: Cube) -> Cube:
    meta = cube.metadata.replace(bad_bands=(0, 5), acquisition_time="2022-03-22T15:41:28Z",
                                 crs="EPSG:32611", data_units="reflectance",
                                 transform=(4.5e5, 0.5, 0.0, 4.1e6, 0.0, -0.5))  # fmt: skip
    return cube.replace(metadata=meta)


# -- what the readers find ------------------------------------------------------------------


def test_a_real_envi_header_is_read_whole(fenix):
    meta = fenix.metadata
    assert fenix.wavelengths[0] == pytest.approx(378.190002) and meta.wavelength_units == "nm"
    assert meta.fwhm.shape == (450,) and meta.fwhm[0] == 3.36
    assert meta.nodata == 0.0 and meta.scale_factor == pytest.approx(1 / 65535)
    assert meta.extra["sensor type"] == "Fenix" and meta.extra["binning"] == ("4", "2")
    assert len(meta.extra) == 28 and meta.description.startswith("File Resize Result")


def test_a_header_without_byte_order_is_little_endian_with_a_note(corn, data_dir, capsys):
    assert corn.shape == (31, 43, 580) and corn.dtype == np.uint16
    assert "no 'byte order'" in corn.notes[0] and "little-endian" in corn.notes[0]
    assert int(corn.read().max()) == 2887  # the MANIFEST's range: the bytes were read right
    header = data_dir / "extra" / "corn-kernel" / "corn-kernel-hyperspectral.hdr"
    assert main(["info", str(header)]) == 0
    assert "note         corn-kernel-hyperspectral.hdr: no 'byte order'" in capsys.readouterr().out


def test_wavelengths_are_recovered_from_band_names(tmp_path):
    names = [f"band {i + 1} ({0.4554 + 0.01 * i:.6f} Micrometers)" for i in range(4)]
    assert wavelengths_in_names(names)[1] == "Micrometers"
    cube = Cube(np.ones((2, 3, 4), np.uint16), metadata=Metadata(band_names=names))
    io.save(cube, tmp_path / "c.hdr")
    text = (tmp_path / "c.hdr").read_text()
    assert "wavelength =" not in text and "band names" in text
    back = io.load(tmp_path / "c.hdr")
    np.testing.assert_allclose(back.wavelengths, [0.4554, 0.4654, 0.4754, 0.4854])
    assert back.metadata.wavelength_units == "Micrometers"
    assert back.notes == ("wavelengths read from the band names",)


def test_a_field_that_does_not_parse_is_kept_as_text_with_a_note(tmp_path):
    header = tmp_path / "c.hdr"
    np.ones((2, 3, 4), "<u2").tofile(tmp_path / "c.img")
    header.write_text("ENVI\nsamples = 3\nlines = 2\nbands = 4\ndata type = 12\n"
                      "byte order = 0\ninterleave = bsq\nfwhm = {1, 2}\n"
                      "map info = {UTM, 1, 1, 500000, 4100000, 30, 30, 11, North, WGS-84}\n")
    cube = io.load(header)
    assert cube.metadata.extra["fwhm"] == ("1", "2") and "fwhm" in cube.notes[0]
    assert cube.metadata.transform == (500000.0, 30.0, 0.0, 4100000.0, 0.0, -30.0)


# -- write-back in every format -------------------------------------------------------------


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_field_survives_each_format(fenix, suffix, tmp_path):
    cube = _georeferenced(fenix)
    io.save(cube, tmp_path / f"c{suffix}")
    back = io.load(tmp_path / f"c{suffix}")
    np.testing.assert_array_equal(back.data, cube.data)
    np.testing.assert_array_equal(back.wavelengths, cube.wavelengths)
    expected = cube.metadata.to_dict()
    got = back.metadata.to_dict()
    if suffix == ".hdr":  # ENVI states the transform as map info, too
        assert got.pop("map_info")[3:7] == ["450000.0", "4100000.0", "0.5", "0.5"]
    if suffix == ".tif" and "crs" in got:  # GDAL may state the CRS as WKT
        assert "32611" in got.pop("crs") and expected.pop("crs")
    assert got == expected


@pytest.mark.parametrize(("first", "second"), [(a, b) for a in FORMATS for b in FORMATS if a != b])
def test_every_pair_of_formats_keeps_the_metadata(fenix, first, second, tmp_path):
    cube = fenix.replace(data=fenix.data[:8, :6], metadata=fenix.metadata.replace(
        bad_bands=(3,), transform=(10.0, 1.0, 0.0, 20.0, 0.0, -1.0)))
    io.save(cube, tmp_path / f"a{first}")
    io.save(io.load(tmp_path / f"a{first}"), tmp_path / f"b{second}")
    back = io.load(tmp_path / f"b{second}").metadata.to_dict()
    back.pop("map_info", None)
    for key in ("fwhm", "nodata", "scale_factor", "extra", "bad_bands", "transform"):
        assert back[key] == cube.metadata.to_dict()[key], key


# -- through compression --------------------------------------------------------------------


def test_the_real_header_travels_through_compression_and_back_to_envi(fenix, tmp_path):
    encoding = codecs.encode("pca-dct", fenix, {"bpppb": 0.5}, QUIET)
    text, _ = container.split_metadata(encoding.data)
    assert encoding.within_budget  # the section is paid for inside the budget
    assert 8 * len(encoding.data) / np.prod(fenix.shape) == encoding.bpppb
    decoded = codecs.decode(encoding.data)
    assert decoded.metadata == fenix.metadata
    io.save(decoded, tmp_path / "d.hdr")
    assert io.load(tmp_path / "d.hdr").metadata == fenix.metadata
    assert 1000 < container.section_bytes(text) < len(text) / 2  # wavelengths packed, zlib


def test_a_budget_too_small_for_the_metadata_is_refused_with_the_way_out(fenix):
    with pytest.raises(InputError, match=r"metadata alone takes .* --strip-metadata"):
        codecs.encode("pca-dct", fenix, {"bpppb": 0.01}, QUIET)
    stripped = codecs.encode("pca-dct", fenix, {"bpppb": 0.05},
                             Run(progress=False, strip_metadata=True))  # fmt: skip
    assert codecs.decode(stripped.data).metadata.empty


def _with_nodata(cube: Cube) -> Cube:
    values = cube.data.astype(np.int32)
    values[:10, :15] = -9999  # a swath edge: far outside the data's range
    meta = Metadata(nodata=-9999.0, bad_bands=(0, 1, 2))
    return Cube(values, name="edge", metadata=meta)


@pytest.mark.parametrize("name", ["latent", "pca-dct", "jpeg2000"])
def test_nodata_pixels_and_bad_bands_are_left_out_and_come_back_exactly(name, indian_pines):
    cube = _with_nodata(Cube(indian_pines.data[:40, :40, :40]))
    budget = {"bpppb": 1.5 if name == "jpeg2000" else 0.5}  # above JPEG 2000's header floor
    encoding = codecs.encode(name, cube, budget, QUIET)
    decoded = codecs.decode(encoding.data)
    assert np.all(decoded.data[:10, :15] == -9999) and np.all(decoded.data[:, :, :3] == -9999)
    scores = metrics.report(cube, decoded)
    assert scores["nodata_pixels_left_out"] == 150 and scores["bad_bands_left_out"] == 3
    # coded as values, the -9999 block pulls the min / max every codec normalises by
    plain = codecs.encode(name, cube, budget, Run(progress=False, strip_metadata=True))
    plain_scores = metrics.report(cube, codecs.decode(plain.data))
    assert scores["psnr"] > plain_scores["psnr"] + 0.5, (scores["psnr"], plain_scores["psnr"])
    window = codecs.decode(encoding.data, Window(slice(5, 20), slice(10, 30), slice(1, 9)))
    np.testing.assert_array_equal(window.data, decoded.data[5:20, 10:30, 1:9])


def test_the_metrics_say_what_they_left_out(indian_pines, tmp_path, capsys):
    cube = _with_nodata(Cube(indian_pines.data[:30, :30, :20]))
    io.save(cube, tmp_path / "c.tif")
    decoded = cube.data.copy()
    decoded[20:, 20:, 5] += 7
    io.save(Cube(decoded), tmp_path / "d.npy")
    assert main(["eval", str(tmp_path / "c.tif"), str(tmp_path / "d.npy")]) == 0
    assert "150 no-data pixels and 3 bad bands" in capsys.readouterr().out
    valid = np.ones((30, 30), bool)
    valid[:10, :15] = False
    expected = np.mean(np.square((decoded - cube.data)[valid][:, 3:].astype(float)))
    assert metrics.mse(cube, Cube(decoded)) == pytest.approx(expected)


def test_the_command_line_shows_and_strips_the_metadata(fenix, tmp_path, capsys):
    header = tmp_path / "in.hdr"
    io.save(fenix, header)
    out, stripped = tmp_path / "f.hsinr", tmp_path / "s.hsinr"
    assert main(["compress", str(header), str(out), "--codec", "pca-dct", "--bpppb", "0.5",
                 "--quiet"]) == 0  # fmt: skip
    assert main(["compress", str(header), str(stripped), "--codec", "pca-dct", "--bpppb", "0.5",
                 "--quiet", "--strip-metadata"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "format_version  3" in shown and "fwhm            450 values" in shown
    assert "counted in bytes and bpppb" in shown and "sensor type" in shown
    assert main(["info", str(stripped), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["metadata"] == {} and facts["metadata_bytes"] == 0
    assert main(["decompress", str(out), str(tmp_path / "d.hdr")]) == 0
    assert "sensor type = Fenix" in (tmp_path / "d.hdr").read_text()


# -- damaged sections -----------------------------------------------------------------------


def _section_file(body: dict) -> bytes:
    inner = codecs.encode("pca-dct", Cube(np.arange(600, dtype=np.uint16).reshape(10, 6, 10)),
                          {"bpppb": 8.0}, QUIET).data  # fmt: skip
    return container.with_metadata(json.dumps({"hsinr_metadata": 1, **body}).encode(), inner)


@pytest.mark.parametrize(("body", "message"), [
    ({"fwhm": [1.0] * 9}, "fwhm is not a list of 10"),
    ({"nodata": "NaN"}, "nodata is not a list of 1 finite"),
    ({"bad_bands": [11]}, "bad-band indices outside"),
    ({"surprise": 1}, "unknown field 'surprise'"),
    ({"excluded": {"bands": 12}}, "do not match 10 coded bands"),
    ({"excluded": {"bands": 10, "nodata_pixels": "AAAA"}}, "mask without a no-data value"),
])  # fmt: skip
def test_a_section_that_says_what_cannot_be_is_refused(body, message):
    data = _section_file(body)
    with pytest.raises(CorruptFileError, match=message):
        codecs.decode(data)


def test_a_section_is_checked_before_it_is_inflated():
    data = bytearray(_section_file({"description": "x" * 1000}))
    header = struct.Struct("<4sBBHII")
    magic, version, encoding, reserved, stored, length = header.unpack_from(data)
    bomb = bytearray(data)
    too_long = container.MAX_METADATA + 1
    header.pack_into(bomb, 0, magic, version, encoding, reserved, stored, too_long)
    with pytest.raises(CorruptFileError, match="metadata section of"):
        codecs.decode(bytes(bomb))
    short = bytearray(data)
    header.pack_into(short, 0, magic, version, encoding, reserved, stored, length - 1)
    short[16 + stored : 20 + stored] = struct.pack("<I", zlib.crc32(bytes(short[: 16 + stored])))
    with pytest.raises(CorruptFileError, match="other than the"):
        codecs.decode(bytes(short))
    flipped = bytearray(data)
    flipped[20] ^= 1
    with pytest.raises(CorruptFileError, match="CRC mismatch in the metadata section"):
        codecs.decode(bytes(flipped))
    nested = container.with_metadata(b"{}", bytes(data))
    with pytest.raises(CorruptFileError, match="inside another"):
        codecs.decode(nested)


def test_metadata_checks_its_own_fields():
    with pytest.raises(MetadataError, match="6 finite numbers"):
        Metadata(transform=(1, 2, 3))
    with pytest.raises(MetadataError, match="3 fwhm for 4 bands"):
        Cube(np.ones((2, 2, 4)), metadata=Metadata(fwhm=[1, 2, 3]))
    with pytest.raises(MetadataError, match="every band is marked bad"):
        Cube(np.ones((2, 2, 2)), metadata=Metadata(bad_bands=(0, 1)))


def test_mutated_sections_are_refused_in_one_line_or_decoded(indian_pines):
    from hsinr.fuzzing import attempt, mutate_compressed

    cube = _with_nodata(Cube(indian_pines.data[:24, :20, :12]))
    cube = cube.replace(metadata=cube.metadata.replace(fwhm=np.ones(12), crs="EPSG:4326",
                                                       transform=(0, 1, 0, 0, 0, -1)))
    data = codecs.encode("pca-dct", cube, {"bpppb": 2.0}, QUIET).data
    rng = np.random.default_rng(15)
    outcomes = [attempt(lambda: codecs.decode(mutate_compressed(data, rng)))
                for _ in range(300)]  # fmt: skip
    assert outcomes.count("refused") > 100  # and no traceback, no message of several lines


def test_per_band_numbers_are_packed_exactly_and_checked():
    from hsinr.metadata import pack_numbers, unpack_numbers

    grid = [round(378.19 + 3.36 * i + 1e-4 * i * i, 6) for i in range(450)]
    packed = pack_numbers(grid)
    assert packed["decimals"] <= 6 and len(json.dumps(packed)) < len(json.dumps(grid)) / 2
    assert unpack_numbers(packed, 450, "w", "x") == grid  # float64 for float64
    odd = [0.1, 1 / 3, 2.0]
    assert pack_numbers(odd) == odd  # not on a decimal grid: kept as it is
    for lie in ({**packed, "decimals": 12}, {**packed, "first": 2**60},
                {**packed, "second_differences": [2**52] * 448}, {**packed, "extra": 1}):
        with pytest.raises(MetadataError):
            unpack_numbers(lie, 450, "w", "x")
