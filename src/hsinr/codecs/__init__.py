"""Every compression method behind one small interface, found by name or by file.

>>> from hsinr import codecs
>>> codecs.names()
['siren', 'jpeg', 'jpeg2000', 'pca-dct', 'pca-jpeg2000']
>>> codec = codecs.get("siren")            # encode(cube, bpppb=...) -> bytes
>>> # cube = codecs.decode(data)            # any hsinr file, whichever codec wrote it

A new codec is one module plus one line in ``_REGISTRY``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hsinr import container
from hsinr.codecs.jpeg import JpegCodec
from hsinr.codecs.jpeg2000 import Jpeg2000Codec
from hsinr.codecs.pca_dct import PcaDctCodec
from hsinr.codecs.pca_jpeg2000 import PcaJpeg2000Codec
from hsinr.codecs.siren import SirenCodec
from hsinr.cube import Cube
from hsinr.errors import InputError


@runtime_checkable
class Codec(Protocol):
    """The face every codec shows: ``encode`` aims at a bit budget, ``decode`` needs only
    the bytes. The true rate is always measured from ``len(bytes)``."""

    name: str
    codec_id: int

    def encode(self, cube: Cube, *, bpppb: float, **options) -> bytes: ...

    def decode(self, data: bytes) -> Cube: ...

    def describe(self, data: bytes) -> dict[str, object]: ...


_REGISTRY: dict[str, type] = {
    codec.name: codec
    for codec in (SirenCodec, JpegCodec, Jpeg2000Codec, PcaDctCodec, PcaJpeg2000Codec)
}


def names() -> list[str]:
    """The registered codec names."""
    return list(_REGISTRY)


def get(name: str) -> Codec:
    """A codec by name."""
    if name not in _REGISTRY:
        raise InputError(f"unknown codec {name!r}; available: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]()


def for_file(data: bytes) -> Codec:
    """The codec that wrote ``data`` (after the container's checks)."""
    frame = container.unpack(data)
    for codec_class in _REGISTRY.values():
        if codec_class.codec_id == frame.codec_id:
            return codec_class()
    raise container.CorruptFileError(f"unknown codec id {frame.codec_id} in the file")


def decode(data: bytes, **options) -> Cube:
    """Decode any hsinr file."""
    return for_file(data).decode(data, **options)


__all__ = ["Codec", "SirenCodec", "decode", "for_file", "get", "names"]
