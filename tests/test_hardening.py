"""Regression tests for every finding of the hardening campaign (issue 12): each builds the
crafted input the campaign found and checks it now gets a one-line error, bounded work,
or no read outside the file. See docs/FORMAT.md ("Decoding safety") and README
("Reading and writing cubes")."""

from __future__ import annotations

import io as bytes_io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from hsinr import codecs, container, io
from hsinr.cli import main
from hsinr.codecs import Run
from hsinr.codecs.header import CUBE_HEADER
from hsinr.codecs.parts import join_parts, split_parts
from hsinr.errors import HsinrError, InputError
from hsinr.limits import LimitError, Limits
from hsinr.transforms import wavelet as _wavelet

V1 = Path(__file__).parent / "data" / "v1"
SECRET = b"TOP-SECRET-BYTES-0123456789abcdef"


def v1(name: str) -> bytes:
    return (V1 / f"{name}.hsinr").read_bytes()


def repack(data: bytes, *, header: bytes | None = None, payload: bytes | None = None) -> bytes:
    """The file with its codec header or payload replaced, CRC recomputed (so the change
    reaches the codec's own checks)."""
    frame = container.unpack(data)
    return container.pack(frame.codec_id, frame.header if header is None else header,
                          frame.payload if payload is None else payload)  # fmt: skip


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(capsys, *argv) -> str:
    status, _, err = run(capsys, *argv)
    assert status == 1, err
    assert err.startswith("hsinr: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def peak_bytes(function) -> int:
    """Peak traced allocation while ``function`` runs (numpy arrays included)."""
    tracemalloc.start()
    try:
        function()
    except HsinrError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- 1. no file disclosure -----------------------------------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "elsewhere" / "secret.bin"
    path.parent.mkdir()
    path.write_bytes(SECRET * 64)
    return path


def _v73(path: Path, build) -> Path:
    with h5py.File(path, "w", userblock_size=512) as file:
        build(file)
    return path


def _soft_linked(file: h5py.File) -> None:
    file.create_dataset("real", data=np.ones((2, 2, 2)))
    file["cube"] = h5py.SoftLink("/real")


def _plugin_filtered(file: h5py.File) -> None:
    """A dataset whose chunk needs filter 32001 (blosc), made without the plugin."""
    properties = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    properties.set_chunk((2, 2, 2))
    properties.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, (0, 0, 0, 0))
    space = h5py.h5s.create_simple((2, 2, 2))
    dataset = h5py.h5d.create(file.id, b"cube", h5py.h5t.NATIVE_UINT8, space, dcpl=properties)
    dataset.write_direct_chunk((0, 0, 0), b"\x01" * 8, filter_mask=0)


H5_ATTACKS = {
    "external storage": (
        lambda s: lambda f: f.create_dataset(
            "cube", shape=(4, 4, 2), dtype="u1", external=[(str(s), 0, h5py.h5f.UNLIMITED)]
        ),
        "external file",
    ),
    "external link": (
        lambda s: lambda f: f.__setitem__("cube", h5py.ExternalLink(str(s), "/d")),
        "external link",
    ),
    "soft link": (lambda s: _soft_linked, "soft link"),
    "plugin filter": (lambda s: _plugin_filtered, "plugin"),
}


@pytest.mark.parametrize("attack", sorted(H5_ATTACKS))
def test_hdf5_mat_files_cannot_make_hsinr_read_elsewhere(tmp_path, secret, attack, capsys):
    builder, message = H5_ATTACKS[attack]
    path = _v73(tmp_path / "crafted.mat", builder(secret))
    with pytest.raises(InputError, match=message):
        io.load(path)
    err = one_line_error(capsys, "compress", path, tmp_path / "out.hsinr", "--codec", "latent",
                         "--bpppb", "1")  # fmt: skip
    assert "crafted.mat" in err and not (tmp_path / "out.hsinr").exists()


def test_hdf5_virtual_datasets_are_refused(tmp_path, secret):
    source = tmp_path / "elsewhere" / "source.h5"
    with h5py.File(source, "w") as file:
        file.create_dataset("d", data=np.arange(8, dtype="u1").reshape(2, 2, 2))
    layout = h5py.VirtualLayout((2, 2, 2), "u1")
    layout[:] = h5py.VirtualSource(str(source), "d", shape=(2, 2, 2))
    path = _v73(tmp_path / "vds.mat", lambda f: f.create_virtual_dataset("cube", layout))
    with pytest.raises(InputError, match="virtual dataset"):
        io.load(path)


