"""Codecs that code every band on its own as a grey image (JPEG, JPEG2000 via Pillow).

Each band is scaled to the image's integer range by its own min / max (stored as two
float32 per band, in normalised units). Rate control bisects the one setting shared by
all bands; with an integer setting the bands are then raised one step each, in order,
while the file still fits, so that the rate lands close to the budget.

Payload: the per-band (min, max) float32 pairs, then one codestream per band
(length-prefixed parts).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator

import numpy as np

from hsinr import container
from hsinr.codecs.base import Codec, Encoding, Options, Piece, Run, Stream, Window
from hsinr.codecs.header import CubeHeader, finite_values
from hsinr.codecs.parts import PARTS_OVERHEAD, decode_image, join_parts, split_parts
from hsinr.cube import Cube, Normalisation
from hsinr.limits import DEFAULT, Limits
from hsinr.ratecontrol import bisect, budget_bytes

_SCALES = np.dtype("<f4")
SEARCH_VALUES = 2**26  # larger cubes search the setting on a sample of bands
SEARCH_BANDS = 16
UNDER = 0.97  # a file from the sample's setting this far under the budget is corrected
ROW_BLOCK_BYTES = 64 * 2**20  # values read at once when a lazy cube is spooled
SPOOL_BYTES = 2**28  # a decoded window larger than this goes through a temporary file


def _spread(count: int, wanted: int) -> list[int]:
    """``wanted`` indices spread evenly over ``range(count)`` (all, if fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


class BandImages:
    """A cube's bands as a per-band codec's integer images, one band at a time, each band
    scaled by its own (min, max) in normalised units (``ranges``, float32 as stored).

    A cube in memory is sliced band by band; a lazy cube is read once, a block of rows at
    a time, into a band-sequential spool of the images in the temporary folder (its size:
    the images', bands x rows x cols of uint8 / uint16), removed on exit."""

    def __init__(self, codec: PerBandCodec, cube: Cube) -> None:
        self.codec, self.cube = codec, cube
        self.scale, lows, highs = _band_ranges(cube)
        self.ranges = np.stack([lows, highs], axis=1)
        self._low, self._span = lows, np.where(highs > lows, highs - lows, 1.0)
        self._spool = None

    def __enter__(self) -> BandImages:
        if self.cube.lazy:
            self._spool = tempfile.NamedTemporaryFile(prefix="hsinr-bands-", suffix=".raw")
            self._write_spool()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None:
            self._spool.close()

    def _scaled(self, values: np.ndarray, low, span) -> np.ndarray:
        return np.rint((values - low) / span * self.codec.levels).astype(self.codec.image_dtype)

    def _write_spool(self) -> None:
        rows, cols, bands = self.cube.shape
        item = self.codec.image_dtype.itemsize
        descriptor = self._spool.fileno()
        os.ftruncate(descriptor, rows * cols * bands * item)
        for block in self.cube.data.row_blocks(ROW_BLOCK_BYTES):
            values = self.scale.apply(self.cube.read(block), np.float64)
            images = self._scaled(values, self._low, self._span)
            for band in range(bands):
                start = (band * rows + block.start) * cols * item
                os.pwrite(descriptor, np.ascontiguousarray(images[:, :, band]).tobytes(), start)

    def image(self, band: int) -> np.ndarray:
        """Band ``band`` as the codec's (rows, cols) integer image."""
        rows, cols, _ = self.cube.shape
        if self._spool is None:
            values = self.scale.apply(self.cube.data[:, :, band], np.float64)
            return self._scaled(values, self._low[band], self._span[band])
        item = self.codec.image_dtype.itemsize
        data = os.pread(self._spool.fileno(), rows * cols * item, band * rows * cols * item)
        return np.frombuffer(data, dtype=self.codec.image_dtype).reshape(rows, cols)


def _band_ranges(cube: Cube) -> tuple[Normalisation, np.ndarray, np.ndarray]:
    """The cube's global normalisation, and each band's (min, max) in normalised units
    as float32 (a lazy cube read a block of rows at a time)."""
    if cube.lazy:
        lows = highs = None
        for rows in cube.data.row_blocks(ROW_BLOCK_BYTES):
            block = cube.read(rows)
            low, high = block.min(axis=(0, 1)), block.max(axis=(0, 1))
            lows = low if lows is None else np.minimum(lows, low)
            highs = high if highs is None else np.maximum(highs, high)
    else:
        lows, highs = cube.data.min(axis=(0, 1)), cube.data.max(axis=(0, 1))
    scale = Normalisation(float(lows.min()), float(highs.max()))
    return (scale, scale.apply(lows, np.float64).astype(_SCALES),
            scale.apply(highs, np.float64).astype(_SCALES))
class PerBandCodec(Codec):
    """Base of the per-band image codecs; subclasses set the image type and the setting.
    Bands are coded in ``run.jobs`` threads (the same bytes in any number)."""

    kind: str  # Pillow's name of the parts' image format
    image_dtype: np.dtype  # uint8 or uint16
    setting_range: tuple[float, float]  # the file grows with the setting
    integer_setting: bool = False
    encodes_in_parts = True  # a lazy cube is coded band by band (see BandImages)
    decodes_in_parts = True  # a large window through a band-sequential temporary file

    def encode_band(self, image: np.ndarray, setting: float) -> bytes:
        raise NotImplementedError

    @property
    def levels(self) -> int:
        return int(np.iinfo(self.image_dtype).max)

    def _encode(self, cube: Cube, options: Options, run: Run) -> Encoding:
        """The smallest-distortion file within the budget (or the smallest file reachable).

        A cube of more than ``SEARCH_VALUES`` values searches the setting on
        ``SEARCH_BANDS`` bands spread over the spectrum (their size scaled to all bands),
        then codes every band at it, stepping down while the file is over the budget."""
        with BandImages(self, cube) as images:
            header = CubeHeader(cube.shape, cube.dtype, images.scale)
            prefix = header.pack()
            fixed = container.OVERHEAD + len(prefix) + images.ranges.nbytes
            target = budget_bytes(options.bpppb, cube.shape)
            bands = cube.bands
            searched = _spread(bands, SEARCH_BANDS) if cube.nbytes and math.prod(
                cube.shape) > SEARCH_VALUES else list(range(bands))  # fmt: skip

            def parts_at(setting: float, which=searched) -> list[bytes]:
                return run.map(lambda b: self.encode_band(images.image(b), setting), which)

            def size_of(parts: list[bytes]) -> float:
                coded = sum(len(p) + PARTS_OVERHEAD for p in parts)
                return fixed + coded * bands / len(parts)

            found = bisect(parts_at, size_of, *self.setting_range, target,
                           integer=self.integer_setting)  # fmt: skip
            setting, parts = found.parameter, found.value
            if len(searched) < bands:  # every band at the setting, lower while over
                setting, parts = self._all_bands(parts_at, size_of, setting, target, bands)
                if setting == found.parameter and size_of(parts) < UNDER * target:
                    setting, parts = self._corrected(parts_at, size_of, found, parts, target,
                                                     bands)  # fmt: skip
            within = size_of(parts) <= target
            if self.integer_setting and within and setting < self.setting_range[1]:
                parts = self._upgraded(parts, parts_at(setting + 1, range(bands)), size_of,
                                       target)  # fmt: skip
        data = container.pack(self.codec_id, prefix, images.ranges.tobytes() + join_parts(parts))
        return self.encoding(data, cube, options, details={"setting": setting})

    def _corrected(self, parts_at, size_of, found, parts: list[bytes], target: float,
                   bands: int):  # fmt: skip
        """The sample of bands misjudged the scene (all bands came out more than 3 %
        under the budget): the setting searched again on the sample with its sizes
        scaled by the measured ratio, every band coded at it; the larger of the two files
        within the budget."""
        bias = size_of(parts) / max(found.size, 1)
        again = bisect(parts_at, lambda value: size_of(value) * bias, *self.setting_range,
                       target, integer=self.integer_setting)  # fmt: skip
        if again.parameter == found.parameter:
            return found.parameter, parts
        setting, retried = self._all_bands(parts_at, size_of, again.parameter, target, bands)
        if size_of(parts) < size_of(retried) <= target:
            return setting, retried
        return found.parameter, parts

    def _all_bands(self, parts_at, size_of, setting: float, target: float, bands: int):
        low = self.setting_range[0]
        while True:
            parts = parts_at(setting, range(bands))
            if size_of(parts) <= target or setting <= low:
                return setting, parts
            setting = max(low, setting - 1 if self.integer_setting else setting - 0.1 * abs(
                self.setting_range[1] - low))  # fmt: skip

    @staticmethod
    def _upgraded(parts: list[bytes], upgrades: list[bytes], size_of, target: float) -> list[bytes]:
        """Each band one step up, in order, while the file still fits."""
        parts = list(parts)
        size = size_of(parts)
        for band, upgraded in enumerate(upgrades):
            if size - len(parts[band]) + len(upgraded) <= target:
                size += len(upgraded) - len(parts[band])
                parts[band] = upgraded
        return parts

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

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        """The window's bands, each decoded whole (a band is one image) and cut to the
        window; every codestream the window needs is checked before any is decoded. A
        window of more than ``SPOOL_BYTES`` goes band by band to a temporary file
        (band-sequential) and comes back a block of rows at a time, so memory holds one
        band and one block, not the window."""
        header, scales, parts = self._read(data, run.limits)
        rows, cols, bands = window.checked(header.shape)
        for band in bands:
            decode_image(parts[band], header.shape[:2], self.kind, self.image_dtype,
                         check_only=True)  # fmt: skip
        shape = (len(rows), len(cols), len(bands))
        return Stream(shape, header.dtype, self._pieces(header, scales, parts, rows, cols, bands))

    def _band(self, header: CubeHeader, scales: np.ndarray, part: bytes, band: int) -> np.ndarray:
        image = decode_image(part, header.shape[:2], self.kind, self.image_dtype)
        low, high = scales[band]
        values = low + image.astype(np.float64) / self.levels * (high - low)
        return header.scale.invert(np.clip(values, 0.0, 1.0), header.dtype)

    def _pieces(self, header, scales, parts, rows: range, cols: range,
                bands: range) -> Iterator[Piece]:  # fmt: skip
        shape = (len(rows), len(cols), len(bands))
        cut = (slice(rows.start, rows.stop), slice(cols.start, cols.stop))
        if math.prod(shape) * header.dtype.itemsize <= SPOOL_BYTES:
            out = np.empty(shape, dtype=header.dtype)
            for index, band in enumerate(bands):
                out[:, :, index] = self._band(header, scales, parts[band], band)[cut]
            yield Piece(range(shape[0]), range(shape[1]), out)
            return
        item, (height, width, count) = header.dtype.itemsize, shape
        plane = height * width * item
        with tempfile.TemporaryFile(prefix="hsinr-decoded-") as spool:
            descriptor = spool.fileno()  # read and written, not mapped: pages not held
            for index, band in enumerate(bands):
                values = np.ascontiguousarray(self._band(header, scales, parts[band], band)[cut])
                os.pwrite(descriptor, values.tobytes(), index * plane)
            step = max(1, ROW_BLOCK_BYTES // (width * count * item))
            for start in range(0, height, step):
                block = range(start, min(start + step, height))
                values = np.empty((count, len(block), width), dtype=header.dtype)
                for index in range(count):
                    raw = os.pread(descriptor, len(block) * width * item,
                                   index * plane + start * width * item)  # fmt: skip
                    values[index] = np.frombuffer(raw, header.dtype).reshape(len(block), width)
                yield Piece(block, range(width), np.ascontiguousarray(values.transpose(1, 2, 0)))
