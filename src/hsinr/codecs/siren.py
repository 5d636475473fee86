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

import inspect
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import torch

from hsinr import container
from hsinr.cube import Cube, Normalisation
from hsinr.errors import InputError
from hsinr.nn.fit import FitResult, fit
from hsinr.nn.search import Arch, Trial
from hsinr.nn.search import search as search_architectures
from hsinr.nn.siren import Siren, grid

CODEC_ID = 1
HEADER = struct.Struct("<HHHBBBBdd")
FLAG_FP16 = 0x01
PRECISIONS = {32: np.dtype("<f4"), 16: np.dtype("<f2")}
MIN_WIDTH = 4
MAX_SIDE = 0xFFFF
MAX_LAYER_SIZE = 0xFF
SEARCH_DEPTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25)
MAX_DECODE_VALUES = 2**31  # refuse to allocate more decoded values than this at once
DECODE_CHUNK = 65536  # pixels evaluated at once when decoding


@dataclass
class SirenEncoding:
    """What :func:`SirenCodec.compress` did: the file and how it was made."""

    data: bytes
    arch: Arch
    precision: int
    fit: FitResult
    trials: list[Trial] = field(default_factory=list)


@dataclass(frozen=True)
class SirenHeader:
    width: int
    height: int
    bands: int
    arch: Arch
    precision: int
    dtype: np.dtype
    scale: Normalisation

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.bands)

    def pack(self) -> bytes:
        flags = FLAG_FP16 if self.precision == 16 else 0
        return HEADER.pack(
            self.width, self.height, self.bands, *self.arch, flags,
            container.dtype_code(self.dtype), self.scale.minimum, self.scale.maximum,
        )  # fmt: skip

    @classmethod
    def unpack(cls, header: bytes) -> SirenHeader:
        if len(header) != HEADER.size:
            raise container.CorruptFileError(
                f"siren header is {len(header)} bytes, expected {HEADER.size}"
            )
        width, height, bands, n_h, w_h, flags, code, low, high = HEADER.unpack(header)
        if min(width, height, bands, n_h, w_h) < 1:
            raise container.CorruptFileError("siren header holds a zero size")
        if flags & ~FLAG_FP16:
            raise container.CorruptFileError(f"siren header has unknown flags {flags:#x}")
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise container.CorruptFileError("siren header holds an invalid value range")
        return cls(
            width, height, bands, Arch(n_h, w_h), 16 if flags & FLAG_FP16 else 32,
            container.dtype_from_code(code), Normalisation(low, high),
        )  # fmt: skip


def _check_shape(shape: tuple[int, int, int]) -> None:
    if max(shape) > MAX_SIDE:
        raise InputError(f"the siren codec stores sizes as 16 bits: {shape} exceeds {MAX_SIDE}")


def _check_arch(arch: Arch) -> None:
    layers_ok = 1 <= arch.hidden_layers <= MAX_LAYER_SIZE
    if not (layers_ok and MIN_WIDTH <= arch.width <= MAX_LAYER_SIZE):
        raise InputError(
            f"architecture {arch}: layers must be 1-{MAX_LAYER_SIZE} and width "
            f"{MIN_WIDTH}-{MAX_LAYER_SIZE}"
        )


