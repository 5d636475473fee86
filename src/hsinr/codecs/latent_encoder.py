"""The ``latent`` encoder, tile by tile (method in docs/METHODS.md, bytes in
:mod:`hsinr.codecs.latent_format`).

1. **Scan**: every tile is read once for the global min / max and the moments of its
   spectra, merged exactly (:class:`~hsinr.transforms.klt.Moments`): the scene's KLT.
2. **Search** on a sample of tiles spread over the scene
   (:meth:`~hsinr.tiles.TileGrid.sample`, all tiles of a small scene): for a latent step
   q, one trial with all candidate components gives each component's bits (from the
   fitted entropy model's exact costs, no coding) and squared error, so the Lagrangian
   ``D + lambda R`` (lambda = q^2 ln2 / 6) picks k for that q; q is then solved on the
   log scale for the budget, the rate of the sample scaled to the scene. At that k, a few
   trials with RDOQ, as the final coding does, set q to land just under the budget.
3. **Code** every tile once at (k, q), on ``run.jobs`` cores: projection, wavelet,
   rounding and RDOQ, a tile's own entropy model, ANS. Each tile also returns the normal
   equations of the least-squares basis refit and its energy, so the refit basis and
   the file's exact (unclipped) squared error come without another pass.
4. If the file is over the budget (or more than 1 % under it), q is corrected from the
   measured size and every tile coded again.

Memory: a tile's values and its working arrays per worker, the sample's coefficients
(``tiling.SAMPLE_PIXELS`` pixels x candidate components), and the file being written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hsinr import container
from hsinr.codecs import tiling
from hsinr.codecs.header import CubeHeader
from hsinr.codecs.latent_format import (
    CODEC_ID,
    HEADER_BYTES,
    EntropyModel,
    LatentHeader,
    basis_bits,
    dequantised,
    group_bits,
    pack_basis,
    pack_tile,
    row_steps,
    subband_statistics,
    tile_scores,
    tile_side_bytes,
)
from hsinr.codecs.tiling import (
    normalised_moments,
    tile_block,
    tile_values,
)
from hsinr.cube import Cube, Normalisation
from hsinr.entropy.laplace import MAX_BOUND, scale_code
from hsinr.quantise.rdoq import centroid_offset, optimise_quantisation
from hsinr.tiles import TileGrid
from hsinr.transforms.klt import Moments, principal_basis_of
from hsinr.transforms.wavelet import Wavelet2D, default_levels

ANS_SLACK = 8  # bytes an ANS stream may take beyond its symbols' information
AIM = 0.996  # the search aims the file at this fraction of the budget
FINAL_AIM = 0.999  # a recoding, knowing the estimate's error, aims here
REFINED = 0.998  # ... or below this one, when the search saw every tile
STEP_RANGE = (1e-5, 4.0)  # latent steps q searched (normalised units)


def lagrangian(step: float) -> float:
    """lambda, squared error per bit, at which a uniform quantiser of ``step`` is
    rate-distortion optimal at high rate (dD/dR = -2 ln2 step^2 / 12)."""
    return step * step * math.log(2) / 6


# -- 1. the scene's spectral basis ----------------------------------------------------------


@dataclass(frozen=True)
class Spectral:
    """The scene's KLT in normalised units: the mean, the leading components (rows), each
    component's energy (sum of squared scores over the scene) and the total energy of the
    centred spectra."""

    mean: np.ndarray  # (bands,)
    components: np.ndarray  # (k_max, bands)
    energies: np.ndarray  # (k_max,)
    total: float
    pixels: int

    @classmethod
    def of(cls, moments: Moments, scale: Normalisation, k_max: int) -> Spectral:
        normalised = normalised_moments(moments, scale)
        basis = principal_basis_of(normalised, k_max, stored=False)
        components = basis.components.T
        energies = np.einsum("kc,cd,kd->k", components, normalised.scatter, components)
        return cls(basis.mean, components, np.maximum(energies, 0.0),
                   float(np.trace(normalised.scatter)), normalised.count)  # fmt: skip

    def truncated(self, k: int) -> float:
        """Squared error of keeping only ``k`` components (exactly, before quantising)."""
        return max(self.total - float(self.energies[:k].sum()), 0.0)

    def rms(self, k: int) -> np.ndarray:
        return np.sqrt(self.energies[:k] / self.pixels)

    def row_codes(self, k: int) -> np.ndarray:
        """Step codes of the basis rows: 1 for the mean, 1 / rms of each component."""
        return scale_code(np.concatenate([[1.0], 1 / np.maximum(self.rms(k), 1e-12)]))

    def rows(self, k: int) -> np.ndarray:
        return np.vstack([self.mean, self.components[:k]])


# -- quantising a tile ----------------------------------------------------------------------


@dataclass
class Quantised:
    """A tile's latents as coded: integers (k, pixels), offset code, entropy model."""

    symbols: np.ndarray
    offset_code: int
    model: EntropyModel