def test_envi_data_beside_a_header_must_not_lead_out_of_its_folder(tmp_path, secret, small_cube):
    io.save(small_cube, tmp_path / "scene.hdr")
    (tmp_path / "scene.img").unlink()
    (tmp_path / "scene.img").symlink_to(secret)
    with pytest.raises(InputError, match="outside the folder"):
        io.load(tmp_path / "scene.hdr")
    # a link within the folder is followed (a folder of links to the same folder's files)
    io.save(small_cube, tmp_path / "real.hdr")
    (tmp_path / "scene.img").unlink()
    (tmp_path / "scene.img").symlink_to(tmp_path / "real.img")
    np.testing.assert_array_equal(io.load(tmp_path / "scene.hdr").data, small_cube.data)


@pytest.mark.parametrize("interleave", ["xyz", "x/../../../../etc/hostname"])
def test_envi_unknown_interleaves_are_refused(tmp_path, small_cube, interleave):
    """spectral reads any unknown interleave as bsq, and builds file names from it."""
    io.save(small_cube, tmp_path / "scene.hdr")
    header = tmp_path / "scene.hdr"
    header.write_text(header.read_text().replace("interleave = bsq", f"interleave = {interleave}"))
    with pytest.raises(InputError, match="unknown ENVI interleave"):
        io.load(header)


def test_envi_headers_declaring_more_than_the_data_file_holds(tmp_path, small_cube):
    io.save(small_cube, tmp_path / "scene.hdr")
    header = tmp_path / "scene.hdr"
    text = header.read_text()
    header.write_text(text.replace("lines = 12", "lines = 100000"))
    with pytest.raises(InputError, match="the file holds only"):
        io.load(header)
    header.write_text(text.replace("lines = 12", "lines = 1000000000"))
    with pytest.raises(LimitError):
        io.load(header)
    header.write_text(text + "\n" * 70000)
    with pytest.raises(InputError, match="not plausible"):
        io.load(header)


def _ome_tiff(path: Path, other: str) -> None:
    """An OME-TIFF whose second plane is named to be in another file."""
    planes = "".join(
        f'<TiffData IFD="0" FirstZ="{z}" PlaneCount="1"><UUID FileName="{name}">urn:uuid:'
        f'{z}1111111-1111-1111-1111-111111111111</UUID></TiffData>'
        for z, name in enumerate([path.name, other])
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/'
        'Schemas/OME/2016-06" UUID="urn:uuid:01111111-1111-1111-1111-111111111111"><Image '
        'ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" SizeX="4" '
        f'SizeY="4" SizeZ="2" SizeC="1" SizeT="1"><Channel ID="Channel:0" SamplesPerPixel="1"/>'
        f"{planes}</Pixels></Image></OME>"
    )
    tifffile.imwrite(path, np.full((4, 4), 1, "u1"), description=xml, metadata=None)


def test_tiff_series_never_gather_other_files(tmp_path, secret):
    other = secret.parent / "other.tif"
    tifffile.imwrite(other, np.full((4, 4), 99, "u1"))
    path = tmp_path / "scene.ome.tif"
    _ome_tiff(path, str(other))
    assert tifffile.TiffFile(path).series[0].asarray().max() == 99  # what tifffile would do
    try:
        cube = io.load(path)
    except InputError:
        return
    assert cube.data.max() != 99


def _patched_tag(path: Path, tag: int, value: int) -> None:
    """Set a SHORT / LONG tag's value in a little-endian classic TIFF's first IFD."""
    data = bytearray(path.read_bytes())
    (offset,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, offset)
    for entry in range(count):
        at = offset + 2 + 12 * entry
        found, kind = struct.unpack_from("<HH", data, at)
        if found == tag:
            struct.pack_into("<H" if kind == 3 else "<I", data, at + 8, value)
            path.write_bytes(bytes(data))
            return
    raise AssertionError(f"tag {tag} not found")


