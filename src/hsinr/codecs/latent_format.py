"""The bytes of a ``latent`` file (docs/FORMAT.md): headers, the coded basis, the coded
tiles, and the one decoder of each; the encoder is :mod:`hsinr.codecs.latent_encoder`.

Version 2 (container version 2, written since tiles came): the codec header holds the
cube header, the wavelet levels, k, the latent step q and the tile size; chunk 0 holds
the spectral basis (mean + k rows, integers times per-row steps, first differences along
the bands coded under one Laplace scale per row); chunk 1 + i holds tile i of the
:class:`~hsinr.tiles.TileGrid`: its reconstruction offset, its symbol bound, its
latents' entropy model (a scale code per component and subband, a context offset per
bucket) and the ANS words of its k latent images. A tile decodes on its own (with the
basis), so a window needs only the tiles it touches.

Version 1 (container version 1, one tile, one ANS stream for basis and latents) is still
decoded: :func:`unpack_v1`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from hsinr import container
from hsinr.codecs.header import CUBE_HEADER, CubeHeader
from hsinr.entropy.context import (
    BUCKETS,
    Neighbours,
    bucket_of,
    coded_codes,
    fit_offsets,
    scale_table,
)
from hsinr.entropy.laplace import (
    MAX_BOUND,
    LaplaceDecoder,
    bits_by_code,
    code_bits,
    encode_symbols,
    fit_scale_codes,
    laplace_bits,
    min_cost,
    scale_of,
)
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, ROW_STEP_OPERATIONS, Limits
from hsinr.tiles import Tile, TileGrid
from hsinr.transforms.wavelet import MAX_LEVELS, Wavelet2D

CODEC_ID = 7
_HEADER_V1 = struct.Struct("<BHfB")  # levels, k, step, offset code
_HEADER = struct.Struct("<BHfH")  # levels, k, step, tile size
_BOUND = struct.Struct("<I")  # version 1: the symbol bound
_EXPONENT = struct.Struct("<B")  # version 2: e, the symbols' bound being 2^e - 1
HEADER_BYTES = CUBE_HEADER.size + _HEADER.size
_TILE = struct.Struct("<BB")  # offset code, bound exponent
MAX_EXPONENT = (MAX_BOUND - 1).bit_length()
TILE_OPERATIONS = 2**21  # the fixed cost of decoding a tile (about a millisecond here)


def _corrupt(message: str) -> container.CorruptFileError:
    return container.CorruptFileError(message)


@dataclass(frozen=True)
class LatentHeader:
    """The codec header's fields after the cube header (version 2; a version-1 header
    reads as one tile the size of the cube, with its one offset code)."""

    cube: CubeHeader
    levels: int
    components: int
    step: float
    tile_rows: int
    tile_cols: int
    offset_code: int = 0  # version 1 only: the file's one reconstruction offset

    @property
    def grid(self) -> TileGrid:
        rows, cols, _ = self.cube.shape
        return TileGrid(rows, cols, self.tile_rows, self.tile_cols)

    def pack(self) -> bytes:
        return self.cube.pack() + _HEADER.pack(self.levels, self.components, self.step,
                                               self.tile_rows)  # fmt: skip

    @classmethod
    def unpack(cls, data: bytes, limits: Limits = DEFAULT, version: int = 2) -> LatentHeader:
        cube, used = CubeHeader.unpack_from(data, limits)
        layout = _HEADER if version == 2 else _HEADER_V1
        if len(data) != used + layout.size:
            raise _corrupt("latent header has the wrong length")
        rows, cols, bands = cube.shape
        if version == 2:
            levels, k, step, tile_rows = _HEADER.unpack_from(data, used)
            tile_cols, offset_code = tile_rows, 0
            if tile_rows < 1:
                raise _corrupt("latent header holds a zero tile size")
        else:
            levels, k, step, offset_code = _HEADER_V1.unpack_from(data, used)
            tile_rows, tile_cols = rows, cols
        if not 1 <= k <= bands:
            raise _corrupt(f"latent header claims {k} components")
        if not (math.isfinite(step) and step > 0):
            raise _corrupt("latent header holds an invalid step")
        if levels > MAX_LEVELS:
            raise _corrupt(f"latent header claims {levels} wavelet levels")
        header = cls(cube, levels, k, step, tile_rows, tile_cols, offset_code)
        for shape in header.grid.tile_shapes():
            header.wavelet_of(shape)  # every tile fits the levels
        return header

    def wavelet_of(self, shape: tuple[int, int]) -> Wavelet2D:
        try:
            return Wavelet2D(shape[0], shape[1], self.levels)
        except ValueError as exc:
            raise _corrupt(str(exc)) from exc

    def check_work(self, limits: Limits) -> None:
        """Refuse a file whose tiles would take more decoding work than ``limits`` allow
        (row steps of the context decoder, and the values of the latents)."""
        rows, cols, bands = self.cube.shape
        k = self.components
        limits.check_count((k + 1) * bands, "the file's basis values")
        steps = sum(count * row_steps_of(self.wavelet_of(shape))
                    for shape, count in self.grid.tile_shapes().items())  # fmt: skip
        tiles = len(self.grid)
        limits.check_work(
            k * steps * ROW_STEP_OPERATIONS + k * rows * cols + tiles * TILE_OPERATIONS,
            f"decoding its {k} x {rows} x {cols} latents in {tiles:,} tiles and "
            f"{k * steps:,} row steps",
        )


def row_steps_of(wavelet: Wavelet2D) -> int:
    """Sequential steps of the context decoder for one component of a tile."""
    boxes = wavelet.boxes
    return max(r1 - r0 for r0, r1, _, _ in boxes[:1]) + sum(
        max(r1 - r0 for r0, r1, _, _ in boxes[first : first + 3])
        for first in range(1, wavelet.subband_count, 3)
    )


def row_steps(codes: np.ndarray, header: LatentHeader) -> np.ndarray:
    """The quantiser step of each basis row: ``q * rho_r / sqrt(H W)`` (docs/METHODS.md)."""
    rows, cols, _ = header.cube.shape
    return header.step * scale_of(codes) / math.sqrt(rows * cols)


def latent_groups(wavelet: Wavelet2D, k: int) -> np.ndarray:
    """The entropy-model group (component, subband) of every latent, (k, H, W)."""
    return wavelet.subbands[None] + wavelet.subband_count * np.arange(k)[:, None, None]


def dequantised(symbols: np.ndarray, offset: float) -> np.ndarray:
    """Where integer latents decode to, in steps: ``sign(y) (|y| - offset)``, 0 for 0."""
    values = np.asarray(symbols, dtype=np.float64)
    return np.sign(values) * np.maximum(np.abs(values) - offset, 0.0)


def tile_scores(symbols: np.ndarray, offset: float, step: float,
                wavelet: Wavelet2D) -> np.ndarray:  # fmt: skip
    """The (pixels, k) component values of a tile's (k, rows, cols) latents."""
    k = len(symbols)
    steps = dequantised(symbols, offset).reshape(k, wavelet.rows, wavelet.cols)
    images = wavelet.synthesis(steps) * step
    return images.reshape(k, -1).T