def quantise(latents: np.ndarray, wavelet: Wavelet2D, passes: int, contexts: bool) -> Quantised:
    """Latents (k, rows, cols, in steps) rounded, then ``passes`` RDOQ passes, each under
    the entropy model fitted to the symbols so far (:mod:`hsinr.quantise.rdoq`); the
    reconstruction offset is the non-zero symbols' centroid."""
    k = len(latents)
    values = latents.reshape(k, -1)
    symbols = np.clip(np.rint(values), -(MAX_BOUND - 1), MAX_BOUND - 1)
    for _ in range(passes):
        offset = centroid_offset(symbols, values)
        model = EntropyModel.fit(symbols, wavelet, contexts)
        symbols = optimise_quantisation(symbols, values, model.codes, offset)
    offset_code = round(256 * centroid_offset(symbols, values))
    return Quantised(symbols.astype(np.int32), offset_code, EntropyModel.fit(symbols, wavelet,
                                                                             contexts))  # fmt: skip


def latent_images(values: np.ndarray, spectral_mean: np.ndarray, components: np.ndarray,
                  wavelet: Wavelet2D) -> np.ndarray:  # fmt: skip
    """The (k, rows, cols) wavelet coefficients of a tile's component images."""
    scores = (values - spectral_mean) @ components.T
    return wavelet.analysis(scores.T.reshape(len(components), wavelet.rows, wavelet.cols))


# -- 3. coding the tiles --------------------------------------------------------------------


@dataclass(frozen=True)
class TileSettings:
    """What every tile is coded with."""

    scale: Normalisation
    mean: np.ndarray
    components: np.ndarray  # (k, bands)
    step: float
    levels: int
    passes: int
    contexts: bool


@dataclass
class CodedTile:
    """A tile's chunk and what the basis refit and the error need: the normal equations
    ``G'G`` and ``G'X`` of G = [1, decoded scores] and X = the tile's values, and
    ``sum(X^2)``."""

    index: int
    chunk: bytes
    gram: np.ndarray
    cross: np.ndarray
    energy: float


def code_tile(job: tuple) -> CodedTile:
    """Code one tile (runs in a worker: ``job`` is (source, tile, settings[, quantised]))."""
    source, tile, settings = job[:3]
    cached: Quantised | None = job[3] if len(job) > 3 else None
    values = tile_values(tile_block(source, tile), settings.scale)
    wavelet = Wavelet2D(*tile.shape, settings.levels)
    if cached is None:
        latents = latent_images(values, settings.mean, settings.components, wavelet)
        cached = quantise(latents / settings.step, wavelet, settings.passes, settings.contexts)
    chunk = pack_tile(cached.symbols, cached.offset_code, wavelet, cached.model)
    scores = tile_scores(cached.symbols, cached.offset_code / 256, settings.step, wavelet)
    design = np.hstack([np.ones((len(scores), 1)), scores])
    return CodedTile(tile.index, chunk, design.T @ design, design.T @ values,
                     float(np.sum(values * values)))  # fmt: skip


@dataclass
class Coded:
    """A whole file and what the encoder measured."""

    data: bytes
    components: int
    step: float
    mse: float  # per value, normalised, before the decoder's clipping (an upper bound)

    @property
    def psnr(self) -> float:
        from hsinr.metrics import psnr_of_mse

        return psnr_of_mse(self.mse)


