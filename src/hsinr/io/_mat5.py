"""What hsinr checks in a MATLAB v5 file before scipy reads its data.

scipy's v5 reader is not hardened for untrusted files: the data type code of an array's
data element indexes a C table unchecked, so a crafted code crashes the process (scipy
pull requests 25349 and 25829). :func:`variable_layout` walks the file's element framing
(every element must lie inside the file) and reads, for each variable, the head of its
``miMATRIX`` element (inflating at most ``HEAD_BYTES`` of a compressed one): array
flags, dimensions, name and the tag of its real data. :func:`check_numeric` then refuses,
before ``loadmat`` sees the file, a variable whose data element scipy would mis-read.

Layout (MATLAB's "MAT-File Format", level 5): a 128-byte header ending with the endian
indicator ``IM`` (little) or ``MI`` (big); then elements, each a tag (type, byte count:
two uint32, or in the "small" form one uint32 holding the count in its upper 16 bits and
up to 4 bytes of data) and its data, padded to 8 bytes inside a matrix.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from hsinr.errors import InputError

MI_INT8, MI_UINT32, MI_INT32, MI_MATRIX, MI_COMPRESSED = 1, 6, 5, 14, 15
NUMERIC_TYPES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}  # code -> bytes
NUMERIC_CLASSES = range(6, 16)  # mxDOUBLE_CLASS .. mxUINT64_CLASS
COMPLEX_FLAG = 0x0800
HEAD_BYTES = 1 << 16  # enough for flags, dims, a name and the data tag
HEADER_BYTES = 128


@dataclass(frozen=True)
class Variable:
    """The head of one variable's ``miMATRIX`` element."""

    name: str
    array_class: int
    complex: bool
    data_type: int | None  # the real data element's type code (None: not reached)
    data_bytes: int


def _element(head: bytes, at: int, order: str) -> tuple[int, int, int]:
    """(type, byte count, offset of its data) of the element at ``at``; small or full."""
    if at + 8 > len(head):
        raise ValueError("ends inside an element's tag")
    (first,) = struct.unpack_from(order + "I", head, at)
    if first >> 16:  # small data element: count in the upper half, data in the next 4 bytes
        count = first >> 16
        if count > 4:
            raise ValueError(f"a small data element claims {count} bytes")
        return first & 0xFFFF, count, at + 4
    (count,) = struct.unpack_from(order + "I", head, at + 4)
    return first, count, at + 8


def _next(at: int, count: int, small: bool) -> int:
    return at + 4 if small else at + count + (-count % 8)


def _matrix_head(head: bytes, order: str) -> Variable:
    kind, count, at = _element(head, 0, order)
    if kind != MI_MATRIX:
        raise ValueError(f"a variable is stored as element type {kind}, not a matrix")
    if count == 0:
        return Variable("", 0, False, None, 0)
    fields = []
    for _ in range(3):  # array flags, dimensions, name
        start = at
        kind, count, data = _element(head, at, order)
        if data + count > len(head):
            raise ValueError("a variable's name or dimensions run past what could be read")
        fields.append((kind, head[data : data + count]))
        at = _next(data, count, small=data == start + 4)
    (flags_kind, flags), (dims_kind, _), (_, name) = fields
    if flags_kind != MI_UINT32 or len(flags) < 4 or dims_kind not in (MI_INT32, MI_UINT32):
        raise ValueError("a variable's array flags or dimensions are malformed")
    (flag_word,) = struct.unpack_from(order + "I", flags)
    array_class = flag_word & 0xFF
    data_type = data_bytes = None
    if array_class in NUMERIC_CLASSES and at + 8 <= len(head):
        data_type, data_bytes, _ = _element(head, at, order)
    return Variable(name.decode("latin-1"), array_class, bool(flag_word & COMPLEX_FLAG),
                    data_type, data_bytes or 0)  # fmt: skip


def _inflated_head(stream, count: int) -> bytes:
    """Up to ``HEAD_BYTES`` inflated from a compressed element of ``count`` bytes."""
    inflater = zlib.decompressobj()
    head, left = b"", count
    while len(head) < HEAD_BYTES and left > 0 and not inflater.eof:
        chunk = stream.read(min(left, 1 << 16))
        left -= len(chunk)
        head += inflater.decompress(chunk, HEAD_BYTES - len(head))
        while len(head) < HEAD_BYTES and inflater.unconsumed_tail:
            head += inflater.decompress(inflater.unconsumed_tail, HEAD_BYTES - len(head))
    return head


def variable_layout(path: Path) -> dict[str, Variable]:
    """Each variable's head, by name, after checking that every element lies in the file."""
    size = path.stat().st_size
    variables: dict[str, Variable] = {}
    with open(path, "rb") as stream:
        header = stream.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or header[126:128] not in (b"IM", b"MI"):
            raise InputError(f"{path.name}: cannot read as MATLAB: no v5 endian indicator")
        order = "<" if header[126:128] == b"IM" else ">"
        offset = HEADER_BYTES
        while offset + 8 <= size:
            stream.seek(offset)
            kind, count = struct.unpack(order + "II", stream.read(8))
            if offset + 8 + count > size:
                raise InputError(f"{path.name}: cannot read as MATLAB: truncated (an element "
                                 "runs past the end of the file)")  # fmt: skip
            try:
                if kind == MI_COMPRESSED:
                    variable = _matrix_head(_inflated_head(stream, count), order)
                elif kind == MI_MATRIX:
                    stream.seek(offset)
                    variable = _matrix_head(stream.read(min(8 + count, HEAD_BYTES)), order)
                else:
                    variable = None
            except (ValueError, zlib.error, struct.error) as exc:
                raise InputError(f"{path.name}: cannot read as MATLAB: {exc}") from None
            if variable is not None:
                variables.setdefault(variable.name, variable)
            offset += 8 + count
    return variables


def check_numeric(layout: dict[str, Variable], names, where: str) -> None:
    """Refuse, before scipy reads them, numeric variables among ``names`` whose real data
    element has a type code scipy would look up unchecked, or that are complex."""
    for name in names:
        variable = layout.get(name)
        if variable is None or variable.array_class not in NUMERIC_CLASSES:
            continue
        if variable.complex:
            raise InputError(f"{where}: variable '{name}' is complex; a cube has real values")
        if variable.data_type not in NUMERIC_TYPES:
            raise InputError(
                f"{where}: variable '{name}' stores its data as MATLAB type "
                f"{variable.data_type}, not a numeric type; the file is damaged"
            )
