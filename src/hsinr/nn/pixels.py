"""The pixels a network is fitted to: (coordinate, normalised spectrum) pairs, served as
random batches and, for measuring the whole image, in chunks.

* :class:`TensorPixels`: every pixel in memory (two tensors), as a cube in memory gives.
* :class:`CubePixels`: a lazy cube's pixels, never all in memory: batches are drawn from
  a reservoir of a few blocks of whole rows, one block replaced by another random one
  every ``refresh`` batches (so that every row is visited over a fit), and the whole
  image is measured a block of rows at a time, read from the file.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from hsinr.cube import Cube, Normalisation
from hsinr.nn.siren import grid

CHUNK = 65536  # pixels measured at once
Batch = tuple[torch.Tensor, torch.Tensor]
RESERVOIR_BYTES = 256 * 2**20  # spectra a CubePixels keeps in memory (float32)
RESERVOIR_BLOCKS = 8
REFRESH = 16  # batches between two replacements of a reservoir block


class Pixels:
    """What :func:`hsinr.nn.fit.fit` fits to (see the module notes)."""

    count: int
    bands: int
    device: torch.device

    def whole(self) -> Batch | None:
        """(coords, targets) of every pixel, if they are held in memory."""
        return None

    def sample(self, size: int, generator: torch.Generator | None) -> Batch:
        """``size`` random pixels: (coords, targets)."""
        raise NotImplementedError

    def chunks(self) -> Iterator[Batch]:
        """(coords, targets) of every pixel, a chunk at a time."""
        raise NotImplementedError


class TensorPixels(Pixels):
    def __init__(self, coords: torch.Tensor, targets: torch.Tensor) -> None:
        self.coords, self.targets = coords, targets
        self.count, self.bands = targets.shape
        self.device = coords.device

    def whole(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.coords, self.targets

    def sample(self, size, generator):
        index = torch.randint(0, self.count, (size,), generator=generator).to(self.device)
        return self.coords[index], self.targets[index]

    def chunks(self):
        for start in range(0, self.count, CHUNK):
            yield self.coords[start : start + CHUNK], self.targets[start : start + CHUNK]


class CubePixels(Pixels):
    """A lazy cube's pixels (see the module notes), normalised by ``scale``."""

    def __init__(self, cube: Cube, scale: Normalisation, device: str | torch.device,
                 seed: int = 0) -> None:  # fmt: skip
        self.cube, self.scale = cube, scale
        self.count, self.bands = cube.height * cube.width, cube.bands
        self.device = torch.device(device)
        row_bytes = cube.width * cube.bands * 4
        block_bytes = RESERVOIR_BYTES // RESERVOIR_BLOCKS
        self.block_rows = max(1, min(cube.height, block_bytes // row_bytes))
        self.starts = list(range(0, cube.height, self.block_rows))
        self._random = np.random.default_rng(seed)
        slots = min(RESERVOIR_BLOCKS, len(self.starts))
        chosen = self._random.choice(len(self.starts), size=slots, replace=False)
        self._reservoir = [self._block(int(i)) for i in chosen]
        self._served = 0

    def _rows(self, index: int) -> range:
        start = self.starts[index]
        return range(start, min(start + self.block_rows, self.cube.height))

    def _block(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self._rows(index)
        values = self.scale.apply(self.cube.read(rows), np.float32).reshape(-1, self.bands)
        coords = grid(self.cube.height, self.cube.width, slice(rows.start, rows.stop))
        return coords.to(self.device), torch.from_numpy(values).to(self.device)

    def sample(self, size, generator):
        self._served += 1
        if self._served % REFRESH == 0 and len(self._reservoir) < len(self.starts):
            slot = int(self._random.integers(len(self._reservoir)))
            self._reservoir[slot] = self._block(int(self._random.integers(len(self.starts))))
        sizes = torch.tensor([len(targets) for _, targets in self._reservoir])
        which = torch.multinomial(sizes.double(), size, replacement=True, generator=generator)
        coords, targets = [], []
        for slot, (block_coords, block_targets) in enumerate(self._reservoir):
            count = int((which == slot).sum())
            if count:
                index = torch.randint(0, len(block_targets), (count,), generator=generator)
                index = index.to(self.device)
                coords.append(block_coords[index])
                targets.append(block_targets[index])
        return torch.cat(coords), torch.cat(targets)

    def chunks(self):
        for index in range(len(self.starts)):
            coords, targets = self._block(index)
            for start in range(0, len(targets), CHUNK):
                yield coords[start : start + CHUNK], targets[start : start + CHUNK]