def assemble(cube: Cube, grid: TileGrid, spectral: Spectral, header: LatentHeader,
             tiles: Sequence[CodedTile], rows: np.ndarray | None) -> Coded:  # fmt: skip
    """The file from coded tiles and the basis ``rows`` (mean first), or with None the
    basis refitted to the tiles (least squares, from the summed normal equations),
    rounded to its steps; the exact squared error of the unclipped reconstruction from
    the same sums."""
    k = header.components
    gram = sum(tile.gram for tile in tiles)
    cross = sum(tile.cross for tile in tiles)
    energy = sum(tile.energy for tile in tiles)
    codes = spectral.row_codes(k)
    steps = row_steps(codes, header)[:, None]
    if rows is None:
        rows = np.linalg.lstsq(gram, cross, rcond=None)[0]
    integers = np.rint(rows / steps)
    basis = integers * steps
    error = energy - 2 * float(np.sum(cross * basis)) + float(np.sum((gram @ basis) * basis))
    chunks = [pack_basis(integers, codes), *(t.chunk for t in sorted(tiles, key=_index))]
    data = container.pack_chunks(CODEC_ID, header.pack(), chunks)
    return Coded(data, k, header.step, max(error, 0.0) / (grid.rows * grid.cols * cube.bands))


def _index(tile: CodedTile) -> int:
    return tile.index


# -- 2. the search ---------------------------------------------------------------------------


@dataclass
class Trial:
    """What one trial at step q measured on the sample: per component, bits and squared
    error (sums over the sample tiles)."""

    step: float
    bits: np.ndarray
    error: np.ndarray
    quantised: list[Quantised] | None = None  # per sample tile, when kept
    gram: np.ndarray | None = None  # G G' of G = [constant; decoded coefficients]
    cross: np.ndarray | None = None  # G E' of E = the coefficients' errors

    def refit_gain(self, k: int) -> float:
        """How much the least-squares refit of mean and basis removes of the error of the
        first ``k`` components: the part of their errors that the decoded values (and a
        constant) predict linearly, in the wavelet domain (whose inner products are close
        to the pixels' for this near-orthogonal wavelet)."""
        if self.gram is None:
            return 0.0
        gram, cross = self.gram[: k + 1, : k + 1], self.cross[: k + 1, :k]
        solved = np.linalg.lstsq(gram, cross, rcond=None)[0]
        return max(float(np.sum(cross * solved)), 0.0)


