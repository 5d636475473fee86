"""Codec ``meta``: the meta-learned modulated SIREN of the ICPRAM 2025 paper.

The cube is cut into the base network's ``patch`` x ``patch`` patches (edge patches are
partial); each patch's latent is fitted by a few SGD steps from 0 on the shared base
network (:mod:`hsinr.nn.meta`); the latents are quantised uniformly to ``bits`` bits over
their global range and entropy-coded with constriction's ANS coder under a quantised
Laplace model (one for all latent dimensions, or one per dimension, whichever file is
smaller). The file names its base network by hash; decoding needs that network. A cube
with more bands than the base has outputs is fitted on its spectra resampled to the
outputs' grid and rendered back onto its bands (:func:`spectral_resampling`). With a
budget the latents do not use up (``refine``, on by default), the residual is coded by
the ``latent`` codec in what is left, and the file is a version-2 container of two
chunks: the latents' payload, then the residual's ``latent`` file (docs/FORMAT.md).

    codec header (61 bytes, little-endian)
    base hash     16 bytes   first 16 bytes of the base network's SHA-256 content hash
    cube header   27 bytes   rows, cols uint32; bands uint16; dtype uint8; min, max float64
    patch         uint16     patch side (must equal the base network's)
    latent_dim    uint16     latent size (must equal the base network's)
    bits          uint8      quantiser bits b, 1-16
    model         uint8      0 = one Laplace for all dimensions, 1 = one per dimension
    low, step     float32 x2 latent = low + step * q, q in [0, 2^b - 1]
    words         uint32     number of 32-bit ANS words in the payload
    payload       M x (centre uint16, scale code uint8), M = 1 or latent_dim; then the words

>>> header_size = HEADER.size
>>> header_size
61
"""

from __future__ import annotations

import dataclasses
import math
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
from hsinr.codecs.header import CUBE_HEADER, CubeHeader
from hsinr.cube import Cube
from hsinr.entropy.groups import MODEL, LaplaceGroups
from hsinr.errors import InputError
from hsinr.lazy import LazyArray
from hsinr.limits import DEFAULT, Limits
from hsinr.metrics import psnr_of_mse
from hsinr.progress import progress_bar
from hsinr.quantise.uniform import dequantise, quantise, valid_quantiser
from hsinr.ratecontrol import budget_bytes

if TYPE_CHECKING:
    import torch

    from hsinr.basenet import BaseNetwork
    from hsinr.nn.modulated import ModulatedSiren

CODEC_ID = 6
HASH_BYTES = 16
_TAIL = struct.Struct("<HHBBffI")
HEADER = struct.Struct(f"<{HASH_BYTES}s{CUBE_HEADER.size}s{_TAIL.size}s")
SHARED, PER_DIMENSION = 0, 1
MAX_BITS = 16
BIT_CHOICES = tuple(range(MAX_BITS, 1, -1))  # tried from fine to coarse for a budget
DEFAULT_BITS = 8
PATCH_CHUNK = 64  # patches fitted / decoded at once
RESIDUAL_FRAMING = 8 + 4  # a chunked file's extra framing for the residual chunk
MIN_RESIDUAL_BYTES = 256  # below this, a residual file is all header
STRIP_PIXELS = 2**18  # a lazy cube is fitted, and any file decoded, in strips of this many


