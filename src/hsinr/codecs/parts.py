"""The parts of a payload: length-prefixed byte strings (a band's or a component's image
codestream), and the checked decoding of an image part (docs/FORMAT.md, "Decoding
safety": a part must be the expected format's one grey channel at the expected size
and depth before Pillow decodes its pixels).

>>> split_parts(join_parts([b"ab", b"", b"c"]), 3)
[b'ab', b'', b'c']
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from contextlib import contextmanager

import numpy as np

from hsinr import container

_LENGTH = struct.Struct("<I")
PARTS_OVERHEAD = _LENGTH.size  # bytes each part costs besides itself
# Pillow's names of the image formats parts may hold, and the mode each must open as
PART_MODES = {("JPEG", np.dtype(np.uint8)): "L", ("JPEG2000", np.dtype(np.uint16)): "I;16"}
_PILLOW_LIMIT = threading.Lock()


@contextmanager
def _pixel_limit(pixels: int):
    from PIL import Image

    """Pillow's decompression-bomb limit set to the part's expected size while it is
    opened (Pillow refuses parts claiming over twice as many pixels before decoding)."""
    with _PILLOW_LIMIT, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max(pixels, 1)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def decode_image(data: bytes, shape: tuple[int, int], image_format: str,
                 dtype: np.dtype, *, check_only: bool = False) -> np.ndarray | None:  # fmt: skip
    """A part's image, checked before its pixels are decoded: it must be one
    ``image_format`` codestream (Pillow's name, no other parser is tried), of the one
    grey mode that ``dtype`` gives, ``shape`` (rows, cols) in size, and for JPEG
    sequential (a progressive JPEG can take many scans). ``check_only`` stops there."""
    from PIL import Image

    mode = PART_MODES[image_format, np.dtype(dtype)]
    rows, cols = shape
    try:
        with _pixel_limit(rows * cols), Image.open(io.BytesIO(data),
                                                   formats=[image_format]) as image:  # fmt: skip
            found = f"{image.format} {image.mode} {image.size[1]} x {image.size[0]}"
            if (image.format, image.mode, image.size) != (image_format, mode, (cols, rows)):
                raise container.CorruptFileError(
                    f"a part is {found}, expected {image_format} {mode} {rows} x {cols}"
                )
            if image.info.get("progressive"):
                raise container.CorruptFileError("a JPEG part is progressive, expected sequential")
            if check_only:
                return None
            array = np.asarray(image)
    except container.CorruptFileError:
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError,
            IndexError, TypeError, ZeroDivisionError) as exc:  # fmt: skip
        raise container.CorruptFileError(f"a {image_format} part cannot be decoded: {exc}") from exc
    if array.shape != (rows, cols) or array.dtype != dtype:
        raise container.CorruptFileError(
            f"a {image_format} part decodes to {array.dtype} {array.shape}, "
            f"expected {dtype} {shape}"
        )
    return array


def join_parts(parts: list[bytes]) -> bytes:
    """Concatenate byte strings, each preceded by its length."""
    return b"".join(_LENGTH.pack(len(part)) + part for part in parts)


def split_parts(data: bytes, count: int) -> list[bytes]:
    """The ``count`` parts of :func:`join_parts`; the lengths must add up exactly."""
    parts, offset = [], 0
    for _ in range(count):
        if offset + _LENGTH.size > len(data):
            raise container.CorruptFileError("payload ends before its last part")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if offset + length > len(data):
            raise container.CorruptFileError("a part runs past the end of the payload")
        parts.append(bytes(data[offset : offset + length]))
        offset += length
    if offset != len(data):
        raise container.CorruptFileError("payload has bytes after its last part")
    return parts