class Search:
    """The sample tiles' coefficients and the estimates of a whole file's size and error
    from trials on them (see the module notes)."""

    def __init__(self, cube: Cube, grid: TileGrid, spectral: Spectral, scale: Normalisation,
                 k_max: int, levels: int, passes: int, contexts: bool,
                 refit: bool = True) -> None:  # fmt: skip
        self.grid, self.spectral, self.levels = grid, spectral, levels
        self.passes, self.contexts, self.refit = passes, contexts, refit
        self.bands = cube.bands
        self.tiles = grid.sample(tiling.SAMPLE_PIXELS)
        self.wavelets = [Wavelet2D(*tile.shape, levels) for tile in self.tiles]
        self.coefficients = []
        for tile, wavelet in zip(self.tiles, self.wavelets, strict=True):
            values = tile_values(cube.read(tile.rows, tile.cols), scale)
            components = spectral.components[:k_max]
            self.coefficients.append(latent_images(values, spectral.mean, components, wavelet))
        self.constants = [wavelet.analysis(np.ones((1, wavelet.rows, wavelet.cols))).reshape(-1)
                          for wavelet in self.wavelets]  # fmt: skip
        self.ratio = (grid.rows * grid.cols) / sum(tile.pixels for tile in self.tiles)
        self.side = {k: self._side_bytes(k) for k in range(1, k_max + 1)}
        self._basis_cache: dict[float, np.ndarray] = {}

    def _side_bytes(self, k: int) -> int:
        fixed = container.CHUNKED_OVERHEAD + HEADER_BYTES + 8 * len(self.grid)
        tiles = sum(count * (tile_side_bytes(k, Wavelet2D(*shape, self.levels)) + ANS_SLACK)
                    for shape, count in self.grid.tile_shapes().items())  # fmt: skip
        return fixed + tiles + 1 + 2 * (k + 1) + ANS_SLACK

    def rounded_trial(self, k: int, step: float) -> Trial:
        """Bits and error per component of the sample tiles' first ``k`` components at
        step q, rounded, under one Laplace scale per component and subband (no contexts,
        no RDOQ; bits from the groups' statistics, nothing coded): cheap, for choosing k."""
        step = float(np.float32(step))
        trial = Trial(step, np.zeros(k), np.zeros(k), None, np.zeros((k + 1, k + 1)),
                      np.zeros((k + 1, k)))  # fmt: skip
        for coefficients, wavelet, constant in self._tiles():
            latents = coefficients[:k].reshape(k, -1) / step
            symbols = np.rint(latents)
            groups = group_bits(subband_statistics(symbols, wavelet))
            trial.bits += groups.reshape(k, -1).sum(axis=1)
            self._measure(trial, latents, symbols, centroid_offset(symbols, latents), constant)
        return trial

    def trial(self, k: int, step: float, passes: int, keep: bool = False) -> Trial:
        """Bits and error per component of the sample tiles' first ``k`` components at
        step q, quantised as the coding will (``passes`` RDOQ passes, the tile's entropy
        model): the bits are the model's exact costs; ``keep`` keeps the quantisation."""
        step = float(np.float32(step))
        trial = Trial(step, np.zeros(k), np.zeros(k), [] if keep else None,
                      np.zeros((k + 1, k + 1)), np.zeros((k + 1, k)))  # fmt: skip
        for coefficients, wavelet, constant in self._tiles():
            latents = coefficients[:k] / step
            quantised = quantise(latents, wavelet, passes, self.contexts)
            trial.bits += quantised.model.bits(quantised.symbols)
            self._measure(trial, latents.reshape(k, -1), quantised.symbols,
                          quantised.offset_code / 256, constant)  # fmt: skip
            if keep:
                trial.quantised.append(quantised)
        return trial

    def _tiles(self):
        return zip(self.coefficients, self.wavelets, self.constants, strict=True)

    @staticmethod
    def _measure(trial: Trial, latents: np.ndarray, symbols: np.ndarray, offset: float,
                 constant: np.ndarray) -> None:  # fmt: skip
        """Add a tile's squared errors per component, and the sums the refit gain needs,
        to ``trial`` (latents and symbols (k, pixels), in steps)."""
        decoded = dequantised(symbols, offset) * trial.step
        errors = latents * trial.step - decoded
        trial.error += np.sum(errors**2, axis=1)
        design = np.vstack([constant, decoded])
        trial.gram += design @ design.T
        trial.cross += design @ errors.T

    def size(self, trial: Trial, k: int) -> float:
        """The file's estimated bytes with the first ``k`` components of ``trial``."""
        latent_bits = float(trial.bits[:k].sum()) * self.ratio
        return self.side[k] + (latent_bits + float(self._basis_bits(trial.step)[: k + 1].sum())) / 8

    def _basis_bits(self, step: float) -> np.ndarray:
        """Bits of each basis row (mean first) at latent step q (each row has its own
        scale, so a basis of k rows costs the first k + 1)."""
        if step not in self._basis_cache:
            k = len(self.spectral.components)
            rows = np.rint(self.spectral.rows(k) / self._row_steps(k, step)[:, None])
            self._basis_cache[step] = np.array([basis_bits(row[None]) for row in rows])
        return self._basis_cache[step]

    def error(self, trial: Trial, k: int) -> float:
        """The file's estimated squared error (sum over values) with ``k`` components."""
        return (float(trial.error[:k].sum()) - (trial.refit_gain(k) if self.refit else 0.0)
                ) * self.ratio + self.spectral.truncated(k)

    def _row_steps(self, k: int, step: float) -> np.ndarray:
        header = LatentHeader(CubeHeader((self.grid.rows, self.grid.cols, self.bands),
                                         np.dtype(np.uint8), Normalisation(0, 1)),
                              self.levels, k, step, 1, 1)  # fmt: skip
        return row_steps(self.spectral.row_codes(k), header)

    def best_components(self, trial: Trial, counts: Sequence[int]) -> int:
        """The k among ``counts`` with the least ``D + lambda R`` at the trial's step."""
        weight = lagrangian(trial.step)
        return min(counts, key=lambda k: self.error(trial, k) + weight * 8 * self.size(trial, k))

    def best_at_rate(self, trials: Sequence[Trial], counts: Sequence[int], target: float,
                     ) -> int | None:  # fmt: skip
        """The k among ``counts`` with the least error at ``target`` bytes, each k's error
        there interpolated (log error against log size) between the two trials whose
        sizes for that k lie nearest the target; a k whose nearest trial is more than
        20 % off the target is not judged. None if no k is."""
        goal = math.log(target)
        judged: dict[int, float] = {}
        for k in counts:
            points = sorted(((math.log(self.size(t, k)), math.log(max(self.error(t, k), 1e-30)))
                             for t in trials), key=lambda p: abs(p[0] - goal))  # fmt: skip
            if len(points) < 2 or abs(points[0][0] - goal) > math.log(1.2):
                continue
            (x0, y0), (x1, y1) = points[:2]
            judged[k] = y0 if x0 == x1 else y0 + (goal - x0) * (y1 - y0) / (x1 - x0)
        return min(judged, key=judged.get) if judged else None


