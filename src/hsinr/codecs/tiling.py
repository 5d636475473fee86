"""What the tiled codecs share (``latent``, ``pca-dct``, ``pca-jpeg2000``): reading a
scene a tile at a time, the scan for its global min / max and spectral moments, the
sample of tiles a rate search runs on, tile jobs for worker processes, and the pieces of a
decoded window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from hsinr.codecs.base import Piece
from hsinr.cube import Cube, Normalisation
from hsinr.errors import InputError
from hsinr.lazy import LazyArray
from hsinr.parallel import map_in_processes
from hsinr.tiles import Tile, TileGrid
from hsinr.transforms.klt import Moments, component_counts

SAMPLE_PIXELS = 2**18  # pixels of the tiles a search runs on (all, for smaller scenes)
PARALLEL_PIXELS = 2**17  # scenes (and windows) smaller than this are coded in this process
LOWEST = 0.99  # a file below this fraction of the budget is coded again, finer
DEFAULT_TILE = 256


def candidate_counts(bands: int, components: int | None) -> list[int]:
    """The component counts k a search tries: ``components`` alone when it is given
    (at most ``bands``), else :func:`~hsinr.transforms.klt.component_counts`."""
    if components is None:
        return component_counts(bands)
    if components > bands:
        raise InputError(f"--components must be at most the cube's {bands} bands")
    return [components]


def tile_values(block: np.ndarray, scale: Normalisation) -> np.ndarray:
    """The normalised (pixels, bands) float64 values of a tile's (rows, cols, bands) block."""
    return scale.apply(block, np.float64).reshape(-1, block.shape[2])


def tile_block(source: np.ndarray | LazyArray, tile: Tile) -> np.ndarray:
    """A job's tile values: read from a lazy cube's array, or the block the job carries."""
    return source.read(tile.rows, tile.cols) if isinstance(source, LazyArray) else source


def tile_jobs(cube: Cube, tiles: Sequence[Tile], *extra) -> list[tuple]:
    """(source, tile, *extra) for each tile: a lazy cube's array (read in the worker), or
    the tile's values of a cube in memory."""
    if cube.lazy:
        return [(cube.data, tile, *extra) for tile in tiles]
    return [(np.ascontiguousarray(cube.data[tile.rows.start : tile.rows.stop,
                                            tile.cols.start : tile.cols.stop]), tile, *extra)
            for tile in tiles]  # fmt: skip


def workers(cube: Cube, grid: TileGrid, jobs: int) -> int:
    """Worker processes for the tiles: ``jobs``, or none for a small scene or one tile."""
    return jobs if cube.height * cube.width >= PARALLEL_PIXELS and len(grid) > 1 else 1


def _scan_tile(job: tuple[np.ndarray | LazyArray, Tile]) -> tuple[float, float, Moments]:
    source, tile = job
    block = tile_block(source, tile)
    pixels = block.reshape(tile.pixels, -1).astype(np.float64)
    return float(pixels.min()), float(pixels.max()), Moments.of(pixels)


def scan(cube: Cube, grid: TileGrid, jobs: int) -> tuple[Normalisation, Moments]:
    """The global min / max and the moments of the scene's spectra (raw units), read a
    tile at a time (on ``jobs`` cores)."""
    low, high, moments = math.inf, -math.inf, None
    for tile_low, tile_high, tile_moments in map_in_processes(
        _scan_tile, tile_jobs(cube, grid), workers(cube, grid, jobs)
    ):
        low, high = min(low, tile_low), max(high, tile_high)
        moments = tile_moments if moments is None else moments.merged(tile_moments)
    return Normalisation(low, high), moments


def normalised_moments(moments: Moments, scale: Normalisation) -> Moments:
    """The moments of the normalised values ``(x - min) / (max - min)``."""
    return moments.affine(scale.minimum, 1 / scale.span if scale.span else 0.0)


def window_pieces(
    grid: TileGrid,
    rows: range,
    cols: range,
    job: Callable[[Tile, range, range], object],
    decode: Callable[[object], np.ndarray],
    jobs: int,
) -> Iterator[Piece]:
    """A window's pieces, one per tile it touches: ``job(tile, rows, cols)`` gathers what
    decoding that part of the tile needs (here), ``decode(job)`` decodes it (in ``jobs``
    processes when the window is large), each piece placed within the window."""
    tiles = grid.touching(rows, cols)
    parts = [(range(max(rows.start, t.rows.start), min(rows.stop, t.rows.stop)),
              range(max(cols.start, t.cols.start), min(cols.stop, t.cols.stop))) for t in tiles]
    work = (job(tile, *part) for tile, part in zip(tiles, parts, strict=True))
    pixels = sum(len(r) * len(c) for r, c in parts)
    count = jobs if len(tiles) > 1 and pixels >= PARALLEL_PIXELS else 1
    for (inside_rows, inside_cols), values in zip(parts, map_in_processes(decode, work, count),
                                                  strict=True):  # fmt: skip
        yield Piece(range(inside_rows.start - rows.start, inside_rows.stop - rows.start),
                    range(inside_cols.start - cols.start, inside_cols.stop - cols.start), values)
