"""Codec ``latent``: wavelet latents and a coded spectral basis (hsinr's flagship
rate-distortion codec; method and measurements in docs/METHODS.md, bytes in
docs/FORMAT.md).

Decoder: ``spectra = (q * W^-1(y)) @ B + m`` where ``y`` are k integer latent images in
the CDF 9/7 wavelet domain (:mod:`hsinr.transforms.wavelet`), ``W^-1`` the wavelet
synthesis, and the basis ``B`` (k x C) and mean ``m`` are stored as integers times one
step per row (a row's first differences along the bands are what is coded). Non-zero
latents decode at
``sign(y) (|y| - offset)``, the centroid offset stored in the header. Every integer is
entropy coded with constriction's ANS coder under a zero-centred quantised Laplace: one
scale per basis row; for the latents one scale per component and subband, shifted by a
context offset (:mod:`hsinr.entropy.context`).

Encoder: the KLT gives the basis and, by wavelet analysis of the component images, the
latents; these are rounded and improved by RDOQ passes (:mod:`hsinr.quantise.rdoq`),
and the basis and mean are refitted by least squares to the stored latents. Rate
control: for each k, bisection on q (equivalently on lambda = q^2 ln2 / 6); the k with
the best PSNR wins. Optional (``iterations``): gradient rate-distortion training of
latents, basis and mean (``hsinr.nn.latent``), then q is bisected again so that the
trained file fits.

Basis steps: row r is quantised with step ``q * rho_r / sqrt(H W)``, ``rho_r`` the
reciprocal RMS of that row's coefficient (1 for the mean): the high-rate optimum for
the squared error the row's rounding adds, at the same lambda as the latents.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import numpy as np

from hsinr import container
from hsinr.codecs.base import Codec, Encoding, Options, Run, Window, option
from hsinr.codecs.header import CubeHeader
from hsinr.cube import Cube
from hsinr.entropy.context import (
    BUCKETS,
    Neighbours,
    bucket_of,
    coded_scales,
    fit_offsets,
    scale_table,
)
from hsinr.entropy.laplace import (
    MAX_BOUND,
    LaplaceDecoder,
    encode_symbols,
    fit_scale_codes,
    min_cost,
    scale_code,
    scale_of,
)
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, ROW_STEP_OPERATIONS, Limits
from hsinr.metrics import psnr_of_mse
from hsinr.progress import progress_bar
from hsinr.quantise.rdoq import centroid_offset, optimise_quantisation
from hsinr.ratecontrol import bisect, budget_bytes
from hsinr.transforms.klt import component_counts, principal_basis
from hsinr.transforms.wavelet import MAX_LEVELS, Wavelet2D

CODEC_ID = 7
_HEADER = struct.Struct("<BHfB")
_BOUND = struct.Struct("<I")
STEP_RANGE = (1e-5, 4.0)  # latent steps q searched (normalised units)
RDOQ_PASSES = 2  # rate-distortion optimised quantisation passes over the latents


@dataclass(frozen=True)
class LatentHeader:
    """The codec header's own fields after the cube header."""

    cube: CubeHeader
    levels: int
    components: int
    step: float
    offset_code: int = 0  # latents != 0 decode to sign(y) (|y| - offset_code / 256)

    @property
    def offset(self) -> float:
        return self.offset_code / 256

    def pack(self) -> bytes:
        return self.cube.pack() + _HEADER.pack(
            self.levels, self.components, self.step, self.offset_code
        )

    @classmethod
    def unpack(cls, data: bytes, limits: Limits = DEFAULT) -> LatentHeader:
        cube, used = CubeHeader.unpack_from(data, limits)
        if len(data) != used + _HEADER.size:
            raise container.CorruptFileError("latent header has the wrong length")
        levels, k, step, offset_code = _HEADER.unpack_from(data, used)
        bands = cube.shape[2]
        if not 1 <= k <= bands:
            raise container.CorruptFileError(f"latent header claims {k} components")
        if not (math.isfinite(step) and step > 0):
            raise container.CorruptFileError("latent header holds an invalid step")
        if levels > MAX_LEVELS:
            raise container.CorruptFileError(f"latent header claims {levels} wavelet levels")
        return cls(cube, levels, k, step, offset_code)

    def wavelet(self) -> Wavelet2D:
        rows, cols, _ = self.cube.shape
        try:
            return Wavelet2D(rows, cols, self.levels)
        except ValueError as exc:
            raise container.CorruptFileError(str(exc)) from exc


