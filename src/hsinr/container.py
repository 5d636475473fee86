"""The binary framing every codec's file uses (documented byte by byte in docs/FORMAT.md).

Version 1, one payload::

    offset  size  field
    0       4     magic b"HSNR"
    4       1     format version (1)
    5       1     codec id
    6       2     codec header length H (uint16, little-endian)
    8       8     payload length P (uint64, little-endian)
    16      H     codec header
    16+H    P     payload
    16+H+P  4     CRC32 of every byte before it (uint32, little-endian)

Version 2, chunks (a tiled codec's global part, chunk 0, then its tiles): the head
(everything up to the end of chunk 0) has one CRC and every other chunk its own, so a
window is decoded from the chunks it needs, each checked as it is read::

    offset       size     field
    0            4        magic b"HSNR"
    4            1        format version (2)
    5            1        codec id
    6            2        codec header length H (uint16)
    8            4        chunk count N (uint32, at least 1)
    12           H        codec header
    12+H         4        length L0 of chunk 0 (uint32)
    16+H         8(N-1)   per chunk 1 .. N-1: its length (uint32) and CRC32 (uint32)
    16+H+8(N-1)  L0       chunk 0
    ...          4        CRC32 of every byte before it (the head)
    ...          ...      chunks 1 .. N-1, back to back (nothing after the last)

Version 3, a metadata section (what the input file recorded besides its values, see
:mod:`hsinr.metadata`) before a complete version 1 or 2 file, which follows byte for byte::

    offset  size  field
    0       4     magic b"HSNR"
    4       1     format version (3)
    5       1     section encoding (1: zlib-compressed UTF-8 JSON)
    6       2     reserved, 0
    8       4     stored length M (uint32)
    12      4     JSON length U (uint32, at most MAX_METADATA)
    16      M     the zlib stream
    16+M    4     CRC32 of every byte before it
    20+M    ...   a version 1 or 2 file

Reading checks, in order, the length, magic, version, lengths and CRC (version 2: the
head's at once, every other chunk's when it is read) before anything is interpreted,
and raises :class:`CorruptFileError` with a one-line reason.

>>> blob = pack(1, b"hdr", b"payload")
>>> frame = unpack(blob)
>>> frame.codec_id, frame.header, frame.payload
(1, b'hdr', b'payload')
>>> frame = unpack(pack_chunks(1, b"hdr", [b"global", b"tile 0", b"tile 1"]))
>>> frame.version, len(frame.chunks), frame.chunks[2]
(2, 3, b'tile 1')
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsinr.errors import InputError

MAGIC = b"HSNR"
VERSION = 1  # one payload
CHUNKED = 2  # independent chunks
WITH_METADATA = 3  # a metadata section, then a version 1 or 2 file
VERSIONS = (VERSION, CHUNKED, WITH_METADATA)
_SECTION = struct.Struct("<4sBBHII")
ZLIB_JSON = 1  # the one section encoding
MAX_METADATA = 2**24  # bytes of JSON a section may declare
_PREFIX = struct.Struct("<4sBBHQ")
_CHUNKED_PREFIX = struct.Struct("<4sBBHI")
_ENTRY = struct.Struct("<II")  # a chunk's length and CRC32
_CRC = struct.Struct("<I")
OVERHEAD = _PREFIX.size + _CRC.size  # bytes of framing around header and payload
CHUNKED_OVERHEAD = _CHUNKED_PREFIX.size + 2 * _CRC.size  # chunk 0's length, the head's CRC
# ... and 8 bytes for every other chunk
MAX_CHUNK = 2**32 - 1

# Original dtypes a file can restore, by their one-byte code.
DTYPE_CODES: dict[int, np.dtype] = {
    code: np.dtype(name)
    for code, name in enumerate(
        (
            "uint8",
            "int8",
            "uint16",
            "int16",
            "uint32",
            "int32",
            "uint64",
            "int64",
            "float16",
            "float32",
            "float64",
        ),
        start=1,
    )
}
_CODE_OF = {dtype: code for code, dtype in DTYPE_CODES.items()}


class CorruptFileError(InputError):
    """A compressed file that is truncated, damaged, foreign or of an unknown version."""


class Chunks:
    """The chunks of a version-2 file: ``len``, and ``chunks[i]`` the bytes of chunk i
    (chunk 0 was checked with the head; any other's CRC is checked when it is read, and
    nothing else of the file is touched)."""

    def __init__(self, data, starts: np.ndarray, crcs: np.ndarray) -> None:
        self._data = data
        self._starts = starts  # (N, 2) int64: where each chunk starts and ends
        self._crcs = crcs  # (N,) uint32, chunk 0's unused

    def __len__(self) -> int:
        return len(self._starts)

    def length(self, index: int) -> int:
        start, end = self._starts[index]
        return int(end - start)

    def _part(self, index: int) -> memoryview:
        start, end = self._starts[index]
        return memoryview(self._data)[int(start) : int(end)]

    def _check(self, index: int) -> None:
        if index and zlib.crc32(self._part(index)) != int(self._crcs[index]):
            raise CorruptFileError(f"CRC mismatch in chunk {index}: the file is corrupt")

    def verify(self) -> None:
        """Check every chunk's CRC (without keeping any chunk)."""
        for index in range(len(self)):
            self._check(index)

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < len(self):
            raise IndexError(index)
        self._check(index)
        return bytes(self._part(index))