def test_tiff_declared_sizes_are_checked_before_reading(tmp_path):
    path = tmp_path / "spp.tif"
    tifffile.imwrite(path, np.arange(48, dtype="u2").reshape(4, 4, 3), photometric="rgb")
    _patched_tag(path, 277, 65535)  # SamplesPerPixel
    with pytest.raises(LimitError, match="65,535 bands"):
        io.load(path)
    with pytest.raises(InputError, match=r"holds only|past the end"):
        io.load(path, limits=Limits(max_bands=65535))
    wide = tmp_path / "wide.tif"
    tifffile.imwrite(wide, np.zeros((3, 8, 8), "u2"), photometric="minisblack",
                     planarconfig="separate")  # fmt: skip
    _patched_tag(wide, 256, 100000)
    _patched_tag(wide, 257, 100000)
    assert peak_bytes(lambda: io.load(wide)) < 20 * 2**20
    with pytest.raises(LimitError, match="100000 x 100000 x 3"):
        io.load(wide)


def test_a_tiff_whose_directories_loop_is_refused_not_listed_forever(tmp_path):
    """tifffile follows a chain of image file directories that loops back (found by
    fuzzing a tiled seed) without end; hsinr counts them against --max-bands first."""
    path = tmp_path / "loop.tif"
    tifffile.imwrite(path, np.arange(60, dtype="<u2").reshape(3, 4, 5), photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        offsets = [page.offset for page in tif.pages]
    data = bytearray(path.read_bytes())
    (entries,) = struct.unpack_from("<H", data, offsets[-1])
    struct.pack_into("<I", data, offsets[-1] + 2 + 12 * entries, offsets[1])  # last -> second
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"more than 164 pages .*--max-bands"):
        io.load(path, limits=Limits(max_bands=100))


def _tag_of_invalid_type(path: Path) -> None:
    """Give the ImageDescription tag an invalid data type (tifffile logs and skips it)."""
    data = bytearray(path.read_bytes())
    (offset,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, offset)
    for entry in range(count):
        at = offset + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 270:
            struct.pack_into("<H", data, at + 2, 99)
    path.write_bytes(bytes(data))


