"""Codecs that code every band on its own as a grey image (JPEG, JPEG2000 via Pillow).

Each band is scaled to the image's integer range by its own min / max (stored as two
float32 per band, in normalised units). Rate control bisects the one setting shared by
all bands; with an integer setting the bands are then raised one step each, in order,
while the file still fits, so that the rate lands close to the budget.

Payload: the per-band (min, max) float32 pairs, then one codestream per band
(length-prefixed parts).
"""

from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image

from hsinr import container
from hsinr.codecs._layout import PARTS_OVERHEAD, CubeHeader, join_parts, split_parts
from hsinr.codecs._rate import bisect
from hsinr.cube import Cube
from hsinr.limits import DEFAULT, Limits

_SCALES = np.dtype("<f4")
# Pillow's names of the image formats parts may hold, and the mode each must open as
PART_MODES = {("JPEG", np.dtype(np.uint8)): "L", ("JPEG2000", np.dtype(np.uint16)): "I;16"}
_PILLOW_LIMIT = threading.Lock()


@contextmanager
def _pixel_limit(pixels: int):
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


def finite_values(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as float64, refused as corrupt if any is NaN or infinite (checked before
    the conversion: a signalling NaN would make numpy warn)."""
    if not np.all(np.isfinite(values)):
        raise container.CorruptFileError(f"{what} holds NaN or infinite values")
    return np.asarray(values, dtype=np.float64)


class PerBandCodec:
    """Base of the per-band image codecs; subclasses set the image type and the setting."""

    name: str
    codec_id: int
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

    def encode(self, cube: Cube, *, bpppb: float) -> bytes:
        """The smallest-distortion file within ``bpppb`` (or the smallest file reachable)."""
        header = CubeHeader.of(cube)
        values, _ = cube.normalise(np.float64)
        scales, images = self.band_images(values)
        prefix = header.pack()
        fixed = container.OVERHEAD + len(prefix) + scales.nbytes
        target = bpppb * float(np.prod(cube.shape)) / 8

        def parts_at(setting: float) -> list[bytes]:
            return [self.encode_band(images[:, :, b], setting) for b in range(cube.bands)]

        def size_of(parts: list[bytes]) -> int:
            return fixed + sum(len(p) + PARTS_OVERHEAD for p in parts)

        found = bisect(parts_at, size_of, *self.setting_range, target, integer=self.integer_setting)
        parts = found.value
        if self.integer_setting and found.within and found.parameter < self.setting_range[1]:
            better = found.parameter + 1
            size = size_of(parts)
            for band in range(cube.bands):
                upgraded = self.encode_band(images[:, :, band], better)
                if size - len(parts[band]) + len(upgraded) <= target:
                    size += len(upgraded) - len(parts[band])
                    parts[band] = upgraded
        return container.pack(self.codec_id, prefix, scales.tobytes() + join_parts(parts))

    def _read(self, data: bytes, limits: Limits = DEFAULT):
        frame = container.unpack(data)
        if frame.codec_id != self.codec_id:
            raise container.CorruptFileError(f"not a {self.name} file (codec id {frame.codec_id})")
        header, _ = CubeHeader.unpack_from(frame.header, limits)
        bands = header.shape[2]
        scale_bytes = bands * 2 * _SCALES.itemsize
        if len(frame.payload) < scale_bytes:
            raise container.CorruptFileError(f"{self.name} payload too short for its band scales")
        scales = np.frombuffer(frame.payload[:scale_bytes], dtype=_SCALES).reshape(bands, 2)
        scales = finite_values(scales, f"{self.name} band scales")
        return header, scales, split_parts(frame.payload[scale_bytes:], bands)

    def describe(self, data: bytes, limits: Limits = DEFAULT) -> dict[str, object]:
        header, _, parts = self._read(data, limits)
        return {
            **header.describe(),
            "band_bytes_min": min(len(p) for p in parts),
            "band_bytes_max": max(len(p) for p in parts),
        }

    def decode(self, data: bytes, *, limits: Limits = DEFAULT) -> Cube:
        """The cube; every band's codestream is checked before any is decoded, and each
        is written straight into the output (memory: the output and one band)."""
        header, scales, parts = self._read(data, limits)
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
