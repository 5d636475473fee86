"""Codec ``siren``: the per-image SIREN of the CRV 2023 paper.

A SIREN is overfitted to the cube (coordinates -> normalised spectra); the file holds the
paper's Table I fields, what exact decoding needs, and the weights in fp32 or fp16:

    codec header (26 bytes, little-endian)
    w, h, c      uint16 x 3   image width (cols), height (rows), bands
    n_h, w_h     uint8 x 2    hidden sine layers and their width
    flags        uint8        bit 0 = q: weights stored as fp16 (else fp32)
    dtype        uint8        original dtype code (hsinr.container.DTYPE_CODES)
    min, max     float64 x 2  the normalisation, restoring the original units
    payload      the parameters, layer by layer (weight row-major, then bias)

>>> codec = SirenCodec()
>>> codec.file_size((100, 100, 198), Arch(10, 20), precision=32)
32038
"""

from __future__ import annotations

import copy
import dataclasses
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hsinr import container
from hsinr.codecs.base import (
    Codec,
    Encoding,
    Options,
    Piece,
    Run,
    Stream,
    Window,
    auto_or_int,
    option,
)
from hsinr.codecs.header import checked_scale
from hsinr.cube import Cube, Normalisation
from hsinr.errors import InputError
from hsinr.metrics import psnr_of_mse
from hsinr.nn.arch import Arch
from hsinr.quantise.weights import body_size, decode_weights, encode_weights, group_count
from hsinr.ratecontrol import budget_bytes

if TYPE_CHECKING:
    from hsinr.nn.search import Trial
    from hsinr.nn.siren import Siren

CODEC_ID = 1
HEADER = struct.Struct("<HHHBBBBdd")
QUANTISED = struct.Struct("<BBI")  # bits, granularity, ANS words: after HEADER when flag Q
FLAG_FP16 = 0x01
FLAG_QUANTISED = 0x02
GRANULARITY_CODES = {"tensor": 0, "channel": 1}
BIT_CHOICES = (6, 8, 10, 12)  # quantised widths tried by bits="auto" (beside fp16)
MIN_BITS, MAX_BITS = 4, 16
EXTRA_BITS = 0.4  # coded bits per weight above b, at worst (uniform weights; measured)
PRECISIONS = {32: np.dtype("<f4"), 16: np.dtype("<f2")}
MIN_WIDTH = 4
MAX_SIDE = 0xFFFF
MAX_LAYER_SIZE = 0xFF
SEARCH_DEPTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25)
DECODE_CHUNK = 65536  # pixels evaluated at once when decoding
LAZY_BATCH = 65536  # pixels a step fits when the cube is lazy and no batch size is given


@dataclass(frozen=True)
class SirenHeader:
    """The header fields; ``bits`` > 0 means quantised, entropy-coded weights (``per``
    tensor or channel, ``words`` ANS words), else fp32 / fp16 by ``precision``."""

    width: int
    height: int
    bands: int
    arch: Arch
    precision: int
    dtype: np.dtype
    scale: Normalisation
    bits: int = 0
    per: str = "tensor"
    words: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.bands)

    @property
    def quantised(self) -> bool:
        return self.bits > 0

    def payload_size(self) -> int:
        """Exact payload bytes this header implies."""
        if self.quantised:
            groups = group_count(weight_shapes(self.arch, self.bands), self.per)
            return body_size(groups, self.words)
        return self.arch.param_count(self.bands) * PRECISIONS[self.precision].itemsize

    def pack(self) -> bytes:
        flags = FLAG_QUANTISED if self.quantised else FLAG_FP16 if self.precision == 16 else 0
        fixed = HEADER.pack(
            self.width, self.height, self.bands, *self.arch, flags,
            container.dtype_code(self.dtype), self.scale.minimum, self.scale.maximum,
        )  # fmt: skip
        if not self.quantised:
            return fixed
        return fixed + QUANTISED.pack(self.bits, GRANULARITY_CODES[self.per], self.words)

    @classmethod
    def unpack(cls, header: bytes) -> SirenHeader:
        if len(header) not in (HEADER.size, HEADER.size + QUANTISED.size):
            raise container.CorruptFileError(
                f"siren header is {len(header)} bytes, expected {HEADER.size} or "
                f"{HEADER.size + QUANTISED.size}"
            )
        width, height, bands, n_h, w_h, flags, code, low, high = HEADER.unpack_from(header)
        if min(width, height, bands, n_h, w_h) < 1:
            raise container.CorruptFileError("siren header holds a zero size")
        if flags not in (0, FLAG_FP16, FLAG_QUANTISED):
            raise container.CorruptFileError(f"siren header has invalid flags {flags:#x}")
        if (flags == FLAG_QUANTISED) != (len(header) > HEADER.size):
            raise container.CorruptFileError("siren header length disagrees with its flags")
        dtype = container.dtype_from_code(code)
        base = cls(
            width, height, bands, Arch(n_h, w_h), 16 if flags & FLAG_FP16 else 32,
            dtype, checked_scale(low, high, dtype),
        )  # fmt: skip
        if flags != FLAG_QUANTISED:
            return base
        bits, granularity, words = QUANTISED.unpack_from(header, HEADER.size)
        pers = {code: name for name, code in GRANULARITY_CODES.items()}
        if not MIN_BITS <= bits <= MAX_BITS or granularity not in pers:
            raise container.CorruptFileError("siren header holds invalid quantiser settings")
        return replace(base, bits=bits, per=pers[granularity], words=words)


