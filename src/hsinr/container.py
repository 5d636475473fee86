"""The one binary framing every codec's file uses (documented byte by byte in docs/FORMAT.md).

    offset  size  field
    0       4     magic b"HSNR"
    4       1     format version (1)
    5       1     codec id
    6       2     codec header length H (uint16, little-endian)
    8       8     payload length P (uint64, little-endian)
    16      H     codec header
    16+H    P     payload
    16+H+P  4     CRC32 of every byte before it (uint32, little-endian)

Reading checks, in order, the length, magic, version, lengths and CRC before anything is
interpreted, and raises :class:`CorruptFileError` with a one-line reason.

>>> blob = pack(1, b"hdr", b"payload")
>>> frame = unpack(blob)
>>> frame.codec_id, frame.header, frame.payload
(1, b'hdr', b'payload')
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from hsinr.errors import InputError

MAGIC = b"HSNR"
VERSION = 1
_PREFIX = struct.Struct("<4sBBHQ")
_CRC = struct.Struct("<I")
OVERHEAD = _PREFIX.size + _CRC.size  # bytes of framing around header and payload

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


@dataclass(frozen=True)
class Frame:
    """The parts of a container: which codec wrote it, its header and its payload."""

    version: int
    codec_id: int
    header: bytes
    payload: bytes


def pack(codec_id: int, header: bytes, payload: bytes) -> bytes:
    """Frame ``header`` and ``payload`` of codec ``codec_id`` into file bytes."""
    if len(header) > 0xFFFF:
        raise ValueError(f"codec header of {len(header)} bytes exceeds 65535")
    body = _PREFIX.pack(MAGIC, VERSION, codec_id, len(header), len(payload)) + header + payload
    return body + _CRC.pack(zlib.crc32(body))


def unpack(data: bytes) -> Frame:
    """Check and split file bytes; raises :class:`CorruptFileError` on any failed check."""
    if len(data) < OVERHEAD:
        raise CorruptFileError(f"not an hsinr file: only {len(data)} bytes")
    magic, version, codec_id, header_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CorruptFileError("not an hsinr file (wrong magic bytes)")
    if version != VERSION:
        raise CorruptFileError(
            f"hsinr file format version {version} is not supported (this hsinr reads {VERSION})"
        )
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