@dataclass(frozen=True)
class MetaHeader:
    base_hash: bytes
    cube: CubeHeader
    patch: int
    latent_dim: int
    bits: int
    model: int
    low: float
    step: float
    words: int

    @property
    def n_patches(self) -> int:
        rows, cols, _ = self.cube.shape
        return math.ceil(rows / self.patch) * math.ceil(cols / self.patch)

    @property
    def model_bytes(self) -> int:
        return MODEL.size * (1 if self.model == SHARED else self.latent_dim)

    @property
    def payload_bytes(self) -> int:
        return self.model_bytes + 4 * self.words

    def pack(self) -> bytes:
        tail = _TAIL.pack(
            self.patch, self.latent_dim, self.bits, self.model, self.low, self.step, self.words
        )
        return HEADER.pack(self.base_hash, self.cube.pack(), tail)

    @classmethod
    def unpack(cls, data: bytes, limits: Limits = DEFAULT) -> MetaHeader:
        if len(data) != HEADER.size:
            raise container.CorruptFileError(
                f"meta header is {len(data)} bytes, expected {HEADER.size}"
            )
        base_hash, cube_bytes, tail = HEADER.unpack(data)
        cube, _ = CubeHeader.unpack_from(cube_bytes, limits)
        patch, latent_dim, bits, model, low, step, words = _TAIL.unpack(tail)
        if patch < 1 or latent_dim < 1 or not 1 <= bits <= MAX_BITS:
            raise container.CorruptFileError("meta header holds an invalid patch, latent or bits")
        if model not in (SHARED, PER_DIMENSION):
            raise container.CorruptFileError(f"meta header names unknown model kind {model}")
        if not valid_quantiser(low, step, bits):
            raise container.CorruptFileError("meta header holds an invalid quantiser")
        return cls(base_hash, cube, patch, latent_dim, bits, model, low, step, words)


def file_size(header: MetaHeader) -> int:
    """Exact bytes of a meta file with this header."""
    return container.OVERHEAD + HEADER.size + header.payload_bytes


def _groups(shape: tuple[int, int], kind: int) -> tuple[np.ndarray, int]:
    """Each symbol's model (row-major (patch, dimension) order) and the number of models."""
    patches, dims = shape
    if kind == SHARED:
        return np.zeros(patches * dims, dtype=np.int64), 1
    return np.tile(np.arange(dims), patches), dims


def entropy_code(symbols: np.ndarray, bits: int, kind: int) -> tuple[bytes, np.ndarray]:
    """The side information and the ANS words of (B, L) symbols under model ``kind``."""
    groups, count = _groups(symbols.shape, kind)
    models = LaplaceGroups.fit(symbols.reshape(-1), groups, count, bits)
    return models.pack(), models.encode(symbols, groups, bits)


def entropy_decode(header: MetaHeader, payload: bytes) -> np.ndarray:
    """The (patches, latent_dim) symbols of a checked payload (their count checked
    against the limits by the caller)."""
    shape = (header.n_patches, header.latent_dim)
    groups, count = _groups(shape, header.model)
    models = LaplaceGroups.unpack(payload, count, header.bits)
    words = np.frombuffer(payload[header.model_bytes :], dtype="<u4")
    return models.decode(words, groups, header.bits).reshape(shape)



@dataclass(frozen=True)
class MetaOptions(Options):
    """``meta``'s options; the base network is the run's (``--base``)."""

    bits: int | str | None = option(
        None, f"latent quantiser bits, 2-{MAX_BITS}, or auto: the most that fit the budget "
        f"(default: auto with a budget, else {DEFAULT_BITS})",
        convert=auto_or_int(2, MAX_BITS), metavar="N|auto",
    )  # fmt: skip
    steps: int | None = option(None, "inner SGD steps per patch (default: the base network's)",
                               low=0, metavar="N")  # fmt: skip
    lr: float | None = option(None, "inner SGD learning rate (default: the base network's)",
                              above=0.0)  # fmt: skip
    refine: bool = option(True, "spend what the budget leaves after the latents on the "
                          "residual, coded by the latent codec (off: the latents alone)")

    def check(self) -> None:
        if self.bits == "auto" and self.bpppb is None:
            raise InputError("--bits auto chooses the bits for a budget: give --bpppb")


