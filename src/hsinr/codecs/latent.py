"""Codec ``latent``: wavelet latents and a coded spectral basis, in tiles (hsinr's flagship
rate-distortion codec; method and measurements in docs/METHODS.md, bytes in
docs/FORMAT.md).

Decoder, per tile: ``spectra = (q * W^-1(y)) @ B + m`` where ``y`` are k integer latent
images in the CDF 9/7 wavelet domain of the tile (:mod:`hsinr.transforms.wavelet`),
``W^-1`` the wavelet synthesis, and the basis ``B`` (k x C) and mean ``m``, shared by
all tiles, are stored as integers times one step per row. Non-zero latents decode at
``sign(y) (|y| - offset)``, the tile's centroid offset. Every integer is entropy coded
with constriction's ANS coder under a zero-centred quantised Laplace: one scale per
basis row; for a tile's latents one scale per component and subband, shifted by a
context offset (:mod:`hsinr.entropy.context`). A window decodes only the tiles it
touches.

Encoder: :mod:`hsinr.codecs.latent_encoder` (scan, search on a sample of tiles, one pass
of coding on all cores). Basis steps: row r is quantised with step
``q * rho_r / sqrt(H W)``, ``rho_r`` the reciprocal RMS of that row's coefficient (1 for
the mean): the high-rate optimum for the squared error the row's rounding adds, at the
same lambda as the latents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hsinr.codecs.base import Codec, Encoding, Options, Run, Stream, Window, option
from hsinr.codecs.header import CubeHeader, checked_scale
from hsinr.codecs.latent_encoder import (
    FINAL_AIM,
    REFINED,
    STEP_RANGE,
    Choice,
    Coded,
    Quantised,
    Search,
    Spectral,
    TileSettings,
    assemble,
    choose,
    code_tile,
    default_tile_levels,
    interpolated_step,
    latent_images,
    quantise,
)
from hsinr.codecs.latent_format import (
    CODEC_ID,
    LatentHeader,
    decode_part,
    latent_groups,
    read,
    row_steps,
)
from hsinr.codecs.tiling import (
    DEFAULT_TILE,
    LOWEST,
    candidate_counts,
    scan,
    tile_jobs,
    tile_values,
    window_pieces,
    workers,
)
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.parallel import map_in_processes
from hsinr.progress import progress_bar
from hsinr.ratecontrol import budget_bytes
from hsinr.tiles import TileGrid
from hsinr.transforms.wavelet import MAX_LEVELS, Wavelet2D

RDOQ_PASSES = 2  # rate-distortion optimised quantisation passes over the latents
STEP_MODE_COMPONENTS = 16  # k with --step and no --components (at most the bands)
CORRECTIONS = 3  # whole-file recodings allowed when the search's estimate missed


@dataclass(frozen=True)
class LatentOptions(Options):
    """``latent``'s options. Give a budget (``bpppb``) or a latent step, not both."""

    components: int | None = option(
        None, "spectral components k (default: searched for the budget)", low=1, metavar="K"
    )
    step: float | None = option(
        None, "the latent quantiser step q (normalised units) instead of a budget", above=0.0,
        metavar="Q",
    )  # fmt: skip
    tile: int = option(DEFAULT_TILE, "tile size in pixels: tiles are coded independently (on "
                       "all cores) and decoded alone for a window; a smaller scene is one tile",
                       low=16, high=4096, metavar="T")  # fmt: skip
    iterations: int = option(
        0, "steps of gradient rate-distortion training of latents, basis and mean "
        "(Cool-chic style; scenes of one tile only; off by default: it measured no gain)",
        low=0, flag="--iters", metavar="N",
    )  # fmt: skip
    levels: int = option(-1, "wavelet levels (-1: until a tile's low band is about 4 pixels "
                         "wide)", low=-1, high=MAX_LEVELS)  # fmt: skip
    rdoq: int = option(RDOQ_PASSES, "RDOQ passes over the latents", low=0,
                       high=8, metavar="N")  # fmt: skip
    contexts: bool = option(True, "context-adaptive Laplace scales (off: for ablations)")
    refit: bool = option(True, "least-squares refit of basis and mean (off: for ablations)")

    def check(self) -> None:
        if (self.bpppb is None) == (self.step is None):
            raise InputError("codec latent needs a budget (--bpppb) or a step (--step), not both")