def test_library_log_lines_do_not_reach_the_user(tmp_path):
    """tifffile logs through Python's last-resort handler straight onto stderr."""
    path = tmp_path / "scene.tif"
    tifffile.imwrite(path, np.arange(192, dtype="u2").reshape(3, 8, 8),
                     photometric="minisblack", planarconfig="separate")  # fmt: skip
    _tag_of_invalid_type(path)
    reading = f"import tifffile; tifffile.TiffFile({str(path)!r}).series[0].asarray()"
    leak = subprocess.run([sys.executable, "-c", reading], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert "invalid data type" in leak.stderr  # what would reach the user
    result = subprocess.run([sys.executable, "-m", "hsinr", "info", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert "8 x 8 x 3" in result.stdout


# -- 2. decoders: no tracebacks -------------------------------------------------------------


def _image_bytes(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = bytes_io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


FOREIGN_PARTS = {
    "RGB JPEG": lambda: _image_bytes(np.zeros((20, 27, 3), np.uint8), "JPEG"),
    "BMP": lambda: _image_bytes(np.zeros((20, 27), np.uint8), "BMP"),
    "TIFF": lambda: _image_bytes(np.zeros((20, 27), np.uint8), "TIFF"),
    "RGB J2K": lambda: _image_bytes(np.zeros((20, 27, 3), np.uint8), "JPEG2000", no_jp2=True),
    "progressive JPEG": lambda: _image_bytes(
        np.zeros((20, 27), np.uint8), "JPEG", progressive=True
    ),
    "truncated JPEG": lambda: _image_bytes(
        np.random.default_rng(0).integers(0, 256, (20, 27), dtype=np.uint8), "JPEG"
    )[:400],
}


def _with_first_part(data: bytes, part: bytes) -> bytes:
    """A per-band or pca-jpeg2000 file whose first image part is ``part``."""
    frame = container.unpack(data)
    header = container.unpack(data).header
    if frame.codec_id == 5:  # pca-jpeg2000: basis, then scale and offsets, then the parts
        k = struct.unpack_from("<H", header, CUBE_HEADER.size)[0]
        bands = struct.unpack_from("<H", header, 8)[0]
        start = (bands + bands * k) * 2 + 4 + 4 * k
    else:
        bands = struct.unpack_from("<H", header, 8)[0]
        k, start = bands, 8 * bands
    parts = split_parts(frame.payload[start:], k)
    return repack(data, payload=frame.payload[:start] + join_parts([part, *parts[1:]]))


@pytest.mark.parametrize("codec", ["jpeg", "jpeg2000", "pca-jpeg2000"])
@pytest.mark.parametrize("foreign", sorted(FOREIGN_PARTS))
def test_foreign_image_parts_are_refused_before_decoding(codec, foreign, tmp_path, capsys):
    crafted = _with_first_part(v1(codec), FOREIGN_PARTS[foreign]())
    with pytest.raises(container.CorruptFileError, match="part"):
        codecs.decode(crafted)
    (tmp_path / "x.hsinr").write_bytes(crafted)
    err = one_line_error(capsys, "decompress", tmp_path / "x.hsinr", tmp_path / "x.npy")
    assert "x.hsinr: " in err


def test_a_j2k_part_claiming_a_huge_size_is_corrupt_not_a_pillow_bomb():
    data = v1("jpeg2000")
    frame = container.unpack(data)
    bands = struct.unpack_from("<H", frame.header, 8)[0]
    parts = split_parts(frame.payload[8 * bands :], bands)
    part = bytearray(parts[0])
    siz = part.index(b"\xff\x51")
    struct.pack_into(">II", part, siz + 6, 0x7FFFFF00, 0x7FFFFF00)  # Xsiz, Ysiz
    scales = frame.payload[: 8 * bands]
    crafted = repack(data, payload=scales + join_parts([bytes(part), *parts[1:]]))
    with pytest.raises(container.CorruptFileError):
        codecs.decode(crafted)


# -- 3. small files, bounded work ------------------------------------------------------------


def _with_shape(data: bytes, rows: int, cols: int, bands: int | None = None, offset: int = 0):
    """A file whose cube header (at ``offset`` in the codec header) claims another shape."""
    header = bytearray(container.unpack(data).header)
    old_bands = struct.unpack_from("<H", header, offset + 8)[0]
    struct.pack_into("<IIH", header, offset, rows, cols, old_bands if bands is None else bands)
    return repack(data, header=bytes(header))


def test_a_tiny_meta_file_claiming_millions_of_rows_is_bounded_by_the_limits():
    crafted = _with_shape(v1("meta"), 4_194_305, 1, offset=16)
    with pytest.raises(LimitError, match="4194305 x 1 x 18"):
        codecs.decode(crafted, run=Run(limits=Limits(max_values=2**22)))


def test_meta_evaluates_only_pixels_inside_the_image(monkeypatch):
    """A tall, thin image does not pay for the whole patch grid (32x, once)."""
    from hsinr.nn import meta

    rendered = []
    original = meta.render

    def counting(model, latents, patch, extent=None):
        out = original(model, latents, patch, extent)
        rendered.append(out.shape[0] * out.shape[1])
        return out

    monkeypatch.setattr(meta, "render", counting)
    cube = codecs.decode(v1("meta"))
    assert sum(rendered) == cube.shape[0] * cube.shape[1]


def test_wavelet_norms_of_a_long_axis_never_take_the_quadratic_path(monkeypatch):
    lengths = []
    measure = _wavelet._norms_by_units
    monkeypatch.setattr(_wavelet, "_norms_by_units", lambda n: lengths.append(n) or measure(n))
    _wavelet.synthesis_norms.cache_clear()
    wavelet = _wavelet.Wavelet2D(2, 65535, levels=1)
    wavelet.synthesis(wavelet.analysis(np.ones((1, 2, 65535))))
    assert lengths and max(lengths) <= 100


def test_a_latent_file_claiming_a_huge_image_is_refused_before_allocating():
    crafted = _with_shape(v1("latent"), 5_000, 5_000)
    assert peak_bytes(lambda: codecs.decode(crafted)) < 50 * 2**20
    with pytest.raises(container.CorruptFileError, match="need at least"):
        codecs.decode(crafted)
    narrow = _with_shape(v1("latent"), 2_000_000, 1, 18)
    header = bytearray(container.unpack(narrow).header)
    header[CUBE_HEADER.size] = 0  # no wavelet levels: one 2,000,000-row subband
    narrow = repack(narrow, header=bytes(header))
    with pytest.raises(LimitError, match="row steps"):
        codecs.decode(narrow, run=Run(limits=Limits(max_values=2**26)))


def test_pca_dct_claiming_a_million_rows_does_not_block_in_the_entropy_decoder():
    crafted = _with_shape(v1("pca-dct"), 1_000_000, 27)
    with pytest.raises(container.CorruptFileError, match="need at least"):
        codecs.decode(crafted)


@pytest.mark.parametrize("codec", ["jpeg", "jpeg2000"])
def test_per_band_codecs_look_at_their_parts_before_allocating_the_cube(codec):
    crafted = _with_shape(v1(codec), 7_000, 7_000)
    assert peak_bytes(lambda: codecs.decode(crafted)) < 50 * 2**20  # not 7000^2 x 18 x 8 B
    with pytest.raises(container.CorruptFileError, match="expected"):
        codecs.decode(crafted)
    with pytest.raises(LimitError):
        codecs.decode(_with_shape(v1(codec), 65535, 65535, 18))


# -- 4. input cubes whose declared size is not what they hold --------------------------------


def test_a_lying_npy_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "lie.npy"
    np.save(path, np.zeros((4, 4, 3), np.float32))
    data = path.read_bytes().replace(b"(4, 4, 3)", b"(2000, 2000, 200)")
    path.write_bytes(data)
    assert peak_bytes(lambda: io.load(path)) < 20 * 2**20
    with pytest.raises(InputError, match="the file holds only"):
        io.load(path)


def test_a_lying_npz_member_is_refused_before_allocating(tmp_path):
    path = tmp_path / "lie.npz"
    buffer = bytes_io.BytesIO()
    np.save(buffer, np.zeros((4, 4, 3), np.float32))
    member = buffer.getvalue().replace(b"(4, 4, 3)", b"(2000, 2000, 200)")
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cube.npy", member)
    assert peak_bytes(lambda: io.load(path)) < 20 * 2**20
    with pytest.raises(InputError, match="the file holds only"):
        io.load(path)


def test_a_sparse_v73_dataset_of_terabytes_is_refused_from_its_shape(tmp_path):
    path = _v73(tmp_path / "sparse.mat",
                lambda f: f.create_dataset("cube", shape=(1000, 20000, 20000), dtype="u2",
                                           chunks=(10, 10, 10)))  # fmt: skip
    with pytest.raises(LimitError, match="20000 x 20000 x 1000"):
        io.load(path)


# -- 5. base networks --------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_parts():
    """The shipped base network's tensors and metadata, to mutate."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from hsinr.basenet import shipped_base_path

    with safe_open(str(shipped_base_path()), framework="np") as handle:
        metadata = handle.metadata()
    return load_file(str(shipped_base_path())), metadata


def _mutant(tmp_path, base_parts, *, tensors=None, **changes) -> Path:
    from safetensors.numpy import save_file

    found, metadata = base_parts
    metadata = dict(metadata)
    config = json.loads(metadata["config"])
    for key, value in changes.items():
        if key == "training":
            metadata["training"] = value
        else:
            config[key] = value
            metadata["config"] = json.dumps(config).replace('"INF"', "1e400")
    path = tmp_path / "mutant.hsbase"
    save_file(tensors if tensors is not None else found, str(path), metadata=metadata)
    return path


BASE_MUTANTS = {
    "w0 = 1e400": ({"w0": "INF"}, "w0"),
    "w0 = 1e-300": ({"w0": 1e-300}, "w0"),
    "patch = 4096": ({"patch": 4096}, "patch"),
    "training as a list": ({"training": "[1, 2]"}, "training"),
    "inner_steps = 1e400": ({"training": '{"inner_steps": 1e400}'}, "inner_steps"),
    "inner_lr = -1": ({"training": '{"inner_lr": -1}'}, "inner_lr"),
    "nested config": ({"training": "[" * 100000 + "]" * 100000}, "training"),
}


@pytest.mark.parametrize("mutant", sorted(BASE_MUTANTS))
def test_mutated_base_networks_are_one_line_errors(tmp_path, base_parts, mutant, capsys):
    changes, message = BASE_MUTANTS[mutant]
    path = _mutant(tmp_path, base_parts, **changes)
    err = one_line_error(capsys, "info", path)
    assert message in err
    err = one_line_error(capsys, "compress", "scene:sample", tmp_path / "o.hsinr",
                         "--codec", "meta", "--base", path, "--quiet")  # fmt: skip
    assert message in err


def test_base_networks_must_hold_exactly_their_tensors(tmp_path, base_parts, capsys):
    found, _ = base_parts
    extra = {**found, "model.extra": np.zeros(3, np.float32)}
    err = one_line_error(capsys, "info", _mutant(tmp_path, base_parts, tensors=extra))
    assert "unexpected model.extra" in err
    as_float64 = {k: v.astype(np.float64) for k, v in found.items()}
    err = one_line_error(capsys, "info", _mutant(tmp_path, base_parts, tensors=as_float64))
    assert "expected F32" in err


def test_torch_allocation_failures_are_the_one_line_memory_error(monkeypatch, capsys):
    from hsinr.codecs.latent import LatentCodec

    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 123456789 bytes.")  # fmt: skip

    monkeypatch.setattr(LatentCodec, "_encode", fail)
    err = one_line_error(capsys, "compress", "scene:sample", "/tmp/never.hsinr", "--codec",
                         "latent", "--bpppb", "0.1")  # fmt: skip
    assert "not enough memory" in err


# -- 6. interrupted runs ---------------------------------------------------------------------


@pytest.fixture
def slow_to_write(tmp_path) -> Path:
    """A small file that decodes fast into a cube whose .npz takes seconds to write: a
    random 1 x 8 SIREN on a 1000 x 1000 x 24 window."""
    from hsinr.codecs.siren import CODEC_ID, HEADER
    from hsinr.nn.siren import siren_param_count

    weights = np.random.default_rng(0).normal(0, 0.5, siren_param_count(1, 8, 24)).astype("<f2")
    path = tmp_path / "big.hsinr"
    header = HEADER.pack(1000, 1000, 24, 1, 8, 1, 3, 0.0, 60000.0)
    path.write_bytes(container.pack(CODEC_ID, header, weights.tobytes()))
    return path


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".partial" in p.name]


def _killed_mid_write(source: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "hsinr", "decompress", str(source), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    waited = 0.0
    while not _partials(out.parent) and process.poll() is None and waited < 120:
        time.sleep(0.01)
        waited += 0.01
    assert process.poll() is None, "the write ended before it could be interrupted"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_sigterm_mid_write_removes_the_temporary_file(tmp_path, slow_to_write):
    out = tmp_path / "out" / "cube.npz"
    out.parent.mkdir()
    result = _killed_mid_write(slow_to_write, out, signal.SIGTERM)
    assert result.returncode == 128 + signal.SIGTERM and "terminated" in result.stderr
    assert not out.exists() and _partials(out.parent) == []


def test_a_later_run_removes_what_a_killed_run_left(tmp_path, slow_to_write):
    out = tmp_path / "out" / "cube.npz"
    out.parent.mkdir()
    _killed_mid_write(slow_to_write, out, signal.SIGKILL)
    left = _partials(out.parent)
    assert left and not out.exists()  # kill -9 cannot be cleaned up at once
    (out.parent / "unrelated.partial.npz").write_text("not ours")  # no PID: left alone
    assert main(["decompress", str(slow_to_write), str(out)]) == 0
    assert [p.name for p in _partials(out.parent)] == ["unrelated.partial.npz"]
    assert io.load(out).shape == (1000, 1000, 24)


def test_envi_outputs_are_committed_header_last(tmp_path, small_cube, monkeypatch):
    """A reader never finds a header beside data it does not describe."""
    from hsinr.io import _atomic

    io.save(small_cube, tmp_path / "scene.hdr")
    committed = []
    real_replace = os.replace

    def interrupted_after_the_data(source, target):
        committed.append(Path(target).name)
        if len(committed) == 2:
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(_atomic.os, "replace", interrupted_after_the_data)
    with pytest.raises(KeyboardInterrupt):
        io.save(small_cube.replace(data=small_cube.data[:5]), tmp_path / "scene.hdr")
    monkeypatch.undo()
    assert committed == ["scene.img", "scene.hdr"]
    assert not (tmp_path / "scene.hdr").exists() and _partials(tmp_path) == []
    with pytest.raises(InputError, match="no such file"):
        io.load(tmp_path / "scene.hdr")


# -- 7. found by the fuzz campaign -----------------------------------------------------------


@pytest.mark.parametrize("code", [8, 19, 41984])
def test_matlab_v5_data_type_codes_scipy_would_look_up_unchecked(tmp_path, small_cube, code):
    """scipy's v5 reader indexes a C table with this code: 8 and 19 are NULL slots, 41984
    lies far past it (found by the campaign as a crash; scipy PRs 25349 / 25829). Run in
    a subprocess, so that a regression is a crash of that process, not of the tests."""
    import scipy.io

    path = tmp_path / "crafted.mat"
    scipy.io.savemat(path, {"cube": small_cube.data}, do_compression=False)
    data = bytearray(path.read_bytes())
    real_tag = data.index(struct.pack("<II", 4, small_cube.data.nbytes))  # miUINT16, n bytes
    struct.pack_into("<I", data, real_tag, code)
    path.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "hsinr", "info", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("hsinr: error: crafted.mat: ") and "type" in result.stderr


def test_truncated_compressed_matlab_elements_are_refused_before_scipy(tmp_path, small_cube):
    path = tmp_path / "cut.mat"
    io.save(small_cube, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated"):
        io.load(path)


def test_float_ranges_past_float16_are_compared_without_warnings(tmp_path):
    """A header's min / max of 1e300 for a float16 original was compared by numpy in
    float16 (an overflow warning) before it was refused."""
    data = bytearray(v1("pca-jpeg2000"))
    header = bytearray(container.unpack(bytes(data)).header)
    struct.pack_into("<Bdd", header, 10, 9, -1e300, 1e300)  # dtype float16
    with np.errstate(all="raise"), pytest.raises(container.CorruptFileError, match="range"):
        codecs.decode(repack(bytes(data), header=bytes(header)))


def test_quantisers_whose_top_level_overflows_float32_are_refused():
    data = v1("siren-quantised")
    frame = container.unpack(data)
    payload = bytearray(frame.payload)
    struct.pack_into("<ff", payload, 0, 0.0, 3e36)  # first group: step x 255 > float32 max
    with np.errstate(all="raise"), pytest.raises(container.CorruptFileError, match="quantiser"):
        codecs.decode(repack(data, payload=bytes(payload)))


def test_describing_a_pca_dct_file_with_a_short_body_is_a_one_line_error(tmp_path, capsys):
    data = v1("pca-dct")
    frame = container.unpack(data)
    k = struct.unpack_from("<H", frame.header, CUBE_HEADER.size)[0]
    bands = struct.unpack_from("<H", frame.header, 8)[0]
    (tmp_path / "short.hsinr").write_bytes(
        repack(data, payload=frame.payload[: (bands + bands * k) * 2 + 3])
    )
    assert "short.hsinr: pca-dct body" in one_line_error(capsys, "info", tmp_path / "short.hsinr")


def test_signalling_nans_in_stored_floats_are_refused_without_a_numpy_warning():
    data = v1("jpeg")
    frame = container.unpack(data)
    payload = bytearray(frame.payload)
    payload[0:4] = b"\x01\x00\x80\x7f"  # a float32 signalling NaN as the first band's min
    with np.errstate(all="raise"), pytest.raises(container.CorruptFileError, match="NaN"):
        codecs.decode(repack(data, payload=bytes(payload)))


@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_64_bit_integer_outputs_are_clipped_inside_their_range(dtype):
    from hsinr.cube import Normalisation

    with np.errstate(all="raise"):
        restored = Normalisation(0.0, 1e30).invert(np.array([0.0, 1.0]), dtype)
    assert restored[1] == np.iinfo(dtype).max - 2047 + (dtype == np.int64) * 1024


def test_a_network_whose_output_overflows_is_corrupt():
    """Finite fp32 weights whose output is not: every feature sin(30 * pi / 60) = 1 and
    output weights of 3e38, summed over four features."""
    from hsinr.codecs.siren import CODEC_ID, HEADER

    first = [0.0] * 8 + [np.pi / 60] * 4  # weight (4 x 2), bias (4)
    head = [3e38] * 12 + [0.0] * 3  # weight (3 x 4), bias (3)
    weights = np.array(first + head, dtype="<f4")
    data = container.pack(CODEC_ID, HEADER.pack(4, 4, 3, 1, 4, 0, 3, 0.0, 100.0),
                          weights.tobytes())  # fmt: skip
    with pytest.raises(container.CorruptFileError, match="not finite"):
        codecs.decode(data)
