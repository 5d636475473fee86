"""Base of the PCA codecs: spectral KLT to k components, then each tile's component images
coded by a subclass (DCT + entropy coding, or JPEG 2000).

The KLT comes from the whole scene, its moments accumulated tile by tile
(:mod:`hsinr.codecs.tiling`); the scene is coded in tiles (``tile`` pixels, one tile for a
smaller scene), each tile's component images coded alone at one setting shared by the
whole file (the subclass's: a quantiser step, a distortion level), so one trade-off
holds everywhere and a window decodes only the tiles it touches.

Rate control, on a sample of tiles (all of them for a scene up to
``tiling.SAMPLE_PIXELS`` pixels): for each candidate k, bisection of the setting on the
sample's coded size scaled to the scene; the k whose decoded sample has the least error
wins (when none fits, the smallest file found is written and its true rate reported).
Then every tile is coded once (on ``run.jobs`` cores; the sample's tiles are kept from
the search), and, when the sample was not the whole scene, coded again at a corrected
setting if the file is over the budget or more than 1 % under it.

Layout 2 (container version 2): codec header = the cube header, k (uint16), the tile
size (uint16); chunk 0 = the fp16 mean and basis (``C + C k`` values); chunk 1 + t = tile
t's body. Layout 1 (container version 1, still decoded): header = the cube header and k;
payload = the fp16 basis, then one body for the whole image.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hsinr import container
from hsinr.codecs import tiling
from hsinr.codecs.base import Codec, Encoding, Options, Run, Stream, Window, option
from hsinr.codecs.header import CUBE_HEADER, CubeHeader, checked_scale
from hsinr.codecs.tiling import (
    DEFAULT_TILE,
    LOWEST,
    candidate_counts,
    normalised_moments,
    scan,
    tile_block,
    tile_jobs,
    tile_values,
    window_pieces,
    workers,
)
from hsinr.cube import Cube, Normalisation
from hsinr.limits import DEFAULT, Limits
from hsinr.metrics import psnr_of_mse
from hsinr.parallel import map_in_processes
from hsinr.progress import progress_bar
from hsinr.ratecontrol import Found, bisect, budget_bytes
from hsinr.tiles import Tile, TileGrid
from hsinr.transforms.klt import Basis, principal_basis_of, truncated

_K = struct.Struct("<H")
_K_TILE = struct.Struct("<HH")  # k, tile size
CORRECTIONS = 3
TILE_OPERATIONS = 2**21  # the fixed cost of decoding a tile (as ``latent``'s)


@dataclass(frozen=True)
class PcaOptions(Options):
    """Options of the PCA codecs."""

    components: int | None = option(
        None, "spectral components k (default: searched for the budget)", low=1, metavar="K"
    )
    tile: int = option(DEFAULT_TILE, "tile size in pixels: tiles are coded independently (on "
                       "all cores) and decoded alone for a window; a smaller scene is one tile",
                       low=16, high=4096, metavar="T")  # fmt: skip


@dataclass(frozen=True)
class PcaFile:
    """A checked PCA file: its cube header, basis, tile grid, and its bodies (a tile's
    body read and CRC-checked when asked for)."""

    header: CubeHeader
    basis: Basis
    grid: TileGrid
    frame: container.Frame

    def body(self, tile: Tile) -> bytes:
        if self.frame.version == 1:
            return self.frame.payload[2 * self.basis.mean.size * (1 + self.basis.k) :]
        return self.frame.chunks[1 + tile.index]


class PcaCodec(Codec):
    """Subclasses set ``name``, ``codec_id``, ``setting_range`` and the body coding."""

    Options = PcaOptions
    setting_range: tuple[float, float]  # the body grows with the setting
    tiled = True
    decodes_in_parts = True
    encodes_in_parts = True
    versions = (1, 2)

    def encode_body(self, scores: np.ndarray, setting: float, run: Run) -> bytes:
        """Code the (H, W, k) component images (in normalised units) at ``setting``."""
        raise NotImplementedError

    def decode_body(self, body: bytes, shape: tuple[int, int], k: int,
                    limits: Limits) -> np.ndarray:  # fmt: skip
        """The (H, W, k) component images of ``encode_body``'s output (work and memory
        checked against ``limits`` first)."""
        raise NotImplementedError

    def body_facts(self, body: bytes, k: int) -> dict[str, object]:
        return {}

    # -- encoding ----------------------------------------------------------------------------------

    def _encode(self, cube: Cube, options: PcaOptions, run: Run) -> Encoding:
        """The best file within the budget; ``components`` fixes k instead of searching it."""
        rows, cols, bands = cube.shape
        counts = candidate_counts(bands, options.components)
        grid = TileGrid(rows, cols, options.tile, options.tile)
        scale, moments = scan(cube, grid, run.jobs)
        checked_scale(scale.minimum, scale.maximum, cube.dtype)
        header = CubeHeader(cube.shape, cube.dtype, scale)
        basis = principal_basis_of(normalised_moments(moments, scale), max(counts))
        sample = _Sample(self, cube, grid, scale, basis, run)
        target = budget_bytes(options.bpppb, cube.shape)
        chosen = sample.search(counts, target, run.progress)
        coded = self._code_all(cube, grid, header, scale, truncated(basis, chosen.k),
                               chosen.setting, run, chosen.bodies)  # fmt: skip
        if not sample.whole:
            coded = self._corrected(coded, chosen, cube, grid, header, scale, basis, run, target)
        details = {"components": coded.k, "setting": coded.setting, "tiles": len(grid)}
        return self.encoding(coded.data, cube, options, psnr=chosen.psnr, details=details)

    def _code_all(self, cube: Cube, grid: TileGrid, header: CubeHeader, scale: Normalisation,
                  basis: Basis, setting: float, run: Run,
                  kept: dict[int, bytes] | None = None) -> _Coded:  # fmt: skip
        """Every tile coded at ``setting`` (the ones in ``kept`` as they are)."""
        kept = kept or {}
        todo = [tile for tile in grid if tile.index not in kept]
        jobs = tile_jobs(cube, todo, self, scale, basis, setting)
        bodies = dict(kept)
        bar = progress_bar(total=len(grid), desc="tiles", initial=len(kept),
                           enabled=run.progress)  # fmt: skip
        coded = map_in_processes(_code_tile, jobs, workers(cube, grid, run.jobs))
        for tile, body in zip(todo, coded, strict=True):
            bodies[tile.index] = body
            bar.update()
        bar.close()
        head = header.pack() + _K_TILE.pack(basis.k, grid.tile_rows)
        chunks = [basis.to_bytes(), *(bodies[tile.index] for tile in grid)]
        return _Coded(container.pack_chunks(self.codec_id, head, chunks), basis.k, setting)

    def _corrected(self, coded: _Coded, chosen: _Chosen, cube, grid, header, scale, basis,
                   run: Run, target: float) -> _Coded:  # fmt: skip
        """``coded``, or a recoding at a corrected setting when it is over the budget or
        more than 1 % under it (the sample misjudged the scene)."""
        best = coded if len(coded.data) <= target else None
        measured = [(coded.setting, math.log(len(coded.data)))]
        slope = chosen.slope  # d log(size) / d setting, from the search
        current = coded
        for _ in range(CORRECTIONS):
            size = len(current.data)
            if LOWEST * target <= size <= target:
                break
            if len(measured) > 1:
                (s0, y0), (s1, y1) = measured[-2:]
                slope = (y1 - y0) / (s1 - s0) if s1 != s0 and y1 != y0 else slope
            setting = current.setting + (math.log(target * 0.996) - math.log(size)) / slope
            low, high = self.setting_range
            setting = min(max(setting, low), high)
            current = self._code_all(cube, grid, header, scale, truncated(basis, coded.k),
                                     setting, run)  # fmt: skip
            measured.append((setting, math.log(len(current.data))))
            if len(current.data) <= target and (best is None or len(current.data) > len(best.data)):
                best = current
        return best if best is not None else current

    # -- decoding ----------------------------------------------------------------------------------

    def read(self, data, limits: Limits = DEFAULT) -> PcaFile:
        """The checked header and basis (sizes checked against ``limits``)."""
        frame = self.frame(data)
        header, used = CubeHeader.unpack_from(frame.header, limits)
        rows, cols, bands = header.shape
        layout = _K if frame.version == 1 else _K_TILE
        if len(frame.header) != used + layout.size:
            raise container.CorruptFileError(f"{self.name} header has the wrong length")
        k, tile = (*_K.unpack_from(frame.header, used), max(rows, cols)) if frame.version == 1 \
            else _K_TILE.unpack_from(frame.header, used)  # fmt: skip
        if not 1 <= k <= bands:
            raise container.CorruptFileError(f"{self.name} header claims {k} components")
        if tile < 1:
            raise container.CorruptFileError(f"{self.name} header holds a zero tile size")
        grid = TileGrid(rows, cols, tile, tile)
        limits.check_work(len(grid) * TILE_OPERATIONS, f"decoding its {len(grid):,} tiles")
        basis_bytes = (bands + bands * k) * 2
        if frame.version == 1:
            basis = Basis.from_bytes(frame.payload[:basis_bytes], bands, k)
        else:
            if len(frame.chunks) != 1 + len(grid):
                raise container.CorruptFileError(
                    f"{self.name} file has {len(frame.chunks)} chunks; its {len(grid)} tiles "
                    f"need {1 + len(grid)}"
                )
            basis = Basis.from_bytes(frame.chunks[0], bands, k)
        return PcaFile(header, basis, grid, frame)

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        file = self.read(data, (run or Run()).limits)
        return {
            **file.header.describe(),
            "components": file.basis.k,
            "basis_bytes": file.basis.nbytes(),
            "tiles": len(file.grid),
            "layout_version": file.frame.version,
            **self.body_facts(file.body(file.grid[0]), file.basis.k),
        }

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        file = self.read(data, run.limits)
        rows, cols, bands = window.checked(file.header.shape)
        basis = Basis(file.basis.mean[bands.start : bands.stop],
                      file.basis.components[bands.start : bands.stop])  # fmt: skip

        def job(tile: Tile, part_rows: range, part_cols: range) -> tuple:
            return (self, file.header, basis, tile, part_rows, part_cols, file.body(tile),
                    run.limits)  # fmt: skip

        pieces = window_pieces(file.grid, rows, cols, job, _decode_part, run.jobs)
        return Stream((len(rows), len(cols), len(bands)), file.header.dtype, pieces)


def _code_tile(job: tuple) -> bytes:
    """A tile's body (runs in a worker: ``job`` is (source, tile, codec, scale, basis,
    setting))."""
    source, tile, codec, scale, basis, setting = job
    scores = basis.project(tile_values(tile_block(source, tile), scale))
    one_core = Run(jobs=1, progress=False)
    return codec.encode_body(scores.reshape(*tile.shape, basis.k), setting, one_core)


def _decode_part(job: tuple) -> np.ndarray:
    """The (rows, cols, bands) values of part of a tile, in the original dtype."""
    codec, header, basis, tile, rows, cols, body, limits = job
    scores = codec.decode_body(body, tile.shape, basis.k, limits)
    part = scores[rows.start - tile.rows.start : rows.stop - tile.rows.start,
                  cols.start - tile.cols.start : cols.stop - tile.cols.start]  # fmt: skip
    pixels = part.reshape(-1, basis.k)
    values = header.restore_spectra(lambda chunk: basis.reconstruct(pixels[chunk]), len(pixels),
                                    basis.mean.size)  # fmt: skip
    return values.reshape(len(rows), len(cols), basis.mean.size)


@dataclass
class _Coded:
    data: bytes
    k: int
    setting: float


@dataclass
class _Chosen:
    """What the search chose: k, the setting, the sample tiles' bodies there, the error
    it measured on the sample (as a PSNR), and d log(size) / d setting near it."""

    k: int
    setting: float
    bodies: dict[int, bytes]
    psnr: float | None
    slope: float


class _Sample:
    """The sample tiles' component scores, and the file size and error a setting gives
    on them (scaled to the scene)."""

    def __init__(self, codec: PcaCodec, cube: Cube, grid: TileGrid, scale: Normalisation,
                 basis: Basis, run: Run) -> None:  # fmt: skip
        self.codec, self.cube, self.grid, self.scale, self.basis = codec, cube, grid, scale, basis
        self.tiles = grid.sample(tiling.SAMPLE_PIXELS)
        self.whole = len(self.tiles) == len(grid)
        self.scores = [basis.project(tile_values(cube.read(t.rows, t.cols), scale))
                       .reshape(*t.shape, basis.k) for t in self.tiles]  # fmt: skip
        self.pixels = sum(tile.pixels for tile in self.tiles)
        self.ratio = (grid.rows * grid.cols) / self.pixels
        self.run = run

    def fixed(self, k: int) -> int:
        """Bytes besides the tiles' bodies: framing, header and basis."""
        bands = self.cube.bands
        return (container.CHUNKED_OVERHEAD + 8 * len(self.grid) + CUBE_HEADER.size
                + _K_TILE.size + 2 * (bands + bands * k))  # fmt: skip

    def bodies(self, k: int, setting: float) -> list[bytes]:
        return [self.codec.encode_body(np.ascontiguousarray(scores[:, :, :k]), setting, self.run)
                for scores in self.scores]  # fmt: skip

    def size(self, k: int, bodies: Sequence[bytes]) -> float:
        return self.fixed(k) + sum(len(body) for body in bodies) * self.ratio

    def error(self, k: int, bodies: Sequence[bytes]) -> float:
        """Mean squared error (normalised units) of the sample as these bodies decode."""
        basis = truncated(self.basis, k)
        total = 0.0
        for tile, body in zip(self.tiles, bodies, strict=True):
            scores = self.codec.decode_body(body, tile.shape, k, DEFAULT).reshape(-1, k)
            values = tile_values(self.cube.read(tile.rows, tile.cols), self.scale)
            total += float(np.sum((np.clip(basis.reconstruct(scores), 0.0, 1.0) - values) ** 2))
        return total / (self.pixels * self.cube.bands)

    def search(self, counts: Sequence[int], target: float, progress: bool) -> _Chosen:
        """For each k, the setting whose size is the largest within ``target``; the k with
        the least error (early stop after two worse ones); else the smallest file."""
        best: tuple[float, Found, int] | None = None
        smallest: tuple[Found, int] | None = None
        worse = 0
        bar = progress_bar(counts, desc="components", enabled=progress)
        for k in bar:
            found = bisect(lambda setting, k=k: self.bodies(k, setting),
                           lambda bodies, k=k: self.size(k, bodies), *self.codec.setting_range,
                           target)  # fmt: skip
            if smallest is None or found.size < smallest[0].size:
                smallest = (found, k)
            if not found.within:
                continue
            error = self.error(k, found.value)
            if best is None or error < best[0]:
                best, worse = (error, found, k), 0
            else:
                worse += 1
                if worse >= 2:
                    break
        bar.close()
        found, k = (best[1], best[2]) if best is not None else smallest
        bodies = dict(zip([tile.index for tile in self.tiles], found.value, strict=True))
        psnr = psnr_of_mse(best[0]) if best is not None and self.whole else None
        slope = 1.0 if self.whole else self._slope(k, found)  # only corrections need it
        return _Chosen(k, found.parameter, bodies, psnr, slope)

    def _slope(self, k: int, found: Found) -> float:
        """d log(size) / d setting near ``found`` (one more trial a little lower)."""
        low, high = self.codec.setting_range
        delta = 0.05 * (high - low)
        other = max(low, found.parameter - delta)
        if other == found.parameter:
            return 1.0
        size = self.size(k, self.bodies(k, other))
        return (math.log(found.size) - math.log(size)) / (found.parameter - other) or 1.0
