"""Codec ``jpeg``: every band on its own as an 8-bit baseline JPEG (Pillow / libjpeg),
with optimised Huffman tables; rate control on the quality (1-95). See
:mod:`hsinr.codecs.per_band`."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from hsinr.codecs.base import Options
from hsinr.codecs.per_band import PerBandCodec


@dataclass(frozen=True)
class JpegOptions(Options):
    """``jpeg`` takes the budget only."""


class JpegCodec(PerBandCodec):
    name = "jpeg"
    summary = "each band an 8-bit baseline JPEG (Pillow / libjpeg); bisection on the quality"
    Options = JpegOptions
    codec_id = 2
    kind = "JPEG"
    image_dtype = np.dtype(np.uint8)
    setting_range = (1.0, 95.0)
    integer_setting = True

    def encode_band(self, image: np.ndarray, setting: float) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(setting), optimize=True)
        return buffer.getvalue()