def solve_step(rate_at, target: float, start: float, tolerance: float,
               attempts: int = 12) -> tuple[float | None, list[tuple[float, float]]]:  # fmt: skip
    """The largest-rate step q tried whose ``rate_at(q)`` is not over ``target`` (None if
    none was), searched within ``STEP_RANGE`` until one lands within ``tolerance``
    (relative) under it, by the secant method on (log q, log rate) safeguarded by the
    bracket found so far; also every (q, rate) tried. The rate falls as q grows."""
    tried: list[tuple[float, float]] = []
    over, under = math.log(STEP_RANGE[0]), math.log(STEP_RANGE[1])  # log q: over / under
    best: tuple[float, float] | None = None  # (q, rate) under the target, largest rate
    x = math.log(start)
    for _ in range(attempts):
        step = float(np.float32(math.exp(x)))
        rate = rate_at(step)
        tried.append((step, rate))
        if rate <= target:
            under = min(under, x)
            if best is None or rate > best[1]:
                best = (step, rate)
            if rate >= target * (1 - tolerance):
                break
        else:
            over = max(over, x)
        if under - over < 1e-4:
            break
        x = _next_guess(tried, target, over, under)
    return (None if best is None else best[0]), tried


def _next_guess(tried, target, over, under) -> float:
    """The next log step: the secant through the two tries nearest the target (the rate
    falling by at least 5 % of an octave per octave of step), kept inside the bracket."""
    goal = math.log(target)
    points = sorted({(math.log(q), math.log(max(r, 1e-9))) for q, r in tried},
                    key=lambda p: abs(p[1] - goal))  # fmt: skip
    if len(points) >= 2:
        (x0, y0), (x1, y1) = points[:2]
        slope = min((y1 - y0) / (x1 - x0) if x1 != x0 else -1.0, -0.05)
        guess = x0 + (goal - y0) / slope
    else:
        x0, y0 = points[0]
        guess = x0 + (y0 - goal)  # about one octave of rate per octave of step
    if not over < guess < under:  # outside the bracket: bisect it
        guess = (over + under) / 2
    return guess


def interpolated_step(points: Sequence[tuple[float, float]], target: float) -> float:
    """The step at which the rate reaches ``target``, interpolated (log rate against log
    step) between the two (step, rate) points nearest it, or moved from the one point."""
    goal = math.log(target)
    near = sorted(((math.log(q), math.log(max(r, 1e-9))) for q, r in points),
                  key=lambda p: abs(p[1] - goal))  # fmt: skip
    if len(near) < 2 or near[0][0] == near[1][0]:
        x, y = near[0]
        return math.exp(x + (y - goal))  # about an octave of rate per octave of step
    (x0, y0), (x1, y1) = near[:2]
    slope = min((y1 - y0) / (x1 - x0), -0.05)
    guess = x0 + (goal - y0) / slope
    return math.exp(min(max(guess, math.log(STEP_RANGE[0])), math.log(STEP_RANGE[1])))


@dataclass
class Choice:
    """What the search chose: k, the step, the sample tiles' quantisation there, and the
    estimated file sizes of the coded trials at k."""

    components: int
    step: float | None  # None: not even the coarsest step fits the budget
    kept: dict[int, Quantised] | None = None
    curve: list[tuple[float, float]] = field(default_factory=list)  # (step, bytes)

    def estimate(self, step: float) -> float:
        """The estimated size at ``step`` (one of the curve's steps, or interpolated)."""
        for q, size in self.curve:
            if q == step:
                return size
        near = sorted(self.curve, key=lambda point: abs(math.log(point[0] / step)))[:2]
        if len(near) < 2:
            return near[0][1] * near[0][0] / step
        (q0, r0), (q1, r1) = near
        slope = math.log(r1 / r0) / math.log(q1 / q0) if q1 != q0 else -1.0
        return r0 * (step / q0) ** slope


