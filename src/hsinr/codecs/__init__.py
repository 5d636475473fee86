"""Every compression method behind one face (:class:`~hsinr.codecs.base.Codec`), found by
name or by the file it wrote.

>>> from hsinr import codecs
>>> codecs.names()
['siren', 'jpeg', 'jpeg2000', 'pca-dct', 'pca-jpeg2000', 'meta', 'latent']
>>> codecs.get("latent").options(bpppb=0.1).set()   # the options that differ from defaults
{'bpppb': 0.1}

A new codec is one module (a :class:`Codec` subclass with its ``Options``) and one line in
``_CODECS`` (or :func:`register` at run time); the command line, ``hsinr bench`` and the
contract tests then know it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hsinr import container
from hsinr.codecs.base import (
    BudgetWarning,
    Codec,
    Encoding,
    Options,
    OptionSpec,
    Run,
    Window,
    option,
)
from hsinr.codecs.jpeg import JpegCodec
from hsinr.codecs.jpeg2000 import Jpeg2000Codec
from hsinr.codecs.latent import LatentCodec
from hsinr.codecs.meta import MetaCodec
from hsinr.codecs.pca_dct import PcaDctCodec
from hsinr.codecs.pca_jpeg2000 import PcaJpeg2000Codec
from hsinr.codecs.siren import SirenCodec
from hsinr.cube import Cube
from hsinr.errors import InputError

_CODECS: tuple[type[Codec], ...] = (
    SirenCodec,
    JpegCodec,
    Jpeg2000Codec,
    PcaDctCodec,
    PcaJpeg2000Codec,
    MetaCodec,
    LatentCodec,
)
_REGISTRY: dict[str, type[Codec]] = {codec.name: codec for codec in _CODECS}


def register(codec: type[Codec]) -> type[Codec]:
    """Add a codec (a :class:`Codec` subclass); its name and container id must be new."""
    if codec.name in _REGISTRY:
        raise ValueError(f"a codec named {codec.name!r} is registered already")
    if any(known.codec_id == codec.codec_id for known in _REGISTRY.values()):
        raise ValueError(f"codec id {codec.codec_id} is taken")
    _REGISTRY[codec.name] = codec
    return codec


def unregister(name: str) -> None:
    """Remove a codec added by :func:`register`."""
    _REGISTRY.pop(name, None)


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


def encode(
    name: str, cube: Cube, options: Options | Mapping[str, Any] | None = None,
    run: Run | None = None,
) -> Encoding:  # fmt: skip
    """``get(name).encode(cube, options, run)``; ``cube`` may be an ``xarray.DataArray``
    (converted by :func:`hsinr.xarray.from_xarray`)."""
    if not isinstance(cube, Cube) and hasattr(cube, "dims"):
        from hsinr.xarray import from_xarray

        cube = from_xarray(cube)
    return get(name).encode(cube, options, run)


def decode(data: bytes, window: Window | None = None, run: Run | None = None) -> Cube:
    """Decode any hsinr file, or a window of it, whichever codec wrote it."""
    return for_file(data).decode(data, window, run)


__all__ = [
    "BudgetWarning",
    "Codec",
    "Encoding",
    "OptionSpec",
    "Options",
    "Run",
    "Window",
    "decode",
    "encode",
    "for_file",
    "get",
    "names",
    "option",
    "register",
    "unregister",
]