class MetaCodec(Codec):
    """Meta-learned INR codec: a few gradient steps per patch on a shared base network."""

    name = "meta"
    codec_id = CODEC_ID
    summary = ("meta-learned modulated SIREN (ICPRAM 2025): one latent per patch on a shared "
               "base network, quantised and entropy-coded")  # fmt: skip
    Options = MetaOptions
    needs_budget = False  # 8-bit latents without one
    encodes_in_parts = True  # a lazy cube: fitted a strip of patch rows at a time
    versions = (container.VERSION, container.CHUNKED)  # latents alone; latents + residual
    decodes_in_parts = True  # a strip of patch rows at a time, only the window's patches

    def uses_device(self, options: MetaOptions) -> bool:
        return True

    def _encode(self, cube: Cube, options: MetaOptions, run: Run) -> Encoding:
        """Fit each patch's latent (``steps`` SGD steps at ``lr``; by default the base
        network's own training settings) and code the latents at ``bits`` bits, or with
        ``bits="auto"`` (the default when a budget is given) the most bits within it.
        Without a budget, 8 bits. A budget below the 2-bit file writes that file (over
        the budget: see :meth:`Codec.encode`)."""
        from hsinr.nn.meta_settings import INNER_LR

        net = run.base_network()
        config = net.config
        bits = options.bits
        if bits is None:
            bits = "auto" if options.bpppb is not None else DEFAULT_BITS
        bit_choices = BIT_CHOICES if bits == "auto" else (bits,)
        steps = int(net.training.get("inner_steps", 3)) if options.steps is None else options.steps
        lr = float(net.training.get("inner_lr", INNER_LR)) if options.lr is None else options.lr
        cube_header = CubeHeader.of(cube)
        started = time.perf_counter()
        latents, mse = self._fit(net, cube, cube_header.scale, steps, lr, run.device,
                                 run.progress)  # fmt: skip
        fit_seconds = time.perf_counter() - started
        budget = None if options.bpppb is None else budget_bytes(options.bpppb, cube.shape)
        data = b""
        for chosen in bit_choices:
            data = self._pack(net, cube_header, config.patch, latents, chosen)
            if budget is None or len(data) <= budget:
                break
        fitted = psnr_of_mse(float(mse) / float(np.prod(cube.shape)))
        details = {"bits": chosen, "base": net.name, "base_bytes": net.size,
                   "fitted_psnr": fitted, "patches": len(latents), "fit_seconds": fit_seconds}
        left = None if budget is None else budget - len(data) - RESIDUAL_FRAMING
        if options.refine and left is not None and left >= MIN_RESIDUAL_BYTES:
            residual = self._residual(data, cube, 8 * left / float(np.prod(cube.shape)), run)
            if residual is not None:
                frame = container.unpack(data)
                data = container.pack_chunks(CODEC_ID, frame.header, [frame.payload, residual])
                details["residual_bytes"] = len(residual)
        return self.encoding(data, cube, options, details=details)

    def _residual(self, data: bytes, cube: Cube, bpppb: float, run: Run) -> bytes | None:
        """The residual of the latents' rendering (file ``data``), coded by the latent
        codec at ``bpppb`` (read a tile at a time through :class:`_Residual`), or None
        when the latent codec cannot write one within it."""
        import warnings

        from hsinr.codecs.base import BudgetWarning
        from hsinr.codecs.latent import LatentCodec

        residual = Cube(_Residual(cube, data, self, run), name=f"{cube.name} residual")
        # the latents render on run's device (in _Residual); the latent codec's work is CPU
        quiet = dataclasses.replace(run, progress=False, strip_metadata=True, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BudgetWarning)
            coded = LatentCodec().encode(residual, {"bpppb": bpppb}, quiet)
        return coded.data if coded.within_budget else None

    @staticmethod
    def _fit(net: BaseNetwork, cube: Cube, scale, steps, lr, device, progress):
        """Latents (B, L) for all patches in file order (row by row), fitted in chunks of
        patches of one extent on their pixels inside the image; and the total squared
        error. A cube in memory is one strip; a lazy one is read a strip of patch rows
        at a time."""
        from hsinr.nn.meta import fit_latents, tile_by_extent

        model, patch = net.model.to(device), net.config.patch
        rows, cols, _ = cube.shape
        per_row = math.ceil(cols / patch)
        found = np.empty((math.ceil(rows / patch) * per_row, net.config.latent_dim), np.float32)
        total = 0.0
        bar = progress_bar(total=len(found), desc="fitting latents", enabled=progress)
        outputs = net.config.bands
        down = spectral_resampling(cube.bands, outputs) if cube.bands > outputs else None
        for strip in _strips(rows, cols, patch, whole=not cube.lazy):
            values = scale.apply(cube.read(strip), np.float32)
            if down is not None:  # more bands than outputs: fitted on the outputs' grid
                values = values @ down
            for group in tile_by_extent(values, patch):
                for start in range(0, len(group), PATCH_CHUNK):
                    part = group.subset(slice(start, start + PATCH_CHUNK)).to(device)
                    latents, mse = fit_latents(model, part, steps=steps, lr=lr)
                    total += float((mse * part.targets[0].numel()).sum())
                    index = [(strip.start + row) // patch * per_row + col // patch
                             for row, col in part.positions]  # fmt: skip
                    found[index] = latents.cpu().numpy()
                    bar.update(len(part))
        bar.close()
        return found, total

    @staticmethod
    def _pack(net, cube_header, patch, latents: np.ndarray, bits: int) -> bytes:
        symbols, low, step = quantise(latents, bits)
        best = None
        for kind in (SHARED, PER_DIMENSION):
            side, words = entropy_code(symbols, bits, kind)
            header = MetaHeader(net.hash_prefix, cube_header, patch, latents.shape[1], bits,
                                kind, low, step, len(words))  # fmt: skip
            data = container.pack(CODEC_ID, header.pack(), side + words.tobytes())
            if best is None or len(data) < len(best):
                best = data
        return best

    # -- decoding ------------------------------------------------------------------------
    @staticmethod
    def read_header(data: bytes, limits: Limits = DEFAULT) -> tuple[MetaHeader, bytes]:
        """Check the file and its header; return the header and the payload."""
        frame = container.unpack(data)
        if frame.codec_id != CODEC_ID:
            raise container.CorruptFileError(f"not a meta file (codec id {frame.codec_id})")
        header = MetaHeader.unpack(frame.header, limits)
        payload = frame.payload
        if frame.chunks is not None:  # latents, then the residual
            if len(frame.chunks) != 2:
                raise container.CorruptFileError(
                    f"a meta file holds latents and one residual, not {len(frame.chunks)} chunks")
            payload = frame.chunks[0]
        if len(payload) != header.payload_bytes:
            raise container.CorruptFileError(
                f"meta payload is {len(payload)} bytes, the header implies "
                f"{header.payload_bytes}"
            )
        return header, payload

    @staticmethod
    def residual_of(data: bytes) -> bytes | None:
        """The residual's latent file (None for a file of latents alone)."""
        frame = container.unpack(data)
        return None if frame.chunks is None else frame.chunks[1]

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        header, _ = self.read_header(data, (run or Run()).limits)
        return {
            **header.cube.describe(),
            "base": header.base_hash.hex(),
            "patch": header.patch,
            "patches": header.n_patches,
            "latent_dim": header.latent_dim,
            "bits": header.bits,
            "entropy_model": "per-dimension" if header.model == PER_DIMENSION else "shared",
            "entropy_bytes": 4 * header.words,
            "residual_bytes": len(self.residual_of(data) or b""),
        }

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        """The window, a strip of patch rows at a time (see :meth:`_rendering`), plus the
        residual's window when the file has one."""
        rendering = self._rendering(data, run)
        wanted = window.checked(rendering.header.cube.shape)
        residual = self.residual_of(data)
        if residual is None:
            pieces = rendering.pieces(wanted)
        else:
            pieces = _refined(rendering, residual, wanted, run)
        return Stream(rendering.shape(wanted), rendering.header.cube.dtype, pieces)

    def _rendering(self, data: bytes, run: Run) -> _Rendering:
        """The file's latents, decoded once, and the network to render any window of them
        with; the base network is the run's, and must be the one the file names. The
        latents' count and the network's work on the image's pixels are checked against
        ``run.limits`` before anything is decoded."""
        import torch

        limits = run.limits
        header, payload = self.read_header(data, limits)
        net = _matching_base(header, run.base)
        rows, cols, bands = header.cube.shape
        config = net.config
        limits.check_count(header.n_patches * header.latent_dim, "the file's latents")
        per_pixel = 2 * config.width + (config.hidden_layers - 1) * config.width**2
        limits.check_work(
            rows * cols * (per_pixel + config.width * config.bands + config.bands * bands)
            + header.n_patches * header.latent_dim * config.modulations,
            f"evaluating its base network on {rows:,} x {cols:,} pixels",
        )
        symbols = entropy_decode(header, payload)
        latents = torch.from_numpy(dequantise(symbols, header.low, header.step))
        up = spectral_resampling(config.bands, bands) if bands > config.bands else None
        return _Rendering(header, net.model.to(run.device), latents, run.device, up)