def weight_shapes(arch: Arch, bands: int) -> list[tuple[int, ...]]:
    """Shapes of the network's tensors in file order."""
    shapes: list[tuple[int, ...]] = []
    inputs = 2
    for _ in range(arch.hidden_layers):
        shapes += [(arch.width, inputs), (arch.width,)]
        inputs = arch.width
    return [*shapes, (bands, arch.width), (bands,)]


@dataclass(frozen=True)
class Storage:
    """How the weights are stored: fp32 / fp16 (``bits`` 0), or quantised to ``bits`` bits
    per tensor or per output channel (``per``) and entropy-coded."""

    precision: int = 32
    bits: int = 0
    per: str = "tensor"

    def __str__(self) -> str:
        return f"{self.bits}-bit per-{self.per}" if self.bits else f"fp{self.precision}"

    @classmethod
    def of(cls, value: int | Storage) -> Storage:
        return value if isinstance(value, Storage) else cls(precision=value)

    def file_size(self, shape: tuple[int, int, int], arch: Arch) -> float:
        """Bytes of the file: exact for fp32 / fp16; for quantised weights an estimate that
        assumes ``bits + EXTRA_BITS`` per weight, what near-uniform weights cost."""
        params = arch.param_count(shape[2])
        if not self.bits:
            return container.OVERHEAD + HEADER.size + params * PRECISIONS[self.precision].itemsize
        groups = group_count(weight_shapes(arch, shape[2]), self.per)
        fixed = container.OVERHEAD + HEADER.size + QUANTISED.size + body_size(groups, 0)
        return fixed + params * (self.bits + EXTRA_BITS) / 8


