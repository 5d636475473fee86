"""Codecs that code every band on its own as a grey image (JPEG, JPEG2000 via Pillow).

Each band is scaled to the image's integer range by its own min / max (stored as two
float32 per band, in normalised units). Rate control bisects the one setting shared by
all bands; with an integer setting the bands are then raised one step each, in order,
while the file still fits, so that the rate lands close to the budget.

Payload: the per-band (min, max) float32 pairs, then one codestream per band
(length-prefixed parts).
"""

from __future__ import annotations

import numpy as np

from hsinr import container
from hsinr.codecs.base import Codec, Encoding, Options, Run, Window
from hsinr.codecs.header import CubeHeader, finite_values
from hsinr.codecs.parts import PARTS_OVERHEAD, decode_image, join_parts, split_parts
from hsinr.cube import Cube
from hsinr.limits import DEFAULT, Limits
from hsinr.ratecontrol import bisect, budget_bytes

_SCALES = np.dtype("<f4")
class PerBandCodec(Codec):
    """Base of the per-band image codecs; subclasses set the image type and the setting.
    Bands are coded in ``run.jobs`` threads (the same bytes in any number)."""

    kind: str  # Pillow's name of the parts' image format
    image_dtype: np.dtype  # uint8 or uint16
    setting_range: tuple[float, float]  # the file grows with the setting
    integer_setting: bool = False

    def encode_band(self, image: np.ndarray, setting: float) -> bytes:
        raise NotImplementedError

    @property
    def levels(self) -> int:
        return int(np.iinfo(self.image_dtype).max)

    def band_images(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-band (min, max) and the bands scaled to the image's integer range."""
        low = values.min(axis=(0, 1)).astype(_SCALES)
        high = values.max(axis=(0, 1)).astype(_SCALES)
        span = np.where(high > low, high - low, 1.0)
        scaled = np.rint((values - low) / span * self.levels)
        return np.stack([low, high], axis=1), scaled.astype(self.image_dtype)

    def _encode(self, cube: Cube, options: Options, run: Run) -> Encoding:
        """The smallest-distortion file within the budget (or the smallest file reachable)."""
        header = CubeHeader.of(cube)
        values, _ = cube.normalise(np.float64)
        scales, images = self.band_images(values)
        prefix = header.pack()
        fixed = container.OVERHEAD + len(prefix) + scales.nbytes
        target = budget_bytes(options.bpppb, cube.shape)

        def parts_at(setting: float) -> list[bytes]:
            return run.map(lambda b: self.encode_band(images[:, :, b], setting), range(cube.bands))

        def size_of(parts: list[bytes]) -> int:
            return fixed + sum(len(p) + PARTS_OVERHEAD for p in parts)

        found = bisect(parts_at, size_of, *self.setting_range, target, integer=self.integer_setting)
        parts = found.value
        if self.integer_setting and found.within and found.parameter < self.setting_range[1]:
            upgrades = parts_at(found.parameter + 1)  # each band one step up, in order, if it fits
            size = size_of(parts)
            for band, upgraded in enumerate(upgrades):
                if size - len(parts[band]) + len(upgraded) <= target:
                    size += len(upgraded) - len(parts[band])
                    parts[band] = upgraded
        data = container.pack(self.codec_id, prefix, scales.tobytes() + join_parts(parts))
        return self.encoding(data, cube, options, details={"setting": found.parameter})

    def _read(self, data: bytes, limits: Limits = DEFAULT):
        frame = self.frame(data)
        header, _ = CubeHeader.unpack_from(frame.header, limits)
        bands = header.shape[2]
        scale_bytes = bands * 2 * _SCALES.itemsize
        if len(frame.payload) < scale_bytes:
            raise container.CorruptFileError(f"{self.name} payload too short for its band scales")
        scales = np.frombuffer(frame.payload[:scale_bytes], dtype=_SCALES).reshape(bands, 2)
        scales = finite_values(scales, f"{self.name} band scales")
        return header, scales, split_parts(frame.payload[scale_bytes:], bands)

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        header, _, parts = self._read(data, (run or Run()).limits)
        return {
            **header.describe(),
            "band_bytes_min": min(len(p) for p in parts),
            "band_bytes_max": max(len(p) for p in parts),
        }

    def _decode(self, data: bytes, window: Window | None, run: Run) -> Cube:
        """The cube; every band's codestream is checked before any is decoded, and each
        is written straight into the output (memory: the output and one band)."""
        header, scales, parts = self._read(data, run.limits)
        rows, cols, bands = header.shape
        for part in parts:
            decode_image(part, (rows, cols), self.kind, self.image_dtype, check_only=True)
        out = np.empty((rows, cols, bands), dtype=header.dtype)
        for band, part in enumerate(parts):
            image = decode_image(part, (rows, cols), self.kind, self.image_dtype)
            low, high = scales[band]
            values = low + image.astype(np.float64) / self.levels * (high - low)
            out[:, :, band] = header.scale.invert(np.clip(values, 0.0, 1.0), header.dtype)
        return Cube(out, name="decoded")
