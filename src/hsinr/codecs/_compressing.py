"""The ``encode`` of codecs whose ``compress`` returns an encoding record.

Such a codec defines ``compress(cube, *, bpppb=None, ...)`` returning an object with the
file in ``.data`` (and whatever else the encoder measured); subclassing
:class:`CompressingCodec` gives it ``encode(cube, *, bpppb, **options) -> bytes`` whose
signature is ``compress``'s, so that option checking (``hsinr._options``) sees exactly
the options ``compress`` takes.
"""

from __future__ import annotations

import inspect


class CompressingCodec:
    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)

        def encode(self, cube, *, bpppb: float | None = None, **options) -> bytes:
            """The compressed file of ``cube`` (see :meth:`compress` for the options)."""
            return self.compress(cube, bpppb=bpppb, **options).data

        encode.__signature__ = inspect.signature(cls.compress)  # type: ignore[attr-defined]
        cls.encode = encode