@dataclass(frozen=True)
class Frame:
    """The parts of a container: which codec wrote it, its header and its payload
    (version 1) or its chunks (version 2)."""

    version: int
    codec_id: int
    header: bytes
    payload: bytes = b""
    chunks: Chunks | None = None
    metadata: bytes = b""  # the metadata section's JSON (container version 3), or empty


def pack(codec_id: int, header: bytes, payload: bytes) -> bytes:
    """Frame ``header`` and ``payload`` of codec ``codec_id`` into file bytes."""
    if len(header) > 0xFFFF:
        raise ValueError(f"codec header of {len(header)} bytes exceeds 65535")
    body = _PREFIX.pack(MAGIC, VERSION, codec_id, len(header), len(payload)) + header + payload
    return body + _CRC.pack(zlib.crc32(body))


def pack_chunks(codec_id: int, header: bytes, chunks: list[bytes]) -> bytes:
    """Frame ``header`` and ``chunks`` (chunk 0 first) of codec ``codec_id`` into
    version-2 file bytes."""
    if len(header) > 0xFFFF:
        raise ValueError(f"codec header of {len(header)} bytes exceeds 65535")
    if not chunks:
        raise ValueError("a chunked file has at least one chunk")
    if any(len(chunk) > MAX_CHUNK for chunk in chunks):
        raise ValueError(f"a chunk exceeds {MAX_CHUNK} bytes")
    first, *others = chunks
    head = b"".join([
        _CHUNKED_PREFIX.pack(MAGIC, CHUNKED, codec_id, len(header), len(chunks)), header,
        _CRC.pack(len(first)),
        *(_ENTRY.pack(len(chunk), zlib.crc32(chunk)) for chunk in others), first,
    ])  # fmt: skip
    return b"".join([head, _CRC.pack(zlib.crc32(head)), *others])


def with_metadata(text: bytes, inner: bytes) -> bytes:
    """A version-3 file: the metadata section holding JSON ``text`` before ``inner`` (a
    version 1 or 2 file); ``inner`` itself when there is no text."""
    if not text:
        return inner
    if len(text) > MAX_METADATA:
        raise InputError(f"{len(text):,} bytes of metadata are over the {MAX_METADATA:,} a "
                         "file may hold; leave it out with --strip-metadata")  # fmt: skip
    stored = zlib.compress(text, 9)
    head = _SECTION.pack(MAGIC, WITH_METADATA, ZLIB_JSON, 0, len(stored), len(text)) + stored
    return head + _CRC.pack(zlib.crc32(head)) + inner


def section_bytes(text: bytes) -> int:
    """How many bytes :func:`with_metadata` adds for ``text``."""
    return 0 if not text else _SECTION.size + len(zlib.compress(text, 9)) + _CRC.size


def split_metadata(data) -> tuple[bytes, Any]:
    """(the metadata JSON, the inner file as a view of ``data``) of a version-3 file;
    (b"", ``data``) for a file of another version. The section's lengths and CRC are
    checked and the JSON's declared length is bounded before it is decompressed."""
    if len(data) < _SECTION.size or bytes(data[:5]) != MAGIC + bytes([WITH_METADATA]):
        return b"", data
    _, _, encoding, reserved, stored, length = _SECTION.unpack_from(data)
    if encoding != ZLIB_JSON or reserved:
        raise CorruptFileError(f"unknown metadata section encoding {encoding}/{reserved}")
    end = _SECTION.size + stored
    if len(data) < end + _CRC.size + OVERHEAD:
        raise CorruptFileError(f"file truncated: its metadata section says {stored:,} bytes "
                               f"and a file after it, it has {len(data):,}")  # fmt: skip
    if length > MAX_METADATA:
        raise CorruptFileError(f"a metadata section of {length:,} bytes (at most "
                               f"{MAX_METADATA:,})")  # fmt: skip
    (stored_crc,) = _CRC.unpack_from(data, end)
    if zlib.crc32(memoryview(data)[:end]) != stored_crc:
        raise CorruptFileError("CRC mismatch in the metadata section: the file is corrupt")
    inflate = zlib.decompressobj()
    try:
        text = inflate.decompress(bytes(data[_SECTION.size : end]), length + 1)
    except zlib.error:
        raise CorruptFileError("the metadata section does not decompress") from None
    if len(text) != length or not inflate.eof or inflate.unused_data:
        raise CorruptFileError(f"the metadata section holds other than the {length:,} "
                               "bytes it declares")  # fmt: skip
    return text, memoryview(data)[end + _CRC.size :]


