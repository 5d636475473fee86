"""The spatial tiles a scene is coded in.

A scene of ``rows x cols`` pixels cut at a tile size ``T`` has ``ceil(rows / T)`` tile
rows of near-equal height (the edges at ``(i * rows) // n``), and likewise for columns:
every tile is at most ``T`` and, when the scene is larger than ``T``, more than ``T / 2``
pixels on a side (no thin slivers at the edges); a scene smaller than ``T`` is one tile.
Tiles are numbered row by row.

>>> grid = TileGrid(614, 512, 256, 256)
>>> grid.row_edges, grid.col_edges
([0, 204, 409, 614], [0, 256, 512])
>>> len(grid), grid[4]
(6, Tile(index=4, rows=range(409, 614), cols=range(0, 256)))
>>> [tile.index for tile in grid.touching(range(200, 210), range(250, 260))]
[0, 1, 2, 3]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

GOLDEN = (math.sqrt(5) - 1) / 2


def _overlapping(edges: list[int], span: range) -> list[int]:
    """The intervals between ``edges`` that ``span`` overlaps."""
    return [i for i in range(len(edges) - 1) if edges[i] < span.stop and span.start < edges[i + 1]]


def _count(size: int, tile: int) -> int:
    return max(1, -(-size // tile))


def _edges(size: int, tile: int) -> list[int]:
    count = _count(size, tile)
    return [(i * size) // count for i in range(count + 1)]


def _sizes(size: int, tile: int) -> dict[int, int]:
    """How many of the intervals between :func:`_edges` have each length: they are
    ``size // n`` or one more, ``size % n`` of them the longer."""
    count = _count(size, tile)
    short, longer = divmod(size, count)
    sizes = {short: count - longer, short + 1: longer}
    return {length: number for length, number in sizes.items() if number}


@dataclass(frozen=True)
class Tile:
    """One tile: its number and its rows and columns in the scene."""

    index: int
    rows: range
    cols: range

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    @property
    def pixels(self) -> int:
        return len(self.rows) * len(self.cols)


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a ``rows x cols`` scene at tile size ``tile_rows x tile_cols``."""

    rows: int
    cols: int
    tile_rows: int
    tile_cols: int

    def __post_init__(self) -> None:
        if min(self.rows, self.cols, self.tile_rows, self.tile_cols) < 1:
            raise ValueError(f"no tiles of {self.tile_rows} x {self.tile_cols} in a "
                             f"{self.rows} x {self.cols} scene")  # fmt: skip

    @cached_property
    def row_edges(self) -> list[int]:
        return _edges(self.rows, self.tile_rows)

    @cached_property
    def col_edges(self) -> list[int]:
        return _edges(self.cols, self.tile_cols)

    @property
    def shape(self) -> tuple[int, int]:
        """Tiles down and across."""
        return _count(self.rows, self.tile_rows), _count(self.cols, self.tile_cols)

    def __len__(self) -> int:
        down, across = self.shape
        return down * across

    def __getitem__(self, index: int) -> Tile:
        if not 0 <= index < len(self):
            raise IndexError(index)
        down, across = divmod(index, self.shape[1])
        r, c = self.row_edges, self.col_edges
        return Tile(index, range(r[down], r[down + 1]), range(c[across], c[across + 1]))

    def __iter__(self) -> Iterator[Tile]:
        return (self[i] for i in range(len(self)))

    def tile_shapes(self) -> dict[tuple[int, int], int]:
        """The distinct tile shapes and how many tiles have each (at most four; computed
        without listing the tiles, so a header can be checked before anything else)."""
        heights = _sizes(self.rows, self.tile_rows)
        widths = _sizes(self.cols, self.tile_cols)
        return {(h, w): down * across for h, down in heights.items()
                for w, across in widths.items()}  # fmt: skip

    def touching(self, rows: range, cols: range) -> list[Tile]:
        """The tiles a window of ``rows`` x ``cols`` overlaps, in order."""
        down = _overlapping(self.row_edges, rows)
        across = _overlapping(self.col_edges, cols)
        return [self[i * self.shape[1] + j] for i in down for j in across]

    def sample(self, pixels: int) -> list[Tile]:
        """Tiles spread over the scene holding at least ``pixels`` pixels, or all of them,
        in tile order: the j-th of m picks lies in tile row ``(j + 1/2) m / rows`` and at a
        golden-ratio step across."""
        down, across = self.shape
        if sum(tile.pixels for tile in self) <= pixels:
            return list(self)
        picks = -(-pixels * len(self) // (self.rows * self.cols))
        chosen: set[int] = set()
        total, step = 0, 0
        while total < pixels:
            row = int((step + 0.5) * down / picks) % down
            col = int(((step + 0.5) * GOLDEN % 1.0) * across)
            index = row * across + col
            while index in chosen:
                index = (index + 1) % len(self)
            chosen.add(index)
            total += self[index].pixels
            step += 1
        return [self[i] for i in sorted(chosen)]