# -- the latents' entropy model -------------------------------------------------------------


@dataclass(frozen=True)
class EntropyModel:
    """A tile's latent entropy model: a scale code per (component, subband) group, a
    context offset per bucket (:mod:`hsinr.entropy.context`), and the resulting scale of
    every latent."""

    group_codes: np.ndarray  # uint8 (k * subbands,)
    offsets: np.ndarray  # int8 (BUCKETS,)
    codes: np.ndarray  # uint8 (k, rows * cols): every latent's scale code
    neighbours: Neighbours = field(repr=False)

    @property
    def scales(self) -> np.ndarray:
        return scale_of(self.codes)

    @classmethod
    def fit(cls, latents: np.ndarray, wavelet: Wavelet2D, contexts: bool = True) -> EntropyModel:
        """The model that codes ``latents`` (k, rows * cols) in about the fewest bits
        (without ``contexts``: every context offset 0, one scale per group)."""
        k = len(latents)
        groups = latent_groups(wavelet, k).reshape(k, -1)
        codes = best_codes(subband_statistics(latents, wavelet))
        per_latent = codes[groups]
        neighbours = Neighbours.of(wavelet)
        if not contexts:
            return cls(codes, np.zeros(BUCKETS, np.int8), per_latent, neighbours)
        magnitude = np.abs(latents) / scale_of(per_latent)
        buckets = bucket_of(neighbours.all_contexts(magnitude))
        offsets = fit_offsets(latents, per_latent, buckets)
        return cls(codes, offsets, coded_codes(per_latent, offsets, buckets), neighbours)

    def bits(self, latents: np.ndarray) -> np.ndarray:
        """Bits of each component's latents under this model (k,)."""
        return code_bits(latents, self.codes).sum(axis=1)

    @property
    def side_bytes(self) -> int:
        return self.group_codes.size + self.offsets.size