@dataclass(frozen=True)
class Loop:
    """A fitting loop: Adam's peak learning rate, its schedule, and the iterations of
    linear warm-up (at most a tenth of a fit's, so brief search fits keep theirs short)."""

    lr: float
    schedule: str
    warmup: int
    fallback_db: float | None = None  # back to the best at half the lr after such a fall
    head: str = "adam"  # or "solve": the output layer by least squares at every step

    def fit_options(self, iterations: int) -> dict[str, Any]:
        """:func:`hsinr.nn.fit.fit`'s keywords for a fit of ``iterations``."""
        return {"lr": self.lr, "schedule": self.schedule, "fallback_db": self.fallback_db,
                "warmup": min(self.warmup, iterations // 10), "head": self.head}  # fmt: skip


FAITHFUL_LOOP = Loop(2e-4, "constant", 0)  # the CRV 2023 paper's
DEFAULT_LOOP = Loop(2e-3, "cosine", 200, 5.0, "solve")  # benchmarks/results/siren_speed


def _check_shape(shape: tuple[int, int, int]) -> None:
    if max(shape) > MAX_SIDE:
        raise InputError(f"the siren codec stores sizes as 16 bits: {shape} exceeds {MAX_SIDE}")



def _arch(value) -> str:
    """A network as ``LAYERSxWIDTH`` text, from text or a (layers, width) pair."""
    arch = Arch.parse(value) if isinstance(value, str) else Arch(*(int(v) for v in value))
    _check_arch(arch)
    return str(arch)


def _check_arch(arch: Arch) -> None:
    layers_ok = 1 <= arch.hidden_layers <= MAX_LAYER_SIZE
    if not (layers_ok and MIN_WIDTH <= arch.width <= MAX_LAYER_SIZE):
        raise ValueError(
            f"architecture {arch}: layers must be 1-{MAX_LAYER_SIZE} and width "
            f"{MIN_WIDTH}-{MAX_LAYER_SIZE}"
        )


@dataclass(frozen=True)
class SirenOptions(Options):
    """``siren``'s options (the CRV 2023 paper's fitting, and quantised weights)."""

    precision: int = option(32, "weight precision in bits, fp32 or fp16", choices=(16, 32))
    bits: int | str | None = option(
        None, f"quantise the weights to N bits ({MIN_BITS}-{MAX_BITS}) and entropy-code them, "
        "or auto: fp16 or 6 / 8 / 10 / 12 bits, whichever fits the budget best in a brief fit",
        convert=auto_or_int(MIN_BITS, MAX_BITS), metavar="N|auto",
    )  # fmt: skip
    granularity: str = option("tensor", "one weight quantiser per tensor or per output channel",
                              choices=("tensor", "channel"))  # fmt: skip
    qat_iterations: int | None = option(
        None, "quantisation-aware fine-tuning iterations, taken out of --iters (a tenth)",
        low=0, flag="--qat-iters", metavar="N",
    )  # fmt: skip
    arch: str | None = option(
        None, "the network as LAYERSxWIDTH, e.g. 6x32 (default: the deepest that fits the "
        "budget at least 3x as wide as deep)", convert=_arch,
    )  # fmt: skip
    search: bool = option(False, "fit every network that fits the budget briefly, keep the best")
    iterations: int = option(2000, "Adam fitting iterations", low=0, flag="--iters", metavar="N")
    search_iterations: int = option(300, "iterations per network or bits tried by a search",
                                    low=1, flag="--search-iters", metavar="N")  # fmt: skip
    faithful: bool = option(False, "the CRV 2023 paper's fitting loop: Adam at 2e-4, constant, "
                            "no warm-up (slower to the same quality)")  # fmt: skip
    lr: float | None = option(None, f"Adam's peak learning rate (default {DEFAULT_LOOP.lr:g}; "
                              f"--faithful: {FAITHFUL_LOOP.lr:g})", above=0.0)  # fmt: skip
    schedule: str | None = option(None, "learning-rate schedule (default "
                                  f"{DEFAULT_LOOP.schedule}; --faithful: constant)",
                                  choices=("constant", "cosine"))  # fmt: skip
    warmup: int | None = option(None, "iterations of linear lr warm-up, at most a tenth of a fit "
                                f"(default {DEFAULT_LOOP.warmup}; --faithful: 0)", low=0,
                                metavar="N")  # fmt: skip
    head: str | None = option(None, "the output layer: solved by least squares at every step "
                              "while Adam trains the sine layers (solve, the default; fits of "
                              "all pixels) or trained by Adam with them (adam; --faithful)",
                              choices=("solve", "adam"))  # fmt: skip
    max_seconds: float | None = option(None, "stop fitting after this wall time, seconds",
                                       above=0.0, metavar="S")  # fmt: skip
    target_psnr: float | None = option(None, "stop fitting at this PSNR, dB", metavar="DB")
    batch_size: int | None = option(None, "random pixels per step (default: all of them)",
                                    low=1, metavar="N")  # fmt: skip

    def check(self) -> None:
        if self.arch is None and self.bpppb is None:
            raise InputError("codec siren needs a budget (--bpppb) or a network (--arch)")
        if self.arch is not None and self.search:
            raise InputError("--arch and --search exclude each other")
        if self.bits == "auto" and (self.bpppb is None or self.arch is not None or self.search):
            raise InputError("--bits auto chooses the network for a budget: give --bpppb only")
        loop = {"lr": self.lr, "schedule": self.schedule, "warmup": self.warmup,
                "head": self.head, "batch_size": self.batch_size}  # fmt: skip
        given = [name for name, value in loop.items() if value is not None]
        if self.faithful and given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise InputError(f"--faithful is the paper's loop as it is: leave out {flags}")

    def loop(self) -> Loop:
        """The fitting loop these options ask for."""
        base = FAITHFUL_LOOP if self.faithful else DEFAULT_LOOP
        return Loop(
            base.lr if self.lr is None else self.lr,
            base.schedule if self.schedule is None else self.schedule,
            base.warmup if self.warmup is None else self.warmup,
            base.fallback_db,
            base.head if self.head is None else self.head,
        )  # fmt: skip


class SirenCodec(Codec):
    """Per-image SIREN codec (the CRV 2023 paper): a network overfitted to the cube."""

    name = "siren"
    codec_id = CODEC_ID
    summary = "per-image SIREN (CRV 2023): a sine MLP overfitted to the cube, its weights stored"
    Options = SirenOptions
    needs_budget = False  # a network will do
    windowed = True
    encodes_in_parts = True  # a lazy cube: fitted to batches from a reservoir of its rows
    decodes_in_parts = True  # a block of rows at a time
    example_options: ClassVar[dict[str, Any]] = {"bpppb": 0.1, "precision": 16,
                                                 "iterations": 3000}  # fmt: skip

    def uses_device(self, options: SirenOptions) -> bool:
        return True

    # -- rate arithmetic ---------------------------------------------------------------
    @staticmethod
    def file_size(shape: tuple[int, int, int], arch: Arch, precision: int) -> int:
        """Exact bytes of the file for a cube of ``shape`` coded with ``arch`` in fp32 / fp16."""
        return int(Storage(precision).file_size(shape, arch))

    def bpppb_of(self, shape: tuple[int, int, int], arch: Arch, storage: int | Storage) -> float:
        """The rate of ``arch`` stored as ``storage`` (a precision, 32 or 16, or a
        :class:`Storage`; estimated for quantised weights)."""
        height, width, bands = shape
        return 8 * Storage.of(storage).file_size(shape, arch) / (height * width * bands)

    def widest(self, shape, hidden_layers: int, budget_bytes: float, storage) -> Arch | None:
        """The widest network of ``hidden_layers`` whose file fits ``budget_bytes``."""
        storage = Storage.of(storage)
        best = None
        for width in range(MIN_WIDTH, MAX_LAYER_SIZE + 1):
            if storage.file_size(shape, Arch(hidden_layers, width)) > budget_bytes:
                break
            best = Arch(hidden_layers, width)
        return best

    def candidates(self, shape, bpppb: float, storage, depths=SEARCH_DEPTHS) -> list[Arch]:
        """For each depth, the widest network that fits the budget."""
        budget = bpppb * shape[0] * shape[1] * shape[2] / 8
        found = [self.widest(shape, depth, budget, storage) for depth in depths]
        return [arch for arch in found if arch is not None]

    def min_bpppb(self, shape: tuple[int, int, int], storage) -> float:
        """The rate of the smallest network (1 layer of ``MIN_WIDTH``) for this cube."""
        return self.bpppb_of(shape, Arch(1, MIN_WIDTH), storage)

    def default_arch(self, shape, bpppb: float, storage) -> Arch:
        """The deepest candidate at least three times as wide as it is deep (else the
        shallowest): deep-and-narrow as the paper's picks, without a search."""
        found = self.candidates(shape, bpppb, storage, depths=range(1, 41))
        if not found:
            raise InputError(
                f"{bpppb:g} bpppb is too small for any SIREN on a {shape[0]} x {shape[1]} x "
                f"{shape[2]} cube with {Storage.of(storage)} weights: the minimum is "
                f"{self.min_bpppb(shape, storage):.4g} bpppb"
            )
        balanced = [arch for arch in found if arch.width >= 3 * arch.hidden_layers]
        return balanced[-1] if balanced else found[0]

    # -- encoding ------------------------------------------------------------------------

    def _encode(self, cube: Cube, options: SirenOptions, run: Run) -> Encoding:
        """Fit a SIREN to ``cube`` within the budget and pack it (see :class:`SirenOptions`).

        Weights are stored in fp``precision``, or with ``bits`` (4-16) quantised per tensor
        or per output channel (``granularity``) and entropy-coded, after
        ``qat_iterations`` of quantisation-aware fine-tuning (taken out of ``iterations``;
        a tenth by default). ``bits="auto"`` fits each candidate (fp16 and 6 / 8 / 10 / 12
        bits, each with its default network) for ``search_iterations`` and keeps the best.
        The network is ``arch`` when given, the best of a brief search over the networks
        that fit the budget with ``search``, else :meth:`default_arch`.
        """
        import torch

        from hsinr.nn.fit import fit
        from hsinr.nn.qat import quantisation_aware
        from hsinr.nn.search import search as search_architectures
        from hsinr.nn.siren import Siren

        _check_shape(cube.shape)
        bpppb, bits, arch = options.bpppb, options.bits, options.arch
        seed, device, progress = run.seed, run.device, run.progress
        iterations = options.iterations
        storage = Storage(options.precision) if bits is None else Storage(16, 0)
        if bits not in (None, "auto"):
            storage = Storage(options.precision, bits, options.granularity)
        pixels, scale = self._training_data(cube, device, seed)
        batch_size = options.batch_size
        if batch_size is None and pixels.whole() is None:
            batch_size = LAZY_BATCH  # a lazy cube's pixels are never all in memory
        loop = options.loop()
        search_fit = {**loop.fit_options(options.search_iterations), "batch_size": batch_size}
        trials: list[Trial] = []
        model = None
        if bits == "auto":
            trials = self._storage_trials(
                cube.shape, bpppb, options.granularity, pixels,
                options.search_iterations, seed, progress, search_fit, run.jobs,
            )  # fmt: skip
            storage, arch, model = trials[0].storage, trials[0].arch, trials[0].model
        elif arch is not None:
            arch = Arch.parse(arch)
            needed = self.bpppb_of(cube.shape, arch, storage)
            if bpppb is not None and needed > bpppb * (1 + 1e-9):
                raise InputError(
                    f"architecture {arch} needs {needed:.4g} "
                    f"bpppb with {storage} weights, over the budget of {bpppb:g}"
                )
        elif options.search:
            candidates = self.candidates(cube.shape, bpppb, storage)
            if not candidates:
                self.default_arch(cube.shape, bpppb, storage)  # raises the minimum-rate error
            trials = search_architectures(
                candidates, pixels,
                bpppb_of={a: self.bpppb_of(cube.shape, a, storage) for a in candidates},
                iterations=options.search_iterations, seed=seed, jobs=run.jobs,
                progress=progress, **search_fit,
            )  # fmt: skip
            arch, model = trials[0].arch, trials[0].model
        else:
            arch = self.default_arch(cube.shape, bpppb, storage)
        if model is None:
            torch.manual_seed(seed)
            model = Siren(arch.hidden_layers, arch.width, cube.bands).to(device)
        qat_iterations = options.qat_iterations
        qat = (
            0
            if not storage.bits
            else (iterations // 10 if qat_iterations is None else min(qat_iterations, iterations))
        )
        generator = torch.Generator().manual_seed(seed)
        result = fit(
            model, pixels, iterations=iterations - qat, max_seconds=options.max_seconds,
            target_psnr=options.target_psnr, generator=generator, progress=progress,
            description=f"fitting {arch}", batch_size=batch_size,
            **loop.fit_options(iterations - qat),
        )  # fmt: skip
        if qat:  # fine-tuned at a constant lr, the paper's or a lower one given
            with quantisation_aware(model, storage.bits, storage.per):
                fit(model, pixels, iterations=qat, generator=generator, progress=progress,
                    description=f"{storage} fine-tuning", batch_size=batch_size,
                    lr=min(loop.lr, FAITHFUL_LOOP.lr))  # fmt: skip
        header = SirenHeader(
            cube.width, cube.height, cube.bands, arch, storage.precision, cube.dtype, scale
        )
        data = self._pack(header, model, storage, bpppb, cube.shape)
        details = {
            "arch": str(arch), "weights": str(storage), "params": arch.param_count(cube.bands),
            "loop": dataclasses.asdict(loop), "fit": dataclasses.asdict(result),
            "trials": [{"arch": str(t.arch), "params": t.params, "bpppb": t.bpppb, "psnr": t.psnr,
                        "seconds": t.seconds, "weights": str(t.storage or storage)}
                       for t in trials],
        }  # fmt: skip
        for trial in trials:
            trial.model = None  # free the candidates
        return self.encoding(data, cube, options, psnr=result.best_psnr, details=details)

    def _pack(self, header: SirenHeader, model: Siren, storage: Storage, bpppb, shape) -> bytes:
        """The file; quantised weights fall back to fewer bits if the estimate overshot."""
        if not storage.bits:
            weights = model.to_flat().astype(PRECISIONS[storage.precision])
            if not np.all(np.isfinite(weights)):
                raise InputError(
                    f"the fitted weights do not fit in fp{storage.precision} (overflow); "
                    "use --precision 32"
                )
            return container.pack(CODEC_ID, header.pack(), weights.tobytes())
        tensors = [t.detach().cpu().numpy() for t in model.ordered_parameters()]
        budget = None if bpppb is None else budget_bytes(bpppb, shape)
        for bits in range(storage.bits, MIN_BITS - 1, -1):
            body, words = encode_weights(tensors, bits, storage.per)
            quantised = replace(header, bits=bits, per=storage.per, words=words)
            data = container.pack(CODEC_ID, quantised.pack(), body)
            if budget is None or len(data) <= budget:
                return data
        raise InputError(
            f"the {header.arch} network does not fit {bpppb:g} bpppb even at {MIN_BITS} bits"
        )

    def _storage_trials(self, shape, bpppb, per, pixels, iterations, seed, progress,
                        fit_options, jobs=1) -> list[Trial]:  # fmt: skip
        """Brief fits of fp16 and each quantised width with its default network (together,
        :func:`~hsinr.nn.search.fit_candidates`); the trials that fit the budget, best
        PSNR (of the stored weights) first."""
        from hsinr.nn.fit import full_mse
        from hsinr.nn.search import Trial, fit_candidates

        options = []
        for storage in [Storage(16)] + [Storage(16, bits, per) for bits in BIT_CHOICES]:
            try:
                options.append((storage, self.default_arch(shape, bpppb, storage)))
            except InputError:
                continue
        fitted = fit_candidates([arch for _, arch in options], pixels, iterations=iterations,
                                seed=seed, jobs=jobs, progress=progress,
                                description="bits search", **fit_options)  # fmt: skip
        trials = []  # every packed trial fits the budget: _pack falls back to fewer bits
        for (storage, arch), one in zip(options, fitted, strict=True):
            model = one.model.to(pixels.device)
            started = time.perf_counter()
            header = SirenHeader(shape[1], shape[0], shape[2], arch, 16, np.dtype("f4"),
                                 Normalisation(0, 1))  # fmt: skip
            try:
                data = self._pack(header, model, storage, bpppb, shape)
            except InputError:
                continue
            stored = copy.deepcopy(model)
            stored.load_flat(self._weights(*self.read_header(data)))
            psnr = psnr_of_mse(full_mse(stored, pixels))
            seconds = one.seconds + time.perf_counter() - started
            trials.append(Trial(arch, arch.param_count(shape[2]), 8 * len(data) / np.prod(shape),
                                psnr, seconds, model, storage))  # fmt: skip
        if not trials:
            self.default_arch(shape, bpppb, Storage(16))  # raises the minimum-rate error
        return sorted(trials, key=lambda trial: trial.psnr, reverse=True)

    @staticmethod
    def _training_data(cube: Cube, device: str, seed: int):
        """The pixels to fit: all in memory for a cube in memory; for a lazy cube, a
        reservoir of row blocks (:class:`~hsinr.nn.pixels.CubePixels`)."""
        import torch

        from hsinr.nn.pixels import CubePixels, TensorPixels
        from hsinr.nn.siren import grid

        if cube.lazy:
            scale = cube.scale()
            return CubePixels(cube, scale, device, seed), scale
        values, scale = cube.normalise(np.float32)
        coords = grid(cube.height, cube.width).to(device)
        targets = torch.from_numpy(values.reshape(-1, cube.bands)).to(device)
        return TensorPixels(coords, targets), scale

    # -- decoding ------------------------------------------------------------------------
    @staticmethod
    def read_header(data: bytes) -> tuple[SirenHeader, bytes]:
        """Check the file and its header; return the header and the weight bytes. (The
        file's size is not limited: a window of it decodes on its own, and the window is
        what :meth:`decode` checks.)"""
        frame = container.unpack(data)
        if frame.codec_id != CODEC_ID:
            raise container.CorruptFileError(f"not a siren file (codec id {frame.codec_id})")
        header = SirenHeader.unpack(frame.header)
        expected = header.payload_size()
        if len(frame.payload) != expected:
            raise container.CorruptFileError(
                f"siren payload is {len(frame.payload)} bytes, the header implies {expected}"
            )
        return header, frame.payload

    @staticmethod
    def _weights(header: SirenHeader, payload: bytes) -> np.ndarray:
        """All parameters in file order, float32, from a checked payload; refused as
        corrupt if any is NaN or infinite."""
        if not header.quantised:
            weights = np.frombuffer(payload, dtype=PRECISIONS[header.precision]).astype(np.float32)
        else:
            shapes = weight_shapes(header.arch, header.bands)
            tensors = decode_weights(payload, shapes, header.bits, header.per, header.words)
            weights = np.concatenate([tensor.reshape(-1) for tensor in tensors])
        if not np.all(np.isfinite(weights)):
            raise container.CorruptFileError("siren weights hold NaN or infinite values")
        return weights

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        """The checked header's fields, as plain values (for ``hsinr info``)."""
        header, _ = self.read_header(data)
        facts: dict[str, object] = {
            "shape": list(header.shape),
            "dtype": str(header.dtype),
            "min": header.scale.minimum,
            "max": header.scale.maximum,
            "arch": str(header.arch),
            "params": header.arch.param_count(header.bands),
            "weights": str(Storage(header.precision, header.bits, header.per)),
        }
        if header.quantised:
            facts.update(bits=header.bits, granularity=header.per, entropy_words=header.words)
        else:
            facts["precision_bits"] = header.precision
        return facts

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        """The window (rows / cols and a range of bands), a block of rows at a time.

        The network is evaluated on the window's pixels only, in chunks, and its output
        layer only for the window's bands, so memory is bounded by a block; the window
        and the work (pixels x multiply-adds per pixel) are checked against
        ``run.limits`` first.
        """

        from hsinr.nn.siren import Siren

        header, payload = self.read_header(data)
        row_ids, col_ids, band_ids = window.checked(header.shape)
        limits, device = run.limits, run.device
        limits.check_shape((len(row_ids), len(col_ids), len(band_ids)), "the decoded window")
        arch, pixels = header.arch, len(row_ids) * len(col_ids)
        per_pixel = 2 * arch.width + (arch.hidden_layers - 1) * arch.width**2
        limits.check_work(
            pixels * (per_pixel + arch.width * len(band_ids)),
            f"evaluating its {arch} network on {pixels:,} pixels",
        )
        limits.check_count(arch.param_count(header.bands), "the file's network weights")
        weights = self._weights(header, payload)
        model = Siren(header.arch.hidden_layers, header.arch.width, header.bands)
        model.load_flat(weights)
        model.to(device).eval()
        bands = slice(band_ids.start, band_ids.stop)
        shape = (len(row_ids), len(col_ids), len(band_ids))
        return Stream(shape, header.dtype, _rendered(header, model, bands, row_ids, col_ids,
                                                     device))  # fmt: skip


def _rendered(header: SirenHeader, model, bands: slice, row_ids: range, col_ids: range,
              device: str) -> Iterator[Piece]:  # fmt: skip
    """The network's output on the window, a block of up to ``DECODE_CHUNK`` pixels of
    whole rows at a time (a row longer than that in chunks of it), in original units.
    Every band is computed and the window's cut from them: a head cut to the window's
    bands is a product of another shape, whose rounding can differ from the full
    decode's by one unit in the last place (and a decoded value by one step)."""
    import torch

    from hsinr.nn.siren import grid

    width = bands.stop - bands.start
    block = max(1, DECODE_CHUNK // len(col_ids))
    cols = slice(col_ids.start, col_ids.stop)
    for start in range(row_ids.start, row_ids.stop, block):
        rows = range(start, min(start + block, row_ids.stop))
        coords = grid(header.height, header.width, slice(rows.start, rows.stop), cols)
        out = np.empty((len(coords), width), dtype=header.dtype)
        with torch.no_grad():
            for first in range(0, len(coords), DECODE_CHUNK):
                chunk = coords[first : first + DECODE_CHUNK].to(device)
                values = model.features(chunk) @ model.head.weight.T + model.head.bias
                values = values[:, bands]
                if not bool(torch.isfinite(values).all()):
                    raise container.CorruptFileError(
                        "the network's output is not finite: its weights are corrupt"
                    )
                values = values.clamp_(0.0, 1.0).cpu().numpy()
                out[first : first + DECODE_CHUNK] = header.scale.invert(values, header.dtype)
        yield Piece(range(rows.start - row_ids.start, rows.stop - row_ids.start),
                    range(len(col_ids)), out.reshape(len(rows), len(col_ids), width))
