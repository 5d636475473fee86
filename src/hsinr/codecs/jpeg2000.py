"""Codec ``jpeg2000``: every band on its own as a 16-bit JPEG 2000 codestream (Pillow /
OpenJPEG, irreversible 9/7 wavelet), rate control on OpenJPEG's compression ratio
(``quality_mode="rates"``). See :mod:`hsinr.codecs.per_band`.

Each codestream carries its own main header (about 180 bytes here), so on a small scene
with many bands the headers alone set a floor on the rate; below it the codec writes the
smallest file it can and the true rate is what is reported.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from hsinr.codecs.base import Options
from hsinr.codecs.per_band import PerBandCodec


@dataclass(frozen=True)
class Jpeg2000Options(Options):
    """``jpeg2000`` takes the budget only."""

MAX_RATIO = 4000.0


class Jpeg2000Codec(PerBandCodec):
    name = "jpeg2000"
    summary = "each band a 16-bit JPEG 2000 codestream (Pillow / OpenJPEG); bisection on the ratio"
    Options = Jpeg2000Options
    codec_id = 3
    kind = "JPEG2000"
    image_dtype = np.dtype(np.uint16)
    # setting = -ln(ratio): from the highest ratio (smallest file) to ratio 1
    setting_range = (-math.log(MAX_RATIO), 0.0)

    def encode_band(self, image: np.ndarray, setting: float) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(
            buffer, format="JPEG2000", quality_mode="rates",
            quality_layers=[math.exp(-setting)], irreversible=True, no_jp2=True,
        )  # fmt: skip
        return buffer.getvalue()