def unpack(data) -> Frame:
    """Check and split file bytes (``bytes``, or any buffer such as an ``mmap``: a
    version-2 file's chunks are read only when asked for); raises
    :class:`CorruptFileError` on any failed check. A version-3 file gives the frame of
    the file it wraps, with its ``metadata``."""
    text, inner = split_metadata(data)
    if text:
        frame = _unpack(inner)
        if frame.metadata:
            raise CorruptFileError("a metadata section inside another")
        return dataclasses.replace(frame, metadata=text)
    return _unpack(data)


def _unpack(data) -> Frame:
    if len(data) < OVERHEAD:
        raise CorruptFileError(f"not an hsinr file: only {len(data)} bytes")
    magic, version, codec_id, header_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CorruptFileError("not an hsinr file (wrong magic bytes)")
    if version not in VERSIONS:
        raise CorruptFileError(
            f"hsinr file format version {version} is not supported (this hsinr reads "
            f"{' and '.join(map(str, VERSIONS))})"
        )
    if version == CHUNKED:
        return _unpack_chunked(data)
    if version == WITH_METADATA:
        raise CorruptFileError("a metadata section inside another")
    expected = OVERHEAD + header_len + payload_len
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "has trailing bytes"
        raise CorruptFileError(
            f"file {state}: its header says {expected} bytes, it has {len(data)}"
        )
    body_end = len(data) - _CRC.size
    (stored_crc,) = _CRC.unpack_from(data, body_end)
    if zlib.crc32(memoryview(data)[:body_end]) != stored_crc:
        raise CorruptFileError("CRC mismatch: the file is corrupt")
    start = _PREFIX.size
    header = bytes(data[start : start + header_len])
    payload = bytes(data[start + header_len : body_end])
    return Frame(version, codec_id, header, payload)


def _unpack_chunked(data) -> Frame:
    _, version, codec_id, header_len, count = _CHUNKED_PREFIX.unpack_from(data)
    if count < 1:
        raise CorruptFileError("a chunked file with no chunks")
    table_start = _CHUNKED_PREFIX.size + header_len
    first_start = table_start + 4 + _ENTRY.size * (count - 1)
    if len(data) < first_start + _CRC.size:
        raise CorruptFileError(
            f"file truncated: its header and table of {count:,} chunks need "
            f"{first_start + _CRC.size:,} bytes, it has {len(data):,}"
        )
    (first_length,) = _CRC.unpack_from(data, table_start)
    table = np.frombuffer(data, dtype="<u4", count=2 * (count - 1), offset=table_start + 4)
    table = table.reshape(count - 1, 2).astype(np.int64)
    lengths = np.concatenate([[first_length], table[:, 0]])
    head_end = first_start + first_length
    expected = head_end + _CRC.size + int(table[:, 0].sum())
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "has trailing bytes"
        raise CorruptFileError(
            f"file {state}: its chunk table says {expected:,} bytes, it has {len(data):,}"
        )
    (stored_crc,) = _CRC.unpack_from(data, head_end)
    if zlib.crc32(memoryview(data)[:head_end]) != stored_crc:
        raise CorruptFileError("CRC mismatch in the file's head: the file is corrupt")
    ends = np.cumsum(lengths[1:]) + head_end + _CRC.size
    starts = np.stack([np.concatenate([[first_start], ends - lengths[1:]]),
                       np.concatenate([[head_end], ends])], axis=1)  # fmt: skip
    crcs = np.concatenate([[0], table[:, 1]]).astype(np.uint32)
    header = bytes(data[_CHUNKED_PREFIX.size : table_start])
    return Frame(version, codec_id, header, chunks=Chunks(data, starts, crcs))


def is_container(data: bytes) -> bool:
    """Whether ``data`` starts with the container's magic bytes."""
    return data[: len(MAGIC)] == MAGIC


def dtype_code(dtype: np.dtype) -> int:
    """The one-byte code of an original dtype."""
    try:
        return _CODE_OF[np.dtype(dtype)]
    except KeyError:
        raise InputError(f"dtype {dtype} cannot be stored in an hsinr file") from None


def dtype_from_code(code: int) -> np.dtype:
    """The dtype of a one-byte code; :class:`CorruptFileError` for an unknown one."""
    if code not in DTYPE_CODES:
        raise CorruptFileError(f"unknown original-dtype code {code} in the header")
    return DTYPE_CODES[code]