def subband_statistics(latents: np.ndarray, wavelet: Wavelet2D) -> np.ndarray:
    """(k * subbands, 3): zeros, non-zeros and the sum of magnitudes of each (component,
    subband) group of the (k, rows * cols) latents (summed box by box)."""
    k = len(latents)
    images = np.abs(latents).reshape(k, wavelet.rows, wavelet.cols)
    statistics = np.empty((k, wavelet.subband_count, 3))
    for band, (r0, r1, c0, c1) in enumerate(wavelet.boxes):
        box = images[:, r0:r1, c0:c1].reshape(k, -1)
        nonzeros = np.count_nonzero(box, axis=1)
        statistics[:, band] = np.stack([box.shape[1] - nonzeros, nonzeros, box.sum(axis=1)], 1)
    return statistics.reshape(-1, 3)


def best_codes(statistics: np.ndarray) -> np.ndarray:
    """Per group, the scale code (of all 256) that codes its statistics in the fewest bits."""
    return np.argmin(bits_by_code(statistics[:, None, :], np.arange(256)[None, :]),
                     axis=1).astype(np.uint8)  # fmt: skip


def group_bits(statistics: np.ndarray) -> np.ndarray:
    """Per group, its bits under its best code."""
    return bits_by_code(statistics[:, None, :], np.arange(256)[None, :]).min(axis=1)


def tile_side_bytes(k: int, wavelet: Wavelet2D) -> int:
    """Bytes of a tile chunk besides its ANS words."""
    return _TILE.size + k * wavelet.subband_count + BUCKETS


def _words_to_bytes(words: np.ndarray) -> bytes:
    return np.asarray(words, dtype="<u4").tobytes()


# -- version 2: basis chunk and tile chunks -------------------------------------------------


def bound_exponent(largest: int) -> int:
    """e such that every symbol lies within +-(2^e - 1), the bound a version-2 stream keeps
    (one byte instead of four; the wider range costs next to nothing)."""
    exponent = max(1, int(largest).bit_length())
    if exponent > MAX_EXPONENT:
        raise InputError("values too large to code at this step; use a larger budget or step")
    return exponent


def _bound_of(exponent: int, what: str) -> int:
    if not 1 <= exponent <= MAX_EXPONENT:
        raise _corrupt(f"{what} symbol bound exponent {exponent} is out of range")
    return 2**exponent - 1


def pack_basis(rows: np.ndarray, row_codes: np.ndarray) -> bytes:
    """Chunk 0: the basis (mean + k rows, integers) and the rows' step codes."""
    differences = np.diff(rows, axis=1, prepend=0).astype(np.int64)
    exponent = bound_exponent(int(np.abs(differences).max()))
    bound = 2**exponent - 1
    count, bands = differences.shape
    codes = fit_scale_codes(differences, np.repeat(np.arange(count), bands), count)
    words = encode_symbols(differences.reshape(-1), np.repeat(scale_of(codes), bands),
                           -bound, bound)  # fmt: skip
    return b"".join([_EXPONENT.pack(exponent), np.asarray(row_codes, np.uint8).tobytes(),
                     codes.tobytes(), _words_to_bytes(words)])  # fmt: skip


def basis_bits(rows: np.ndarray) -> float:
    """About the bits :func:`pack_basis` spends on ``rows`` (the ANS words)."""
    differences = np.diff(rows, axis=1, prepend=0)
    count, bands = differences.shape
    codes = fit_scale_codes(differences, np.repeat(np.arange(count), bands), count)
    return float(laplace_bits(differences, scale_of(codes)[:, None]).sum())