@dataclass(frozen=True)
class _Rendering:
    """A meta file's decoded latents and the network that renders them: any window, only
    the patches it touches, only on their pixels inside the image."""

    header: MetaHeader
    model: ModulatedSiren
    latents: torch.Tensor
    device: str
    up: np.ndarray | None  # the outputs' grid to the cube's bands, when it has more

    @staticmethod
    def shape(wanted: tuple[range, range, range]) -> tuple[int, int, int]:
        return tuple(len(part) for part in wanted)  # type: ignore[return-value]

    def pieces(self, wanted: tuple[range, range, range]) -> Iterator[Piece]:
        return _rendered(self.header, self.model, self.latents, wanted, self.device, self.up)

    def window(self, wanted: tuple[range, range, range]) -> np.ndarray:
        """The rendering of ``wanted`` in one array, in the cube's dtype."""
        dtype = self.header.cube.dtype
        return Stream(self.shape(wanted), dtype, self.pieces(wanted)).assembled().data


def _strips(rows: int, cols: int, patch: int, whole: bool = False) -> list[range]:
    """Strips of whole patch rows covering ``rows`` (all in one with ``whole``), each of
    about ``STRIP_PIXELS`` pixels."""
    if whole:
        return [range(rows)]
    height = patch * max(1, STRIP_PIXELS // (patch * cols))
    return [range(start, min(start + height, rows)) for start in range(0, rows, height)]


def _rendered(header: MetaHeader, model, latents, wanted: tuple[range, range, range],
              device: str, up: np.ndarray | None = None) -> Iterator[Piece]:  # fmt: skip
    """The window ``wanted`` (rows, cols, bands), a strip of patch rows at a time: the
    patches a strip has in the window's columns, rendered on their pixels inside the
    image in chunks of one extent, restored to original units and cut to the window."""
    import torch

    from hsinr.nn.meta import render

    rows, cols, bands = wanted
    height, width, _ = header.cube.shape
    patch, per_row = header.patch, math.ceil(width / header.patch)
    first_col, last_col = cols.start // patch, (cols.stop - 1) // patch
    left = first_col * patch
    strip_height = _strips(height, width, patch, whole=height * width <= STRIP_PIXELS)[0]
    step = len(strip_height)
    for top in range((rows.start // patch) * patch, rows.stop, step):
        bottom = min(top + step, height)
        right = min((last_col + 1) * patch, width)
        block = np.empty((bottom - top, right - left, len(bands)), dtype=header.cube.dtype)
        by_extent: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for row in range(top, bottom, patch):
            for col in range(left, right, patch):
                extent = (min(patch, height - row), min(patch, width - col))
                by_extent.setdefault(extent, []).append((row, col))
        for (tall, wide), corners in by_extent.items():
            for start in range(0, len(corners), PATCH_CHUNK):
                chunk = corners[start : start + PATCH_CHUNK]
                index = [row // patch * per_row + col // patch for row, col in chunk]
                outputs = render(model, latents[index].to(device), patch, (tall, wide))
                if not bool(torch.isfinite(outputs).all()):
                    raise container.CorruptFileError(
                        "the network's output is not finite: the latents are corrupt"
                    )
                outputs = outputs.cpu().numpy()
                if up is not None:  # the outputs' grid back to the cube's bands
                    outputs = outputs @ up[:, bands.start : bands.stop]
                else:
                    outputs = outputs[..., bands.start : bands.stop]
                values = np.clip(outputs, 0.0, 1.0)
                restored = header.cube.scale.invert(values, header.cube.dtype)
                for (row, col), patch_values in zip(chunk, restored, strict=True):
                    block[row - top : row - top + tall, col - left : col - left + wide] = (
                        patch_values.reshape(tall, wide, len(bands))
                    )
        inside = range(max(rows.start, top), min(rows.stop, bottom))
        part = block[inside.start - top : inside.stop - top, cols.start - left : cols.stop - left]
        yield Piece(range(inside.start - rows.start, inside.stop - rows.start), range(len(cols)),
                    part)  # fmt: skip


def _refined(rendering: _Rendering, residual: bytes, wanted: tuple[range, range, range],
             run: Run) -> Iterator[Piece]:  # fmt: skip
    """The window with the residual added, in the residual's pieces (one per tile of the
    latent file, decoded once each): each piece's part of the window rendered from the
    latents plus the residual, in the original dtype (rounded and clipped to its range
    for an integer dtype)."""
    from hsinr.codecs.latent import LatentCodec
    from hsinr.cube import integer_bounds

    dtype = rendering.header.cube.dtype
    rows, cols, bands = wanted
    window = Window(slice(rows.start, rows.stop), slice(cols.start, cols.stop),
                    slice(bands.start, bands.stop))  # fmt: skip
    for piece in LatentCodec().stream(residual, window, run).pieces:
        part = (range(rows.start + piece.rows.start, rows.start + piece.rows.stop),
                range(cols.start + piece.cols.start, cols.start + piece.cols.stop), bands)
        total = rendering.window(part).astype(np.float64) + piece.values
        if np.issubdtype(dtype, np.integer):
            total = np.clip(np.rint(total), *integer_bounds(dtype))
        yield Piece(piece.rows, piece.cols, total.astype(dtype))


class _Residual(LazyArray):
    """A cube minus the rendering of its meta file (latents alone), a window at a time, in
    a dtype that holds every difference (int32 / int64 for integer cubes, else float)."""

    def __init__(self, cube: Cube, data: bytes, codec: MetaCodec, run: Run) -> None:
        self._cube = cube
        self._rendering = codec._rendering(data, run)  # the latents decoded once
        self.shape = cube.shape
        integer = np.issubdtype(cube.dtype, np.integer)
        self.dtype = np.dtype(np.int32 if integer and cube.dtype.itemsize <= 2 else
                              np.int64 if integer else np.float64)  # fmt: skip
        self.where = f"{cube.source or cube.name} (residual)"

    def _read(self, rows: range, cols: range, bands: range) -> np.ndarray:
        rendered = self._rendering.window((rows, cols, bands))
        return self._cube.read(rows, cols, bands).astype(self.dtype) - rendered.astype(self.dtype)


def spectral_resampling(sources: int, targets: int) -> np.ndarray:
    """The (sources, targets) matrix of linear interpolation along the band axis, both
    sets of bands spread evenly over the same span: ``values @ M`` resamples spectra of
    ``sources`` bands to ``targets``. A cube with more bands than the base network has
    outputs is fitted on the outputs' grid and rendered back onto its own bands.

    >>> m = spectral_resampling(5, 3)
    >>> (np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]) @ m).tolist()
    [[0.0, 2.0, 4.0]]
    """
    position = np.linspace(0.0, sources - 1.0, targets)
    low = np.minimum(np.floor(position).astype(np.int64), sources - 1)
    high = np.minimum(low + 1, sources - 1)
    weight = position - low
    matrix = np.zeros((sources, targets))
    np.add.at(matrix, (low, np.arange(targets)), 1.0 - weight)
    np.add.at(matrix, (high, np.arange(targets)), weight)
    return matrix.astype(np.float32)


def _matching_base(header: MetaHeader, base):
    """The base network ``base`` names (None: the shipped one), if it is the file's."""
    from hsinr.basenet import BaseNetworkError, resolve_base

    wanted = header.base_hash.hex()
    try:
        net = resolve_base(base)
    except BaseNetworkError as exc:
        raise BaseNetworkError(
            f"this file needs base network {wanted}, and it could not be loaded: {exc}"
        ) from exc
    if net.hash_prefix != header.base_hash:
        where = "the shipped base network" if base is None else f"the given base ({base})"
        raise BaseNetworkError(
            f"this file was compressed with base network {wanted}, but {where} is "
            f"{net.name}; pass the right one with --base FILE"
        )
    if (net.config.patch, net.config.latent_dim) != (header.patch, header.latent_dim):
        raise container.CorruptFileError("meta header's patch / latent size differ from its base")
    return net