@dataclass
class Quantised:
    """What the file stores: integer latents (k, H, W) and basis rows (k + 1, C)."""

    latents: np.ndarray
    rows: np.ndarray
    row_codes: np.ndarray  # step code per basis row

    def basis(self, header: LatentHeader) -> np.ndarray:
        return self.rows * row_steps(self.row_codes, header)[:, None]


def latent_groups(wavelet: Wavelet2D, k: int) -> np.ndarray:
    """The entropy-model group (component, subband) of every latent, (k, H, W)."""
    return wavelet.subbands[None] + wavelet.subband_count * np.arange(k)[:, None, None]


def row_steps(codes: np.ndarray, header: LatentHeader) -> np.ndarray:
    """The quantiser step of each basis row (see the module docstring)."""
    rows, cols, _ = header.cube.shape
    return header.step * scale_of(codes) / math.sqrt(rows * cols)


@dataclass(frozen=True)
class EntropyModel:
    """The latents' entropy model: a scale code per (component, subband) group, a context
    offset per bucket (:mod:`hsinr.entropy.context`), and the resulting scale of every latent."""

    group_codes: np.ndarray  # uint8 (k * subbands,)
    offsets: np.ndarray  # int8 (BUCKETS,)
    scales: np.ndarray  # (k, rows * cols)
    neighbours: Neighbours

    @classmethod
    def fit(cls, latents: np.ndarray, wavelet: Wavelet2D, contexts: bool = True) -> EntropyModel:
        """The model that codes ``latents`` (k, rows * cols) in about the fewest bits
        (without ``contexts``: every context offset 0, one scale per group)."""
        k = len(latents)
        groups = latent_groups(wavelet, k).reshape(k, -1)
        codes = fit_scale_codes(latents, groups, k * wavelet.subband_count)
        per_latent = codes[groups]
        neighbours = Neighbours.of(wavelet)
        magnitude = np.abs(latents) / scale_of(per_latent)
        buckets = bucket_of(neighbours.all_contexts(magnitude))
        offsets = fit_offsets(latents, per_latent, buckets)
        if not contexts:
            offsets = np.zeros_like(offsets)
        return cls(codes, offsets, coded_scales(per_latent, offsets, buckets), neighbours)


def pack(
    header: LatentHeader, wavelet: Wavelet2D, quantised: Quantised, contexts: bool = True
) -> bytes:
    """The file of ``quantised`` (the entropy models are fitted here)."""
    k = header.components
    differences = np.diff(quantised.rows, axis=1, prepend=0).astype(np.int64)
    latents = quantised.latents.astype(np.int64).reshape(k, -1)
    bound = max(int(np.abs(differences).max()), int(np.abs(latents).max()), 1)
    if bound > MAX_BOUND:
        raise InputError("values too large to code at this step; use a larger budget or step")
    row_groups = np.repeat(np.arange(k + 1), differences.shape[1])
    basis_codes = fit_scale_codes(differences, row_groups, k + 1)
    model = EntropyModel.fit(latents, wavelet, contexts)
    order = np.concatenate(model.neighbours.rows)
    symbols = np.concatenate([differences.reshape(-1), latents[:, order].reshape(-1)])
    all_scales = np.concatenate([np.repeat(scale_of(basis_codes), differences.shape[1]),
                                 model.scales[:, order].reshape(-1)])  # fmt: skip
    words = encode_symbols(symbols, all_scales, -bound, bound)
    payload = b"".join([
        _BOUND.pack(bound), quantised.row_codes.astype(np.uint8).tobytes(),
        basis_codes.tobytes(), model.group_codes.tobytes(), model.offsets.tobytes(),
        words.tobytes(),
    ])  # fmt: skip
    return container.pack(CODEC_ID, header.pack(), payload)