class LatentCodec(Codec):
    name = "latent"
    codec_id = CODEC_ID
    summary = (
        "hsinr's rate-distortion codec: KLT basis at RD-optimal steps, CDF 9/7 wavelet "
        "latents with RDOQ, context-adaptive Laplace ANS; in tiles, on all cores"
    )
    Options = LatentOptions
    needs_budget = False  # a step will do
    tiled = True
    decodes_in_parts = True
    encodes_in_parts = True
    versions = (1, 2)

    def uses_device(self, options: LatentOptions) -> bool:
        return options.iterations > 0

    # -- encoding ----------------------------------------------------------------------------------

    def _encode(self, cube: Cube, options: LatentOptions, run: Run) -> Encoding:
        """The best file within the budget (or at the latent step). ``components`` fixes
        k instead of searching it; ``iterations`` > 0 adds gradient rate-distortion
        training (with ``run``'s seed and device)."""
        rows, cols, bands = cube.shape
        counts = candidate_counts(bands, options.components)
        grid = TileGrid(rows, cols, options.tile, options.tile)
        if options.iterations and len(grid) > 1:
            raise InputError(
                f"--iters trains a scene of one tile; this {rows} x {cols} scene has "
                f"{len(grid)} tiles of {options.tile} (raise --tile to {max(rows, cols)})"
            )
        levels = default_tile_levels(grid, options.levels)
        try:
            for shape in grid.tile_shapes():
                Wavelet2D(*shape, levels)
        except ValueError as exc:
            raise InputError(f"--levels {levels}: {exc}") from None
        job = _Job(cube, options, run, grid, levels, counts)
        coded = job.encoded()
        return self.encoding(coded.data, cube, options, psnr=coded.psnr,
                             details={"components": coded.components, "step": coded.step,
                                      "tiles": len(grid)})  # fmt: skip

    # -- decoding ----------------------------------------------------------------------------------

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        file = read(data, run.limits)
        header = file.header
        rows, cols, bands = window.checked(header.cube.shape)
        shape = (len(rows), len(cols), len(bands))
        pieces = window_pieces(header.grid, rows, cols,
                               lambda tile, r, c: file.tile_job(tile, r, c, bands),
                               decode_part, run.jobs)  # fmt: skip
        return Stream(shape, header.cube.dtype, pieces)

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        file = read(data, (run or Run()).limits)
        header = file.header
        return {
            **header.cube.describe(),
            "components": header.components,
            "wavelet_levels": header.levels,
            "step": header.step,
            "tiles": len(header.grid),
            "tile_size": [header.tile_rows, header.tile_cols],
            "layout_version": file.version,
        }


# -- one encoding job ------------------------------------------------------------------------


