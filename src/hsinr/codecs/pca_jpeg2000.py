"""Codec ``pca-jpeg2000`` (after Du & Fowler, 2007): spectral PCA to k components, each
component image coded as a 16-bit JPEG 2000 codestream (Pillow / OpenJPEG).

Within a tile, all components share one scale to 16 bits (per-component offsets), and
every component is coded to one PSNR target (OpenJPEG's ``quality_mode="dB"``): equal
distortion in every component, the reverse water-filling allocation that minimises the
total MSE for a rate. The setting is that target against a peak of 1 in normalised units,
the same distortion in every tile (a tile's target against its own 16-bit peak is the
setting plus ``20 log10(65535 / scale)``). Rate control (see :mod:`hsinr.codecs.pca`)
bisects the setting for each k.

Body: common scale (float32), k offsets (float32), then k length-prefixed codestreams.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import numpy as np

from hsinr import container
from hsinr.codecs.base import Run
from hsinr.codecs.header import finite_values
from hsinr.codecs.parts import decode_image, join_parts, split_parts
from hsinr.codecs.pca import PcaCodec, PcaOptions
from hsinr.limits import Limits

_SCALE = struct.Struct("<f")
LEVELS = 65535
MIN_DB, MAX_DB = 1.0, 150.0  # the PSNR targets OpenJPEG is given


@dataclass(frozen=True)
class PcaJpeg2000Options(PcaOptions):
    """``pca-jpeg2000``'s options: the budget and k."""


class PcaJpeg2000Codec(PcaCodec):
    name = "pca-jpeg2000"
    codec_id = 5
    summary = ("spectral PCA to k components, each a 16-bit JPEG 2000 codestream at one shared "
               "PSNR target (Du & Fowler 2007); k and the target searched")  # fmt: skip
    Options = PcaJpeg2000Options
    setting_range = (-10.0, 110.0)  # the per-component PSNR target, peak 1 (normalised)

    def encode_body(self, scores: np.ndarray, setting: float, run: Run) -> bytes:
        """The components coded in ``run.jobs`` threads (the same bytes in any number)."""
        from PIL import Image

        low = scores.min(axis=(0, 1)).astype(np.float32)
        spans = scores.max(axis=(0, 1)) - low
        scale = np.float32(LEVELS / max(float(spans.max()), 1e-12))
        images = np.clip(np.rint((scores - low) * float(scale)), 0, LEVELS).astype(np.uint16)

        target = setting + 20 * math.log10(LEVELS / float(scale))  # against this tile's peak
        target = min(max(target, MIN_DB), MAX_DB)

        def coded(component: int) -> bytes:
            buffer = io.BytesIO()
            Image.fromarray(images[:, :, component]).save(
                buffer, format="JPEG2000", quality_mode="dB", quality_layers=[target],
                irreversible=True, no_jp2=True,
            )  # fmt: skip
            return buffer.getvalue()

        parts = run.map(coded, range(scores.shape[2]))
        return _SCALE.pack(scale) + low.astype("<f4").tobytes() + join_parts(parts)

    def decode_body(self, body: bytes, shape: tuple[int, int], k: int,
                    limits: Limits) -> np.ndarray:  # fmt: skip
        fixed = _SCALE.size + 4 * k
        if len(body) < fixed:
            raise container.CorruptFileError("pca-jpeg2000 body too short")
        (scale,) = _SCALE.unpack_from(body)
        if not (np.isfinite(scale) and scale > 0):
            raise container.CorruptFileError("pca-jpeg2000 body holds an invalid scale")
        low = finite_values(np.frombuffer(body[_SCALE.size : fixed], dtype="<f4"),
                            "pca-jpeg2000 offsets")  # fmt: skip
        parts = split_parts(body[fixed:], k)
        for part in parts:
            decode_image(part, shape, "JPEG2000", np.dtype(np.uint16), check_only=True)
        scores = np.empty((*shape, k), dtype=np.float64)
        for component, part in enumerate(parts):
            image = decode_image(part, shape, "JPEG2000", np.dtype(np.uint16))
            scores[:, :, component] = image.astype(np.float64) / scale + low[component]
        return scores