class SirenCodec:
    """Per-image SIREN codec (``encode`` aims at a bpppb budget; ``decode`` needs only bytes)."""

    name = "siren"
    codec_id = CODEC_ID

    # -- rate arithmetic ---------------------------------------------------------------
    @staticmethod
    def file_size(shape: tuple[int, int, int], arch: Arch, precision: int) -> int:
        """Exact bytes of the file for a cube of ``shape`` coded with ``arch``."""
        weight_bytes = PRECISIONS[precision].itemsize
        return container.OVERHEAD + HEADER.size + arch.param_count(shape[2]) * weight_bytes

    def bpppb_of(self, shape: tuple[int, int, int], arch: Arch, precision: int) -> float:
        height, width, bands = shape
        return 8 * self.file_size(shape, arch, precision) / (height * width * bands)

    def widest(self, shape, hidden_layers: int, budget_bytes: float, precision: int) -> Arch | None:
        """The widest network of ``hidden_layers`` whose file fits ``budget_bytes``."""
        best = None
        for width in range(MIN_WIDTH, MAX_LAYER_SIZE + 1):
            if self.file_size(shape, Arch(hidden_layers, width), precision) > budget_bytes:
                break
            best = Arch(hidden_layers, width)
        return best

    def candidates(self, shape, bpppb: float, precision: int, depths=SEARCH_DEPTHS) -> list[Arch]:
        """For each depth, the widest network that fits the budget."""
        budget = bpppb * shape[0] * shape[1] * shape[2] / 8
        found = [self.widest(shape, depth, budget, precision) for depth in depths]
        return [arch for arch in found if arch is not None]

    def min_bpppb(self, shape: tuple[int, int, int], precision: int) -> float:
        """The rate of the smallest network (1 layer of ``MIN_WIDTH``) for this cube."""
        return self.bpppb_of(shape, Arch(1, MIN_WIDTH), precision)

    def default_arch(self, shape, bpppb: float, precision: int) -> Arch:
        """The deepest candidate at least three times as wide as it is deep (else the
        shallowest): deep-and-narrow as the paper's picks, without a search."""
        found = self.candidates(shape, bpppb, precision, depths=range(1, 41))
        if not found:
            raise InputError(
                f"{bpppb:g} bpppb is too small for any SIREN on a {shape[0]} x {shape[1]} x "
                f"{shape[2]} cube at {precision} bits: the minimum is "
                f"{self.min_bpppb(shape, precision):.4g} bpppb"
            )
        balanced = [arch for arch in found if arch.width >= 3 * arch.hidden_layers]
        return balanced[-1] if balanced else found[0]

    # -- encoding ------------------------------------------------------------------------
    def encode(self, cube: Cube, *, bpppb: float | None = None, **options) -> bytes:
        """The compressed file of ``cube`` (see :meth:`compress` for the options)."""
        return self.compress(cube, bpppb=bpppb, **options).data

    def compress(
        self,
        cube: Cube,
        *,
        bpppb: float | None = None,
        precision: int = 32,
        arch: Arch | str | tuple[int, int] | None = None,
        search: bool = False,
        iterations: int = 2000,
        search_iterations: int = 300,
        lr: float = 2e-4,
        schedule: str = "constant",
        max_seconds: float | None = None,
        target_psnr: float | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> SirenEncoding:
        """Fit a SIREN to ``cube`` within ``bpppb`` and pack it.

        The network is ``arch`` when given, the best of a brief search over the networks
        that fit the budget with ``search=True``, else :meth:`default_arch`.
        """
        if precision not in PRECISIONS:
            raise InputError(f"precision must be 16 or 32 bits, not {precision}")
        _check_shape(cube.shape)
        if arch is None and bpppb is None:
            raise InputError("give a bit budget (bpppb) or an architecture")
        if bpppb is not None and bpppb <= 0:
            raise InputError(f"the bit budget must be positive, not {bpppb}")
        coords, targets, scale = self._training_data(cube, device)
        trials: list[Trial] = []
        model = None
        if arch is not None:
            arch = Arch.parse(arch) if isinstance(arch, str) else Arch(*arch)
            _check_arch(arch)
            needed = self.bpppb_of(cube.shape, arch, precision)
            if bpppb is not None and needed > bpppb * (1 + 1e-9):
                raise InputError(
                    f"architecture {arch} needs {needed:.4g} "
                    f"bpppb at {precision} bits, over the budget of {bpppb:g}"
                )
        elif search:
            candidates = self.candidates(cube.shape, bpppb, precision)
            if not candidates:
                self.default_arch(cube.shape, bpppb, precision)  # raises the minimum-rate error
            trials = search_architectures(
                candidates, coords, targets,
                bpppb_of={a: self.bpppb_of(cube.shape, a, precision) for a in candidates},
                iterations=search_iterations, lr=lr, seed=seed, progress=progress,
                batch_size=batch_size,
            )  # fmt: skip
            arch, model = trials[0].arch, trials[0].model
        else:
            arch = self.default_arch(cube.shape, bpppb, precision)
        if model is None:
            torch.manual_seed(seed)
            model = Siren(arch.hidden_layers, arch.width, cube.bands).to(device)
        generator = torch.Generator().manual_seed(seed)
        result = fit(
            model, coords, targets, iterations=iterations, lr=lr, schedule=schedule,
            max_seconds=max_seconds, target_psnr=target_psnr, batch_size=batch_size,
            generator=generator, progress=progress, description=f"fitting {arch}",
        )  # fmt: skip
        header = SirenHeader(
            cube.width, cube.height, cube.bands, arch, precision, cube.dtype, scale
        )
        weights = model.to_flat().astype(PRECISIONS[precision])
        if not np.all(np.isfinite(weights)):
            raise InputError(
                f"the fitted weights do not fit in fp{precision} (overflow); use --precision 32"
            )
        data = container.pack(CODEC_ID, header.pack(), weights.tobytes())
        for trial in trials:
            trial.model = None  # free the candidates
        return SirenEncoding(data, arch, precision, result, trials)

    # ``encode`` takes exactly the options of ``compress``: say so to option checking.
    encode.__signature__ = inspect.signature(compress)  # type: ignore[attr-defined]

    @staticmethod
    def _training_data(cube: Cube, device: str):
        values, scale = cube.normalise(np.float32)
        coords = grid(cube.height, cube.width).to(device)
        targets = torch.from_numpy(values.reshape(-1, cube.bands)).to(device)
        return coords, targets, scale

    # -- decoding ------------------------------------------------------------------------
    @staticmethod
    def read_header(data: bytes) -> tuple[SirenHeader, bytes]:
        """Check the file and its header; return the header and the weight bytes."""
        frame = container.unpack(data)
        if frame.codec_id != CODEC_ID:
            raise container.CorruptFileError(f"not a siren file (codec id {frame.codec_id})")
        header = SirenHeader.unpack(frame.header)
        expected = header.arch.param_count(header.bands) * PRECISIONS[header.precision].itemsize
        if len(frame.payload) != expected:
            raise container.CorruptFileError(
                f"siren payload is {len(frame.payload)} bytes, the header implies {expected}"
            )
        return header, frame.payload

    def describe(self, data: bytes) -> dict[str, object]:
        """The checked header's fields, as plain values (for ``hsinr info``)."""
        header, _ = self.read_header(data)
        return {
            "shape": list(header.shape),
            "dtype": str(header.dtype),
            "min": header.scale.minimum,
            "max": header.scale.maximum,
            "arch": str(header.arch),
            "params": header.arch.param_count(header.bands),
            "precision_bits": header.precision,
        }

    def decode(
        self,
        data: bytes,
        *,
        rows: slice = slice(None),
        cols: slice = slice(None),
        bands: slice = slice(None),
        device: str = "cpu",
    ) -> Cube:
        """The cube, or only a window of ``rows`` / ``cols`` and a range of ``bands``.

        The network is evaluated on the window's pixels only, in chunks, and its output
        layer only for the requested bands, so memory is bounded by the output.
        """
        header, payload = self.read_header(data)
        if any(part.step not in (None, 1) for part in (rows, cols, bands)):
            raise InputError("windows and band ranges must be contiguous (step 1)")
        row_ids = range(header.height)[rows]
        col_ids = range(header.width)[cols]
        band_ids = range(header.bands)[bands]
        n_values = len(row_ids) * len(col_ids) * len(band_ids)
        if n_values == 0:
            raise InputError("the requested window or band range is empty")
        if n_values > MAX_DECODE_VALUES:
            raise InputError(
                f"the file asks for {len(row_ids)} x {len(col_ids)} x {len(band_ids)} decoded "
                f"values, over the limit of {MAX_DECODE_VALUES:,}; decode a window instead"
            )
        weights = np.frombuffer(payload, dtype=PRECISIONS[header.precision]).astype(np.float32)
        model = Siren(header.arch.hidden_layers, header.arch.width, header.bands)
        model.load_flat(weights)
        model.to(device).eval()
        head_weight = model.head.weight[bands]
        head_bias = model.head.bias[bands]
        coords = grid(header.height, header.width, rows, cols)
        out = np.empty((len(row_ids) * len(col_ids), len(band_ids)), dtype=header.dtype)
        with torch.no_grad():
            for start in range(0, coords.shape[0], DECODE_CHUNK):
                chunk = coords[start : start + DECODE_CHUNK].to(device)
                values = model.features(chunk) @ head_weight.T + head_bias
                values = values.clamp_(0.0, 1.0).cpu().numpy()
                out[start : start + DECODE_CHUNK] = header.scale.invert(values, header.dtype)
        return Cube(out.reshape(len(row_ids), len(col_ids), len(band_ids)), name="decoded")