class _Job:
    """One cube being encoded: the scan, the search and the coding passes."""

    def __init__(self, cube: Cube, options: LatentOptions, run: Run, grid: TileGrid,
                 levels: int, counts: list[int]) -> None:  # fmt: skip
        self.cube, self.options, self.run = cube, options, run
        self.grid, self.levels, self.counts = grid, levels, counts
        self.scale, moments = scan(cube, grid, run.jobs)
        checked_scale(self.scale.minimum, self.scale.maximum, cube.dtype)
        self.cube_header = CubeHeader(cube.shape, cube.dtype, self.scale)
        k_max = max(counts) if options.step is None else self._step_components()
        self.spectral = Spectral.of(moments, self.scale, k_max)

    def _step_components(self) -> int:
        if self.options.components is not None:
            return self.options.components
        return min(STEP_MODE_COMPONENTS, self.cube.bands)

    def header(self, k: int, step: float) -> LatentHeader:
        return LatentHeader(self.cube_header, self.levels, k, float(np.float32(step)),
                            self.options.tile, self.options.tile)  # fmt: skip

    def encoded(self) -> Coded:
        options = self.options
        if options.step is not None:
            k = self._step_components()
            if options.iterations:
                return self.trained(k, options.step)
            return self.code(k, options.step)
        target = budget_bytes(options.bpppb, self.cube.shape)
        choice = self.search(target)
        if choice.step is None:  # not even the coarsest step fits: the smallest file
            return self.code(self.counts[0], STEP_RANGE[1])
        if options.iterations:
            return self.trained_for(choice.components, choice.step, target)
        coded = self.code(choice.components, choice.step, choice.kept)
        return self.corrected(coded, choice, target)

    # -- search --

    def search(self, target: float) -> Choice:
        """(k, q) for the budget from trials on the sample, and the sample tiles' kept
        quantisation at that (k, q)."""
        options = self.options
        self.sample = Search(
            self.cube, self.grid, self.spectral, self.scale, max(self.counts), self.levels,
            options.rdoq, options.contexts, options.refit,
        )  # fmt: skip
        bar = progress_bar(total=None, desc="rate control", enabled=self.run.progress)
        choice = choose(self.sample, self.counts, target, options.rdoq, bar)
        bar.close()
        self.whole_sample = len(self.sample.tiles) == len(self.grid)
        del self.sample  # its coefficients: not needed by the coding
        return choice

    # -- coding --

    def settings(self, k: int, step: float) -> TileSettings:
        return TileSettings(self.scale, self.spectral.mean, self.spectral.components[:k],
                            float(np.float32(step)), self.levels, self.options.rdoq,
                            self.options.contexts)  # fmt: skip

    def code(self, k: int, step: float, cached: dict[int, Quantised] | None = None,
             rows: np.ndarray | None = None) -> Coded:  # fmt: skip
        """Every tile coded at (k, q) (on ``run.jobs`` cores; a tile in ``cached`` as
        quantised there), then the file assembled with the basis ``rows``, or without
        them the refitted basis (the KLT's with ``refit`` off)."""
        settings = self.settings(k, step)
        cached = cached or {}
        jobs = [(*job, cached[job[1].index]) if job[1].index in cached else job
                for job in tile_jobs(self.cube, list(self.grid), settings)]  # fmt: skip
        bar = progress_bar(total=len(jobs), desc="tiles", enabled=self.run.progress)
        coded = []
        for tile in map_in_processes(code_tile, jobs, workers(self.cube, self.grid,
                                                              self.run.jobs)):  # fmt: skip
            coded.append(tile)
            bar.update()
        bar.close()
        if rows is None and not self.options.refit:
            rows = self.spectral.rows(k)
        return assemble(self.cube, self.grid, self.spectral, self.header(k, step), coded, rows)

    def corrected(self, coded: Coded, choice: Choice, target: float) -> Coded:
        """``coded``, or a recoding at a corrected step when it is over the budget or
        further under it than allowed: 1 % when the search saw only a sample of the tiles
        (a recoding is a whole pass), 0.2 % when it saw them all (the estimate's only
        error is the coding's own, and a recoding is as cheap as a trial). Steps from the
        sizes measured so far, or, after one file, from the search's estimates scaled to
        it."""
        lowest = REFINED if self.whole_sample else LOWEST
        best = coded if len(coded.data) <= target else None
        measured = [(coded.step, float(len(coded.data)))]
        current = coded
        for _ in range(CORRECTIONS):
            size = len(current.data)
            if lowest * target <= size <= target:
                break
            if len(measured) > 1:
                step = interpolated_step(measured, target * FINAL_AIM)
            else:
                bias = size / choice.estimate(current.step)
                step = interpolated_step([(q, r * bias) for q, r in choice.curve],
                                         target * FINAL_AIM)  # fmt: skip
            current = self.code(choice.components, step)
            measured.append((current.step, float(len(current.data))))
            if len(current.data) <= target and (best is None or current.mse < best.mse):
                best = current
        return best if best is not None else current

    # -- gradient training (one tile) --

    def trained(self, k: int, step: float) -> Coded:
        """The file at (k, q) with the latents, basis and mean trained (one tile)."""
        from hsinr.nn.latent import RateDistortion, train

        tile = self.grid[0]
        header = self.header(k, step)
        settings = self.settings(k, step)
        values = tile_values(self.cube.read(), self.scale)
        wavelet = Wavelet2D(*tile.shape, self.levels)
        latents = latent_images(values, settings.mean, settings.components, wavelet)
        codes = self.spectral.row_codes(k)
        latents, rows = train(
            values.reshape(*tile.shape, -1), wavelet, latents / header.step,
            latent_groups(wavelet, k), self.spectral.rows(k), row_steps(codes, header),
            header.step, RateDistortion(self.options.iterations, seed=self.run.seed),
            device=self.run.device, progress=False,
        )  # fmt: skip
        quantised = quantise(latents, wavelet, self.options.rdoq, self.options.contexts)
        return self.code(k, step, {0: quantised}, None if self.options.refit else rows)

    def trained_for(self, k: int, step: float, target: float) -> Coded:
        """Trained files bisected on q for the budget (from the untrained search's q)."""
        from hsinr.ratecontrol import bisect

        bar = progress_bar(total=8, desc="rate control", enabled=self.run.progress)

        def at(log_step: float) -> Coded:
            bar.update()
            return self.trained(k, math.exp(-log_step))

        first = -math.log(step)
        found = bisect(at, lambda c: len(c.data), first, first + math.log(2.0), target,
                       steps=6, tolerance=0.01)  # fmt: skip
        bar.close()
        return found.value