def unpack(
    data: bytes, limits: Limits = DEFAULT
) -> tuple[LatentHeader, Wavelet2D, Quantised]:
    """Header, wavelet and stored integers of a ``latent`` file, every field checked (the
    sizes against ``limits`` before anything is allocated, the payload against the least
    bits its symbols need)."""
    frame = container.unpack(data)
    if frame.codec_id != CODEC_ID:
        raise container.CorruptFileError(f"not a latent file (codec id {frame.codec_id})")
    header = LatentHeader.unpack(frame.header, limits)
    rows, cols, bands = header.cube.shape
    k = header.components
    limits.check_count((k + 1) * bands, "the file's basis values")
    wavelet = header.wavelet()
    steps = k * (max(r1 - r0 for r0, r1, _, _ in wavelet.boxes[:1]) + sum(
        max(r1 - r0 for r0, r1, _, _ in wavelet.boxes[first : first + 3])
        for first in range(1, wavelet.subband_count, 3)
    ))  # fmt: skip
    limits.check_work(
        steps * ROW_STEP_OPERATIONS + k * rows * cols,
        f"decoding its {k} x {rows} x {cols} latents in {steps:,} row steps",
    )
    payload = frame.payload
    sizes = [_BOUND.size, k + 1, k + 1, k * wavelet.subband_count, BUCKETS]
    tables = sum(sizes)
    if len(payload) < tables or (len(payload) - tables) % 4:
        raise container.CorruptFileError("latent payload has the wrong length")
    (bound,) = _BOUND.unpack_from(payload)
    if not 1 <= bound <= MAX_BOUND:
        raise container.CorruptFileError(f"symbol bound {bound} is out of range")
    ends = np.cumsum(sizes)
    row_codes, basis_codes, latent_codes = (
        np.frombuffer(payload[ends[i] : ends[i + 1]], dtype=np.uint8) for i in range(3)
    )
    offsets = np.frombuffer(payload[ends[3] : ends[4]], dtype=np.int8).astype(np.int64)
    decoder = LaplaceDecoder(np.frombuffer(payload[tables:], dtype="<u4"), -bound, bound)
    per_subband = np.array([(r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in wavelet.boxes])
    cheapest = min_cost(scale_table(offsets), -bound, bound).min(axis=1)  # per group code
    least = bands * min_cost(scale_of(basis_codes), -bound, bound).sum() + np.sum(
        cheapest[latent_codes].reshape(k, -1) * per_subband
    )  # fmt: skip
    decoder.require(float(least), f"the basis and {k} x {rows} x {cols} latents")
    differences = decoder.decode(np.repeat(scale_of(basis_codes), bands))
    latents = _decode_latents(decoder, wavelet, latent_codes.reshape(k, -1), offsets)
    decoder.finish()
    basis_rows = np.cumsum(differences.reshape(k + 1, bands), axis=1)
    return header, wavelet, Quantised(latents.reshape(k, rows, cols), basis_rows, row_codes)


def _decode_latents(
    decoder: LaplaceDecoder, wavelet: Wavelet2D, codes: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
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


def reconstruct(header: LatentHeader, wavelet: Wavelet2D, quantised: Quantised) -> np.ndarray:
    """The normalised (H, W, C) cube the file decodes to (unclipped)."""
    rows, cols, bands = header.cube.shape
    basis = quantised.basis(header)
    return (decoded_scores(header, wavelet, quantised) @ basis[1:] + basis[0]).reshape(
        rows, cols, bands
    )


def decoded_scores(header: LatentHeader, wavelet: Wavelet2D, quantised: Quantised) -> np.ndarray:
    """The (H W, k) component values the latents decode to."""
    latents = quantised.latents.astype(np.float64)
    latents = np.sign(latents) * np.maximum(np.abs(latents) - header.offset, 0.0)
    images = wavelet.synthesis(latents) * header.step
    return images.reshape(header.components, -1).T


class _Problem:
    """One cube prepared for coding: its KLT, the wavelet of its component images."""

    def __init__(self, cube: Cube, k_max: int, levels: int, passes: int = RDOQ_PASSES,
                 contexts: bool = True, refit: bool = True) -> None:  # fmt: skip
        self.passes, self.contexts, self.refit = passes, contexts, refit
        self.cube_header = CubeHeader.of(cube)
        self.values, _ = cube.normalise(np.float64)
        rows, cols, bands = cube.shape
        pixels = self.values.reshape(-1, bands)
        basis = principal_basis(pixels, k_max, stored=False)
        self.mean, self.components = basis.mean, basis.components.T  # (k_max, C)
        scores = basis.project(pixels)  # (HW, k_max)
        self.rms = np.sqrt(np.mean(scores**2, axis=0))
        self.wavelet = Wavelet2D(rows, cols, levels)
        self.coefficients = self.wavelet.analysis(scores.T.reshape(-1, rows, cols))

    def header(self, k: int, step: float) -> LatentHeader:
        return LatentHeader(self.cube_header, self.wavelet.levels, k, float(np.float32(step)))

    def row_codes(self, k: int) -> np.ndarray:
        reciprocal = np.concatenate([[1.0], 1 / np.maximum(self.rms[:k], 1e-12)])
        return scale_code(reciprocal)

    def start(self, k: int, step: float) -> tuple[LatentHeader, np.ndarray, np.ndarray, np.ndarray]:
        """Header, latents (in steps), basis rows and row codes before any training; the
        step is raised where needed to keep every symbol within the coder's bound."""
        codes = self.row_codes(k)
        rows = np.vstack([self.mean, self.components[:k]])
        relative_steps = row_steps(codes, self.header(k, 1.0))
        peak = max(float(np.abs(self.coefficients[:k]).max()),
                   float((2 * np.abs(rows).max(axis=1) / relative_steps).max()))  # fmt: skip
        header = self.header(k, max(step, peak / (MAX_BOUND - 1)))
        return header, self.coefficients[:k] / header.step, rows, codes

    def quantise(self, header, latents, rows, codes) -> tuple[LatentHeader, Quantised]:
        """Latents: rounded, then ``self.passes`` passes of rate-distortion optimised
        quantisation (see :func:`optimise_quantisation`); the reconstruction offset is set
        to the non-zero latents' centroid. Basis rows: refitted by least squares to the
        decoded latents (with ``self.refit``), then rounded to their steps."""
        symbols = np.rint(latents)
        k = header.components
        for _ in range(self.passes):
            offset = centroid_offset(symbols, latents)
            model = EntropyModel.fit(symbols.reshape(k, -1), self.wavelet, self.contexts)
            scales = model.scales.reshape(symbols.shape)
            symbols = optimise_quantisation(symbols, latents, scales, offset)
        header = replace(header, offset_code=round(256 * centroid_offset(symbols, latents)))
        steps = row_steps(codes, header)[:, None]
        if self.refit:
            scores = decoded_scores(header, self.wavelet, Quantised(symbols, rows, codes))
            design = np.hstack([np.ones((len(scores), 1)), scores])
            pixels = self.values.reshape(len(scores), -1)
            rows = np.linalg.lstsq(design, pixels, rcond=None)[0]
        return header, Quantised(symbols, np.rint(rows / steps), codes)

    def mse(self, header: LatentHeader, quantised: Quantised) -> float:
        decoded = np.clip(reconstruct(header, self.wavelet, quantised), 0.0, 1.0)
        return float(np.mean((decoded - self.values) ** 2))


@dataclass
class _Trial:
    """One file the search wrote, with what the encoder measured."""

    data: bytes
    components: int
    step: float
    psnr: float  # on the normalised cube, as decoded


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
    iterations: int = option(
        0, "steps of gradient rate-distortion training of latents, basis and mean "
        "(Cool-chic style; off by default: it measured no gain)", low=0, flag="--iters",
        metavar="N",
    )  # fmt: skip
    levels: int = option(-1, "wavelet levels (-1: until the low band is about 4 pixels wide)",
                         low=-1, high=MAX_LEVELS)  # fmt: skip
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
    summary = ("hsinr's rate-distortion codec: KLT basis at RD-optimal steps, CDF 9/7 wavelet "
               "latents with RDOQ, context-adaptive Laplace ANS")  # fmt: skip
    Options = LatentOptions
    needs_budget = False  # a step will do

    def uses_device(self, options: LatentOptions) -> bool:
        return options.iterations > 0

    def _encode(self, cube: Cube, options: LatentOptions, run: Run) -> Encoding:
        """The best file within the budget (or at the latent step). ``components`` fixes
        k instead of searching it; ``iterations`` > 0 adds gradient rate-distortion
        training (with ``run``'s seed and device)."""
        bands = cube.shape[2]
        counts = component_counts(bands)
        if options.components is not None:
            if options.components > bands:
                raise InputError(f"--components must be at most the cube's {bands} bands")
            counts = [options.components]
        try:
            problem = _Problem(cube, max(counts), options.levels, options.rdoq, options.contexts,
                               options.refit)  # fmt: skip
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        iterations = options.iterations
        if options.step is not None:
            k = counts[0] if options.components is not None else min(16, bands)
            trial = self._trained_at(problem, k, options.step, iterations, run, run.progress)
            return self._encoding(trial, cube, options)
        target = budget_bytes(options.bpppb, cube.shape)
        k, start = self._search(problem, counts, target, run.progress)
        if iterations == 0 or start is None:
            chosen = start if start is not None else self._smallest(problem, counts)
            return self._encoding(chosen, cube, options)
        trials = progress_bar(total=8, desc="rate control", enabled=run.progress)

        def trained_at(log_step: float) -> _Trial:
            trials.update()
            return self._trained_at(problem, k, math.exp(-log_step), iterations, run, False)

        first = -math.log(start.step)
        found = bisect(trained_at, lambda e: len(e.data), first, first + math.log(2.0), target,
                       steps=6, tolerance=0.01)  # fmt: skip
        trials.close()
        chosen = found.value if found.within and found.value.psnr > start.psnr else start
        return self._encoding(chosen, cube, options)

    def _search(self, problem: _Problem, counts, target, progress):
        """For each k, bisect q; the (k, q) with the best PSNR within the budget (no training)."""
        best: _Trial | None = None
        worse = 0
        bar = progress_bar(counts, desc="components", enabled=progress)
        for k in bar:
            found = bisect(
                lambda log_step, k=k: self._untrained(problem, k, math.exp(-log_step)),
                lambda encoding: len(encoding.data),
                -math.log(STEP_RANGE[1]), -math.log(STEP_RANGE[0]), target, tolerance=0.005,
            )  # fmt: skip
            if not found.within:
                continue
            if best is None or found.value.psnr > best.psnr:
                best, worse = found.value, 0
                bar.set_postfix(k=k, psnr=f"{best.psnr:.2f}")
            else:
                worse += 1
                if worse >= 2:
                    break
        bar.close()
        return (best.components if best else counts[0]), best

    def _smallest(self, problem: _Problem, counts) -> _Trial:
        return self._untrained(problem, counts[0], STEP_RANGE[1])

    def _untrained(self, problem: _Problem, k: int, step: float) -> _Trial:
        header, latents, rows, codes = problem.start(k, step)
        return self._trial(problem, problem.quantise(header, latents, rows, codes))

    def _trained_at(self, problem, k, step, iterations, run: Run, progress: bool) -> _Trial:
        header, latents, rows, codes = problem.start(k, step)
        if iterations:
            from hsinr.nn.latent import RateDistortion, train

            groups = latent_groups(problem.wavelet, k)
            settings = RateDistortion(iterations=iterations, seed=run.seed)
            latents, rows = train(problem.values, problem.wavelet, latents, groups, rows,
                                  row_steps(codes, header), header.step, settings,
                                  device=run.device, progress=progress)  # fmt: skip
        return self._trial(problem, problem.quantise(header, latents, rows, codes))

    def _trial(self, problem: _Problem, parts) -> _Trial:
        header, quantised = parts
        data = pack(header, problem.wavelet, quantised, problem.contexts)
        psnr = psnr_of_mse(problem.mse(header, quantised))
        return _Trial(data, header.components, header.step, psnr)

    def _encoding(self, trial: _Trial, cube: Cube, options: LatentOptions) -> Encoding:
        return self.encoding(trial.data, cube, options, psnr=trial.psnr,
                             details={"components": trial.components, "step": trial.step})

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        header, _, quantised = unpack(data, (run or Run()).limits)
        return {
            **header.cube.describe(),
            "components": header.components,
            "wavelet_levels": header.levels,
            "step": header.step,
            "nonzero_latents": int(np.count_nonzero(quantised.latents)),
        }

    def _decode(self, data: bytes, window: Window | None, run: Run) -> Cube:
        """The cube (its values and memory checked against ``run.limits`` first)."""
        header, wavelet, quantised = unpack(data, run.limits)
        scores = decoded_scores(header, wavelet, quantised)
        basis = quantised.basis(header)
        return header.cube.restore_pixels(lambda part: scores[part] @ basis[1:] + basis[0])
