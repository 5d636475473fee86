"""Every compression method behind one small interface, found by name or by file.

>>> from hsinr import codecs
>>> codecs.names()
['siren', 'jpeg', 'jpeg2000', 'pca-dct', 'pca-jpeg2000', 'meta', 'latent']
>>> codec = codecs.get("siren")            # encode(cube, bpppb=...) -> bytes
>>> # cube = codecs.decode(data)            # any hsinr file, whichever codec wrote it

A new codec is one module plus one line in ``_REGISTRY``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from hsinr import container
from hsinr._options import check_options, keyword_names
from hsinr.codecs.jpeg import JpegCodec
from hsinr.codecs.jpeg2000 import Jpeg2000Codec
from hsinr.codecs.latent import LatentCodec
from hsinr.codecs.meta import MetaCodec
from hsinr.codecs.pca_dct import PcaDctCodec
from hsinr.codecs.pca_jpeg2000 import PcaJpeg2000Codec
from hsinr.codecs.siren import SirenCodec
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, Limits


@runtime_checkable
class Codec(Protocol):
    """The face every codec shows: ``encode`` aims at a bit budget, ``decode`` needs only
    the bytes. The true rate is always measured from ``len(bytes)``."""

    name: str
    codec_id: int

    def encode(self, cube: Cube, *, bpppb: float, **options) -> bytes: ...

    def decode(self, data: bytes, *, limits: Limits = DEFAULT) -> Cube: ...

    def describe(self, data: bytes, limits: Limits = DEFAULT) -> dict[str, object]: ...


_REGISTRY: dict[str, type] = {
    codec.name: codec
    for codec in (
        SirenCodec,
        JpegCodec,
        Jpeg2000Codec,
        PcaDctCodec,
        PcaJpeg2000Codec,
        MetaCodec,
        LatentCodec,
    )
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


def encode(codec: Codec, cube: Cube, *, bpppb: float | None, **options) -> bytes:
    """``codec.encode`` after checking that it takes every option given.

    ``seed``, ``device`` and ``progress`` are passed only to codecs that take them.
    """
    accepted = keyword_names(codec.encode)
    options = {
        key: value
        for key, value in options.items()
        if key in accepted or key not in GENERIC_OPTIONS
    }
    check_options(codec.encode, options, f"codec {codec.name}")
    return codec.encode(cube, bpppb=bpppb, **options)


GENERIC_OPTIONS = frozenset({"seed", "device", "progress"})
_FULL = slice(None)


def decode(
    data: bytes,
    *,
    rows: slice = _FULL,
    cols: slice = _FULL,
    bands: slice = _FULL,
    device: str = "cpu",
    base: object = None,
    limits: Limits = DEFAULT,
) -> Cube:
    """Decode any hsinr file, or a window of rows / cols and a range of bands of it.

    Codecs that decode a window on their own do so; for the others the whole cube is
    decoded and sliced. ``base`` is the base network (a path) for ``meta`` files; None
    means the shipped one; other codecs ignore it. What the file may make the decoder
    allocate and compute is checked against ``limits`` (:mod:`hsinr.limits`) first.
    """
    codec = for_file(data)
    accepted = keyword_names(codec.decode)
    extra: dict[str, object] = {"limits": limits}
    if "device" in accepted:
        extra["device"] = device
    if "base" in accepted:
        extra["base"] = base
    if "rows" in accepted:
        return codec.decode(data, rows=rows, cols=cols, bands=bands, **extra)
    cube = codec.decode(data, **extra)
    if (rows, cols, bands) == (_FULL, _FULL, _FULL):
        return cube
    return cube.replace(data=np.ascontiguousarray(cube.data[rows, cols, bands]))


__all__ = ["Codec", "MetaCodec", "SirenCodec", "decode", "encode", "for_file", "get", "names"]