def unpack_basis(chunk: bytes, k: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """The basis rows (k + 1, bands) and their step codes from chunk 0."""
    tables = _EXPONENT.size + 2 * (k + 1)
    if len(chunk) < tables or (len(chunk) - tables) % 4:
        raise _corrupt("latent basis chunk has the wrong length")
    bound = _bound_of(chunk[0], "basis")
    row_codes = np.frombuffer(chunk, np.uint8, k + 1, _EXPONENT.size)
    codes = np.frombuffer(chunk, np.uint8, k + 1, _EXPONENT.size + k + 1)
    decoder = LaplaceDecoder(np.frombuffer(chunk[tables:], dtype="<u4"), -bound, bound)
    scales = np.repeat(scale_of(codes), bands)
    decoder.require(float(min_cost(scale_of(codes), -bound, bound).sum() * bands), "the basis")
    differences = decoder.decode(scales)
    decoder.finish()
    return np.cumsum(differences.reshape(k + 1, bands), axis=1), row_codes.copy()


def pack_tile(symbols: np.ndarray, offset_code: int, wavelet: Wavelet2D,
              model: EntropyModel) -> bytes:  # fmt: skip
    """Tile chunk: offset code, bound, the model and the ANS words of ``symbols`` (k, P)."""
    latents = np.asarray(symbols, dtype=np.int64).reshape(len(symbols), -1)
    exponent = bound_exponent(int(np.abs(latents).max()))
    bound = 2**exponent - 1
    order = np.concatenate(model.neighbours.rows)
    words = encode_symbols(latents[:, order].reshape(-1), model.scales[:, order].reshape(-1),
                           -bound, bound)  # fmt: skip
    return b"".join([_TILE.pack(offset_code, exponent), model.group_codes.tobytes(),
                     model.offsets.tobytes(), _words_to_bytes(words)])  # fmt: skip


def unpack_tile(chunk: bytes, k: int, wavelet: Wavelet2D) -> tuple[np.ndarray, int]:
    """A tile's (k, rows * cols) latents and its offset code."""
    groups = k * wavelet.subband_count
    tables = _TILE.size + groups + BUCKETS
    if len(chunk) < tables or (len(chunk) - tables) % 4:
        raise _corrupt("latent tile chunk has the wrong length")
    offset_code, exponent = _TILE.unpack_from(chunk)
    bound = _bound_of(exponent, "tile")
    codes = np.frombuffer(chunk, np.uint8, groups, _TILE.size)
    offsets = np.frombuffer(chunk, np.int8, BUCKETS, _TILE.size + groups).astype(np.int64)
    decoder = LaplaceDecoder(np.frombuffer(chunk[tables:], dtype="<u4"), -bound, bound)
    decoder.require(_least_latent_bits(codes, offsets, bound, k, wavelet),
                    f"the tile's {k} x {wavelet.rows} x {wavelet.cols} latents")  # fmt: skip
    latents = decode_latents(decoder, wavelet, codes.reshape(k, -1), offsets)
    decoder.finish()
    return latents, int(offset_code)


def _least_latent_bits(codes, offsets, bound: int, k: int, wavelet: Wavelet2D) -> float:
    per_subband = np.array([(r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in wavelet.boxes])
    cheapest = min_cost(scale_table(offsets), -bound, bound).min(axis=1)  # per group code
    return float(np.sum(cheapest[codes].reshape(k, -1) * per_subband))


def decode_latents(decoder: LaplaceDecoder, wavelet: Wavelet2D, codes: np.ndarray,
                   offsets: np.ndarray) -> np.ndarray:  # fmt: skip
    """The (k, rows * cols) latents, decoded component by component, a row at a time in
    the file's order, each row's scales from the contexts of the rows before it."""
    neighbours = Neighbours.of(wavelet)
    size = wavelet.rows * wavelet.cols
    subband = wavelet.subbands.reshape(-1)
    row_subbands = [subband[positions] for positions in neighbours.rows]
    scales = scale_table(offsets)
    latents = np.zeros((len(codes), size), dtype=np.int64)
    previous = None
    for component, component_codes in enumerate(codes):
        group_scales = scale_of(component_codes)
        magnitude = np.zeros(size + 1)  # the last entry stands for "no neighbour"
        for positions, subbands in zip(neighbours.rows, row_subbands, strict=True):
            contexts = neighbours.contexts(magnitude, previous, positions)
            symbols = decoder.decode(scales[component_codes[subbands], bucket_of(contexts)])
            latents[component, positions] = symbols
            magnitude[positions] = np.abs(symbols) / group_scales[subbands]
        previous = magnitude
    return latents


# -- a whole file ---------------------------------------------------------------------------


@dataclass
class LatentFile:
    """A checked ``latent`` file: its header, its basis (mean + k rows, normalised
    units) and a way to the latents of each tile (read and checked when asked for)."""

    header: LatentHeader
    basis: np.ndarray  # (k + 1, bands)
    version: int
    _frame: container.Frame = field(repr=False)
    _v1_latents: np.ndarray | None = field(default=None, repr=False)

    def tile_job(self, tile: Tile, rows: range, cols: range, bands: range) -> TileJob:
        """What decoding the part ``rows`` x ``cols`` x ``bands`` of ``tile`` needs (its
        chunk read and CRC-checked here): a job for :func:`decode_part`."""
        basis = self.basis[:, bands.start : bands.stop]
        if self.version == 1:
            return TileJob(self.header, basis, tile, rows, cols, latents=self._v1_latents)
        chunk = self._frame.chunks[1 + tile.index]
        return TileJob(self.header, basis, tile, rows, cols, chunk=chunk)


@dataclass(frozen=True)
class TileJob:
    """A part of one tile to decode: the file's header and basis (the window's bands), the
    tile, the rows and columns wanted (in the cube), and the tile's chunk (version 2) or
    its latents (version 1)."""

    header: LatentHeader
    basis: np.ndarray
    tile: Tile
    rows: range
    cols: range
    chunk: bytes | None = None
    latents: np.ndarray | None = None


def decode_part(job: TileJob) -> np.ndarray:
    """The (rows, cols, bands) values, in the original dtype, that ``job`` asks for."""
    header, tile = job.header, job.tile
    wavelet = header.wavelet_of(tile.shape)
    if job.chunk is not None:
        latents, offset_code = unpack_tile(job.chunk, header.components, wavelet)
    else:
        latents, offset_code = job.latents, header.offset_code
    scores = tile_scores(latents, offset_code / 256, header.step, wavelet)
    part = scores.reshape(*tile.shape, -1)[
        job.rows.start - tile.rows.start : job.rows.stop - tile.rows.start,
        job.cols.start - tile.cols.start : job.cols.stop - tile.cols.start,
    ].reshape(-1, header.components)
    mean, basis = job.basis[0], job.basis[1:]
    values = header.cube.restore_spectra(lambda chunk: part[chunk] @ basis + mean, len(part),
                                         len(mean))  # fmt: skip
    return values.reshape(len(job.rows), len(job.cols), len(mean))


def read(data, limits: Limits = DEFAULT) -> LatentFile:
    """The checked header and basis of a ``latent`` file of either version (sizes and
    work checked against ``limits`` before anything is allocated)."""
    frame = container.unpack(data)
    if frame.codec_id != CODEC_ID:
        raise _corrupt(f"not a latent file (codec id {frame.codec_id})")
    if frame.version == 1:
        return unpack_v1(frame, limits)
    header = LatentHeader.unpack(frame.header, limits)
    header.check_work(limits)
    tiles = len(header.grid)
    if len(frame.chunks) != 1 + tiles:
        raise _corrupt(f"latent file has {len(frame.chunks)} chunks; its {tiles} tiles "
                       f"need {1 + tiles}")  # fmt: skip
    rows, codes = unpack_basis(frame.chunks[0], header.components, header.cube.shape[2])
    basis = rows * row_steps(codes, header)[:, None]
    return LatentFile(header, basis, 2, frame)


def unpack_v1(frame: container.Frame, limits: Limits = DEFAULT) -> LatentFile:
    """A version-1 file: one stream holding the basis differences, then the latents."""
    header = LatentHeader.unpack(frame.header, limits, version=1)
    header.check_work(limits)
    rows, cols, bands = header.cube.shape
    k = header.components
    wavelet = header.wavelet_of((rows, cols))
    payload = frame.payload
    sizes = [_BOUND.size, k + 1, k + 1, k * wavelet.subband_count, BUCKETS]
    tables = sum(sizes)
    if len(payload) < tables or (len(payload) - tables) % 4:
        raise _corrupt("latent payload has the wrong length")
    (bound,) = _BOUND.unpack_from(payload)
    if not 1 <= bound <= MAX_BOUND:
        raise _corrupt(f"symbol bound {bound} is out of range")
    ends = np.cumsum(sizes)
    row_codes, basis_codes, latent_codes = (
        np.frombuffer(payload[ends[i] : ends[i + 1]], dtype=np.uint8) for i in range(3)
    )
    offsets = np.frombuffer(payload[ends[3] : ends[4]], dtype=np.int8).astype(np.int64)
    decoder = LaplaceDecoder(np.frombuffer(payload[tables:], dtype="<u4"), -bound, bound)
    least = bands * min_cost(scale_of(basis_codes), -bound, bound).sum()
    least += _least_latent_bits(latent_codes, offsets, bound, k, wavelet)
    decoder.require(float(least), f"the basis and {k} x {rows} x {cols} latents")
    differences = decoder.decode(np.repeat(scale_of(basis_codes), bands))
    latents = decode_latents(decoder, wavelet, latent_codes.reshape(k, -1), offsets)
    decoder.finish()
    basis_rows = np.cumsum(differences.reshape(k + 1, bands), axis=1)
    basis = basis_rows * row_steps(row_codes, header)[:, None]
    return LatentFile(header, basis, 1, frame, latents)