def choose(search: Search, counts: Sequence[int], target: float, passes: int,
           progress=None) -> Choice:  # fmt: skip
    """(k, q) for a file of at most ``target`` bytes (see the module notes).

    1. Rounded trials (every candidate k at once, cheap) find the step range and the k
       with the least error at the aimed rate.
    2. Coded trials (RDOQ, contexts: as the coding will quantise) probe that k and its
       neighbours among ``counts``, each at the step the rounded trials put at the aim
       (their rates scaled by the first probe's coded / rounded ratio); the k with the
       least error, brought to the aim along its rounded curve, wins.
    3. Coded trials at that k move q (secant on log rate, log q) until the file lands
       within 0.3 % under the aim.
    """
    tick = progress.update if progress is not None else (lambda: None)
    k_max, aim = max(counts), target * AIM
    rounded: dict[float, Trial] = {}

    def rounded_at(step: float) -> Trial:
        step = float(np.float32(step))
        if step not in rounded:
            tick()
            rounded[step] = search.rounded_trial(k_max, step)
        return rounded[step]

    def rounded_curve(k: int) -> list[tuple[float, float]]:
        return sorted((q, search.size(t, k)) for q, t in rounded.items())

    start = rounded_at(0.03)
    reference = search.best_components(start, counts)
    step, _ = solve_step(lambda q: search.size(rounded_at(q), reference), aim, start.step,
                         tolerance=0.05)  # fmt: skip
    if step is None:
        return Choice(counts[0], None)
    best = search.best_at_rate(list(rounded.values()), counts, aim) or reference

    probes: dict[int, Trial] = {}

    def probe(k: int, ratio: float) -> Trial:
        step = interpolated_step([(q, r * ratio) for q, r in rounded_curve(k)], aim)
        tick()
        probes[k] = search.trial(k, step, passes, keep=True)
        return probes[k]

    first = probe(best, 1.0)
    ratio = search.size(first, best) / search.size(rounded_at(first.step), best)
    position = list(counts).index(best)
    for neighbour in counts[max(position - 1, 0) : position + 2]:
        if neighbour not in probes:
            probe(neighbour, ratio)

    def error_at_aim(k: int) -> float:
        trial = probes[k]
        size, error = search.size(trial, k), search.error(trial, k)
        points = sorted(((math.log(search.size(t, k)), math.log(search.error(t, k)))
                         for t in rounded.values()), key=lambda p: abs(p[0] - math.log(size)))
        (x0, y0), (x1, y1) = points[:2] if len(points) > 1 else (points[0], points[0])
        slope = (y1 - y0) / (x1 - x0) if x1 != x0 else -1.0
        return math.log(error) + slope * (math.log(aim) - math.log(size))  # fmt: skip

    k = min(probes, key=error_at_aim)
    coded = {probes[k].step: probes[k]}
    probes.clear()
    step = coded[next(iter(coded))].step
    for _ in range(5):
        rate = search.size(coded[step], k)
        if aim * (1 - 0.003) <= rate <= aim:
            break
        step = float(np.float32(interpolated_step(
            [(q, search.size(t, k)) for q, t in coded.items()], aim)))  # fmt: skip
        if step in coded:
            break
        tick()
        coded[step] = search.trial(k, step, passes, keep=True)
        _drop_all_but_best(coded, search, k, target)
    curve = sorted((q, search.size(t, k)) for q, t in coded.items())
    fits = [(q, size) for q, size in curve if size <= target]
    if not fits:  # the coded trials all went over: a coarser step, corrected once coded
        return Choice(k, max(coded) * 1.02, None, curve)
    chosen = max(fits, key=lambda point: point[1])[0]
    kept = dict(zip([t.index for t in search.tiles], coded[chosen].quantised, strict=True))
    return Choice(k, chosen, kept, curve)


def _drop_all_but_best(trials: dict[float, Trial], search: Search, k: int,
                       target: float) -> None:  # fmt: skip
    """Keep the quantisation only of the trial with the largest size within ``target``
    (the one the coding may reuse), to bound memory."""
    fitting = [q for q, t in trials.items() if search.size(t, k) <= target]
    keep = max(fitting, key=lambda q: search.size(trials[q], k)) if fitting else None
    for q, trial in trials.items():
        if q != keep:
            trial.quantised = None


def default_tile_levels(grid: TileGrid, levels: int) -> int:
    """``levels``, or (for -1) the default levels of the smallest tile."""
    if levels >= 0:
        return levels
    return min(default_levels(*shape) for shape in grid.tile_shapes())
