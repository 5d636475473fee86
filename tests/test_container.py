"""The container's version 2 (chunks): framing, checks, and reading only what is asked."""

import struct
import zlib

import numpy as np
import pytest

from hsinr import codecs, container
from hsinr.container import CorruptFileError


def _file(chunks=(b"global part", b"tile zero", b"", b"tile two")) -> bytes:
    return container.pack_chunks(7, b"codec header", list(chunks))


def test_chunks_round_trip_and_the_layout_is_as_documented():
    data = _file()
    frame = container.unpack(data)
    assert (frame.version, frame.codec_id, frame.header) == (2, 7, b"codec header")
    assert [frame.chunks[i] for i in range(4)] == [b"global part", b"tile zero", b"", b"tile two"]
    # prefix (12), header (12), chunk 0's length (4), 3 x (length, CRC), chunk 0, head CRC
    magic, version, codec, header_length, count = struct.unpack_from("<4sBBHI", data)
    assert (magic, version, codec, header_length, count) == (b"HSNR", 2, 7, 12, 4)
    assert struct.unpack_from("<I", data, 24) == (11,)
    assert struct.unpack_from("<II", data, 28) == (9, zlib.crc32(b"tile zero"))
    head_end = 28 + 3 * 8 + 11
    assert data[52:head_end] == b"global part"
    assert struct.unpack_from("<I", data, head_end) == (zlib.crc32(data[:head_end]),)
    assert data[head_end + 4 :] == b"tile zero" + b"tile two"
    assert len(container.unpack(_file([b"only"])).chunks) == 1


def test_a_damaged_chunk_is_found_when_it_is_read_and_only_then():
    data = bytearray(_file())
    data[-2] ^= 0x01  # inside the last chunk
    frame = container.unpack(bytes(data))
    assert frame.chunks[1] == b"tile zero"
    with pytest.raises(CorruptFileError, match="CRC mismatch in chunk 3"):
        frame.chunks[3]
    with pytest.raises(CorruptFileError, match="CRC mismatch in chunk 3"):
        frame.chunks.verify()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\0", "trailing bytes"),
    (lambda d: d[:8] + struct.pack("<I", 2**31) + d[12:], "truncated: its header and table"),
    (lambda d: d[:8] + struct.pack("<I", 0) + d[12:], "no chunks"),
    (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], "CRC mismatch in the file's head"),
    (lambda d: d[:4] + bytes([4]) + d[5:], "version 4 is not supported"),
        (lambda d: d[:4] + bytes([3]) + d[5:], "unknown metadata section encoding"),
])  # fmt: skip
def test_a_damaged_head_is_refused_before_anything_is_read(change, message):
    with pytest.raises(CorruptFileError, match=message):
        container.unpack(change(_file()))


def test_a_codec_that_writes_one_payload_refuses_a_chunked_file():
    data = container.pack_chunks(codecs.get("jpeg").codec_id, b"x" * 29, [b"y"])
    with pytest.raises(CorruptFileError, match="jpeg file in container version 2"):
        codecs.decode(data)


def test_chunks_are_read_from_a_memory_map_without_copying_the_file(tmp_path):
    import mmap

    path = tmp_path / "f.bin"
    path.write_bytes(_file([b"g" * 100, np.arange(1000, dtype="<u4").tobytes()]))
    with open(path, "rb") as stream:
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    frame = container.unpack(mapped)
    assert np.array_equal(np.frombuffer(frame.chunks[1], "<u4"), np.arange(1000))
