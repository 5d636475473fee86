"""Pictures for ``hsinr view``: a cube or a compressed file in true or false colour, or
original | decoded | per-pixel error with the spectra of a few pixels.

A picture is a thumbnail of every ``step``-th row and column (the longest side at most
:data:`MAX_SIDE`), so any scene fits in memory: a lazy cube is read a block of rows at a
time (only the three colour bands, unless an error map needs every band), and a
compressed file larger than :data:`WHOLE_BYTES` decoded is subsampled from the pieces its
codec decodes one after another (smaller ones are decoded whole). The functions return a
:class:`View`: the arrays drawn and the choices made (bands, pixels), for a caller to use.

>>> import os, tempfile
>>> import hsinr
>>> shown = colour(hsinr.datasets.sample(), os.path.join(tempfile.mkdtemp(), "sample.png"))
>>> shown.bands, shown.image.shape, shown.step
((23, 16, 7), (64, 64, 3), 1)
>>> shown.labels[0]
'R: band 23'
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsinr import codecs, container, io
from hsinr.codecs import Run, Window
from hsinr.cube import Cube
from hsinr.errors import HsinrError, InputError
from hsinr.io._atomic import atomic_outputs
from hsinr.limits import DEFAULT, Limits
from hsinr.plot import RGB_FRACTIONS, RGB_NM  # also selects matplotlib's Agg backend

MAX_SIDE = 1024  # the thumbnail's longest side, in pixels
READ_BYTES = 16 * 2**20  # values one read of a lazy cube may span
WHOLE_BYTES = 64 * 2**20  # a compressed file whose cube is smaller is decoded whole
DISPLAY_SIDE = 768  # a colour picture smaller than this is enlarged (whole pixels)
METRICS = ("rmse", "sam")
CHANNELS = ("R", "G", "B")
STRETCH = (2.0, 98.0)  # the percentiles each colour channel is stretched between
MICROMETRE_BELOW = 30.0  # wavelengths all below this are in micrometres, not nanometres

PathLike = str | os.PathLike[str]


# -- sources: a cube or a compressed file, read on the thumbnail's grid ----------------------


@dataclass(frozen=True)
class Block:
    """Values at some points of the thumbnail's grid: thumbnail ``rows`` x ``cols`` (the
    pixels ``(row * step, col * step)`` of the cube) x the bands asked for."""

    rows: range
    cols: range
    values: np.ndarray


@contextmanager
def _named(name: str) -> Iterator[None]:
    """Errors raised inside name ``name`` (unless they already do)."""
    try:
        yield
    except HsinrError as exc:
        if str(exc).startswith(name):
            raise
        raise type(exc)(f"{name}: {exc}") from exc


class Source:
    """What a picture is drawn from: ``shape``, ``dtype``, ``wavelengths`` (or None) and
    ``name``, values on the thumbnail's grid in blocks, and single pixels' spectra."""

    name: str
    shape: tuple[int, int, int]
    dtype: np.dtype
    wavelengths: np.ndarray | None = None
    streamed: bool = False  # values come only in the codec's order (no grid reads)

    def blocks(self, step: int, bands: Sequence[int] | None) -> Iterator[Block]:
        """The whole grid of ``step``, in blocks (``bands`` None: every band)."""
        raise NotImplementedError

    def grid(self, step: int, rows: range, cols: range, bands: Sequence[int] | None) -> np.ndarray:
        """The values at thumbnail ``rows`` x ``cols`` of the grid of ``step``."""
        raise NotImplementedError

    def spectrum(self, row: int, col: int) -> np.ndarray:
        """The values of every band at pixel (``row``, ``col``)."""
        raise NotImplementedError


class CubeSource(Source):
    """A cube, in memory or lazy: grid values read a block of rows at a time, each read
    spanning at most :data:`READ_BYTES` of values (one row when a row is larger)."""

    def __init__(self, cube: Cube, name: str | None = None) -> None:
        self.cube = cube
        self.name = name or cube.source or cube.name
        self.shape = cube.shape
        self.dtype = cube.dtype
        self.wavelengths = cube.wavelengths

    def _rows_per_read(self, step: int, cols: range, band_count: int) -> int:
        """Thumbnail rows whose span of cube rows one read may cover."""
        row_bytes = ((len(cols) - 1) * step + 1) * band_count * self.dtype.itemsize
        reach = READ_BYTES // max(1, row_bytes)  # cube rows one read may span
        return max(1, (reach - 1) // step + 1)

    def grid(self, step: int, rows: range, cols: range, bands: Sequence[int] | None) -> np.ndarray:
        parts = [range(self.shape[2])] if bands is None else [range(b, b + 1) for b in bands]
        out = np.empty((len(rows), len(cols), sum(map(len, parts))), dtype=self.dtype)
        span_cols = range(cols.start * step, (cols.stop - 1) * step + 1)
        per_read = self._rows_per_read(step, cols, len(parts[0]))
        with _named(self.name):
            for first in range(0, len(rows), per_read):
                chunk = rows[first : first + per_read]
                span_rows = range(chunk.start * step, chunk[-1] * step + 1)
                at = 0
                for part in parts:
                    values = self.cube.read(span_rows, span_cols, part)
                    out[first : first + len(chunk), :, at : at + len(part)] = values[::step, ::step]
                    at += len(part)
        return out

    def blocks(self, step: int, bands: Sequence[int] | None) -> Iterator[Block]:
        height, width = thumbnail_shape(self.shape, step)
        cols = range(width)
        per_block = self._rows_per_read(step, cols, self.shape[2] if bands is None else 1)
        for first in range(0, height, per_block):
            rows = range(first, min(height, first + per_block))
            yield Block(rows, cols, self.grid(step, rows, cols, bands))

    def spectrum(self, row: int, col: int) -> np.ndarray:
        with _named(self.name):
            window = (range(row, row + 1), range(col, col + 1), range(self.shape[2]))
            return np.array(self.cube.read(*window)[0, 0])


class FileSource(Source):
    """A compressed file too large to decode whole: its codec's pieces subsampled as they
    come (memory holds one piece), single pixels decoded as 1 x 1 windows."""

    streamed = True

    def __init__(self, data, name: str, run: Run) -> None:
        self.data, self.name, self.run = data, name, run
        with _named(name):
            self.codec = codecs.for_file(data)
            facts = self.codec.describe(data, run)
        self.shape = tuple(int(n) for n in facts["shape"])  # type: ignore[assignment]
        self.dtype = np.dtype(str(facts["dtype"]))

    def blocks(self, step: int, bands: Sequence[int] | None) -> Iterator[Block]:
        low = 0 if bands is None else min(bands)
        window = Window() if bands is None else Window(bands=slice(low, max(bands) + 1))
        pick = None if bands is None else [band - low for band in bands]
        with _named(self.name):
            for piece in self.codec.stream(self.data, window, self.run):
                rows = range(-(-piece.rows.start // step), -(-piece.rows.stop // step))
                cols = range(-(-piece.cols.start // step), -(-piece.cols.stop // step))
                if not rows or not cols:
                    continue
                values = piece.values[rows.start * step - piece.rows.start :: step,
                                      cols.start * step - piece.cols.start :: step]  # fmt: skip
                values = values[: len(rows), : len(cols)]
                if pick is not None:
                    values = values[:, :, pick]
                yield Block(rows, cols, np.ascontiguousarray(values))

    def spectrum(self, row: int, col: int) -> np.ndarray:
        window = Window(slice(row, row + 1), slice(col, col + 1))
        with _named(self.name):
            return np.array(self.codec.decode(self.data, window, self.run).data[0, 0])


def _compressed_bytes(path: Path):
    with open(path, "rb") as stream:
        if not container.is_container(stream.read(len(container.MAGIC))):
            return None
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)


def open_source(
    item: Source | Cube | PathLike, *, var: str | None = None, limits: Limits = DEFAULT,
    run: Run | None = None,
) -> Source:  # fmt: skip
    """A :class:`Source` for a cube, a cube file (read lazily where the format allows) or
    a compressed ``.hsinr`` file (decoded whole when its cube is under
    :data:`WHOLE_BYTES`, else streamed)."""
    if isinstance(item, Source):
        return item
    if isinstance(item, Cube):
        return CubeSource(item)
    path = Path(item)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    run = Run(limits=limits, progress=False) if run is None else run
    data = _compressed_bytes(path) if path.stat().st_size else None
    if data is None:
        return CubeSource(io.load(path, var=var, limits=limits, lazy=True), path.name)
    streamed = FileSource(data, path.name, run)
    if math.prod(streamed.shape) * streamed.dtype.itemsize > WHOLE_BYTES:
        return streamed
    with _named(path.name):
        return CubeSource(streamed.codec.decode(data, run=run), path.name)


# -- choices: the grid, the bands, the pixels -------------------------------------------------


def thumbnail_step(shape: Sequence[int], max_side: int = MAX_SIDE) -> int:
    """Every how many rows and columns the thumbnail takes (its longest side <= ``max_side``)."""
    return max(1, -(-max(shape[0], shape[1]) // max_side))


def thumbnail_shape(shape: Sequence[int], step: int) -> tuple[int, int]:
    return -(-shape[0] // step), -(-shape[1] // step)


def _in_nanometres(wavelengths: np.ndarray) -> tuple[np.ndarray, str]:
    """The wavelengths in nm, and their own unit (values all below 30: micrometres)."""
    if float(np.max(wavelengths)) < MICROMETRE_BELOW:
        return wavelengths * 1000.0, "µm"
    return wavelengths, "nm"


def axis_unit(wavelengths: np.ndarray | None) -> str | None:
    """The wavelengths' unit (nm or µm), or None when they are not known."""
    return None if wavelengths is None else _in_nanometres(wavelengths)[1]


def choose_bands(
    band_count: int, wavelengths: np.ndarray | None = None,
    bands: Sequence[int] | None = None,
) -> tuple[int, int, int]:  # fmt: skip
    """The bands shown as red, green and blue: ``bands`` (checked), else those nearest
    640 / 550 / 460 nm when the wavelengths reach the visible, else fixed fractions of
    the band count (:data:`hsinr.plot.RGB_FRACTIONS`)."""
    if bands is not None:
        if len(bands) != 3:
            raise InputError(f"--bands needs three bands (red, green, blue), not {len(bands)}")
        for band in bands:
            if not 0 <= band < band_count:
                raise InputError(f"--bands: band {band} is not one of the cube's {band_count} "
                                 f"bands (0-{band_count - 1})")  # fmt: skip
        return int(bands[0]), int(bands[1]), int(bands[2])
    if wavelengths is not None:
        nanometres, _ = _in_nanometres(wavelengths)
        margin = 30.0
        if nanometres.min() <= RGB_NM[-1] + margin and nanometres.max() >= RGB_NM[0] - margin:
            red, green, blue = (int(np.argmin(np.abs(nanometres - nm))) for nm in RGB_NM)
            return red, green, blue
    red, green, blue = (min(band_count - 1, round(f * (band_count - 1))) for f in RGB_FRACTIONS)
    return red, green, blue


def band_labels(bands: Sequence[int], wavelengths: np.ndarray | None) -> tuple[str, str, str]:
    """``"R: band 29 (640.2 nm)"`` and so on (no wavelength when it is not known)."""
    unit = axis_unit(wavelengths)
    labels = []
    for channel, band in zip(CHANNELS, bands, strict=True):
        text = f"{channel}: band {band}"
        if wavelengths is not None:
            value = float(wavelengths[band])
            text += f" ({value:.4g} {unit})" if unit == "µm" else f" ({value:.1f} {unit})"
        labels.append(text)
    return labels[0], labels[1], labels[2]


def check_pixel(shape: Sequence[int], pixel: Sequence[int]) -> tuple[int, int]:
    """``pixel`` (row, col) if it lies in a cube of ``shape``."""
    row, col = (int(n) for n in pixel)
    if not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise InputError(f"--pixel {row},{col} is not within the cube's {shape[0]} rows x "
                         f"{shape[1]} columns")  # fmt: skip
    return row, col


def pixel_errors(original: np.ndarray, decoded: np.ndarray, metric: str = "rmse") -> np.ndarray:
    """Per-pixel error over the last (band) axis: RMSE in the values' units, or the
    spectral angle in degrees (as :func:`hsinr.metrics.sam`: two zero spectra 0, one 90)."""
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(decoded, dtype=np.float64)
    if metric == "rmse":
        return np.sqrt(np.mean((a - b) ** 2, axis=-1))
    if metric != "sam":
        raise InputError(f"--metric must be one of {', '.join(METRICS)}, not {metric!r}")
    dot = np.einsum("...k,...k->...", a, b)
    norm_a, norm_b = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    norms = norm_a * norm_b
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0)
    angles = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    return np.where((norm_a == 0) & (norm_b == 0), 0.0, angles)


def stretch(values: np.ndarray, limits: tuple[np.ndarray, np.ndarray] | None = None
            ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(H, W, 3) values as uint8, each channel stretched between its 2nd and 98th
    percentile (or the given ``limits``), and those limits."""
    values = np.asarray(values, dtype=np.float64)
    if limits is None:
        limits = (np.percentile(values, STRETCH[0], axis=(0, 1)),
                  np.percentile(values, STRETCH[1], axis=(0, 1)))  # fmt: skip
    low, high = limits
    scaled = (values - low) / np.maximum(high - low, 1e-12)
    return (np.clip(scaled, 0.0, 1.0) * 255).round().astype(np.uint8), limits


# -- the pictures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spectrum:
    """One pixel's spectra in a comparison: why it was chosen (``worst``, ``median`` or
    ``pixel``), where, its error, and the original and decoded values of every band."""

    label: str
    row: int
    col: int
    error: float
    original: np.ndarray
    decoded: np.ndarray


@dataclass
class View:
    """What a picture shows: the cube's ``shape``, the thumbnail's ``step``, the colour
    ``bands`` and their ``labels``, the colour ``image`` (uint8, of the file viewed) and,
    for a comparison, the original's image, the per-pixel ``error`` map (thumbnail grid,
    ``metric`` units) and the pixels' spectra."""

    path: Path
    shape: tuple[int, int, int]
    step: int
    bands: tuple[int, int, int]
    labels: tuple[str, str, str]
    image: np.ndarray
    original_image: np.ndarray | None = None
    metric: str | None = None
    error: np.ndarray | None = None
    spectra: tuple[Spectrum, ...] = field(default_factory=tuple)


def _step_note(step: int) -> str:
    return "every pixel" if step == 1 else f"every {step}th row and column"


def colour(
    file: Source | Cube | PathLike, out: PathLike, *, bands: Sequence[int] | None = None,
    var: str | None = None, limits: Limits = DEFAULT, run: Run | None = None,
) -> View:  # fmt: skip
    """Write ``out`` (a PNG): ``file`` in colour, ``bands`` as red, green, blue (default:
    true colour, see :func:`choose_bands`), the bands named on the picture."""
    source = open_source(file, var=var, limits=limits, run=run)
    chosen = choose_bands(source.shape[2], source.wavelengths, bands)
    step = thumbnail_step(source.shape)
    values = np.zeros((*thumbnail_shape(source.shape, step), 3))
    for block in source.blocks(step, chosen):
        values[block.rows.start : block.rows.stop, block.cols.start : block.cols.stop] = (
            block.values
        )
    image, _ = stretch(values)
    labels = band_labels(chosen, source.wavelengths)
    shown = View(Path(out), source.shape, step, chosen, labels, image)
    _draw_colour(shown, source.name)
    return shown


def compare(
    file: Source | Cube | PathLike, original: Source | Cube | PathLike, out: PathLike, *,
    bands: Sequence[int] | None = None, metric: str = "rmse", pixels: Sequence[Sequence[int]] = (),
    var: str | None = None, limits: Limits = DEFAULT, run: Run | None = None,
) -> View:  # fmt: skip
    """Write ``out`` (a PNG): ``original`` | ``file`` (decoded) in the same colours, the
    per-pixel error map (``metric`` rmse or sam) with a colour bar, and the spectra of the
    worst-error pixel, the median-error pixel and each of ``pixels`` (row, col)."""
    if metric not in METRICS:
        raise InputError(f"--metric must be one of {', '.join(METRICS)}, not {metric!r}")
    decoded = open_source(file, var=var, limits=limits, run=run)
    reference = open_source(original, var=var, limits=limits, run=run)
    if decoded.shape != reference.shape:
        raise InputError(
            f"{decoded.name} is {' x '.join(map(str, decoded.shape))} but {reference.name} is "
            f"{' x '.join(map(str, reference.shape))} (rows x cols x bands): they must match"
        )
    if decoded.streamed and reference.streamed:
        raise InputError(f"{reference.name} and {decoded.name} are both large compressed "
                         "files: decompress one of them first")  # fmt: skip
    wavelengths = reference.wavelengths if reference.wavelengths is not None else (
        decoded.wavelengths)  # fmt: skip
    chosen = choose_bands(reference.shape[2], wavelengths, bands)
    asked = [check_pixel(reference.shape, pixel) for pixel in pixels]
    step = thumbnail_step(reference.shape)
    height, width = thumbnail_shape(reference.shape, step)
    colours = [np.zeros((height, width, 3)), np.zeros((height, width, 3))]  # original, decoded
    error = np.zeros((height, width))
    walk_reference = reference.streamed  # walk the one that streams, read the other's grid
    walked, other = (reference, decoded) if walk_reference else (decoded, reference)
    for block in walked.blocks(step, None):
        theirs = other.grid(step, block.rows, block.cols, None)
        pair = (block.values, theirs) if walk_reference else (theirs, block.values)
        where = (slice(block.rows.start, block.rows.stop), slice(block.cols.start, block.cols.stop))
        error[where] = pixel_errors(pair[0], pair[1], metric)
        for picture, values in zip(colours, pair, strict=True):
            picture[where] = values[:, :, list(chosen)]
    original_image, stretched = stretch(colours[0])
    image, _ = stretch(colours[1], stretched)
    order = np.argsort(error, axis=None, kind="stable")
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    median = np.unravel_index(int(order[(order.size - 1) // 2]), error.shape)
    chosen_pixels = [("worst", (int(worst[0]) * step, int(worst[1]) * step)),
                     ("median", (int(median[0]) * step, int(median[1]) * step)),
                     *(("pixel", pixel) for pixel in asked)]  # fmt: skip
    spectra, seen = [], set()
    for label, (row, col) in chosen_pixels:
        if (row, col) in seen:
            continue
        seen.add((row, col))
        first, second = reference.spectrum(row, col), decoded.spectrum(row, col)
        spectra.append(Spectrum(label, row, col, float(pixel_errors(first, second, metric)),
                                first, second))  # fmt: skip
    shown = View(Path(out), reference.shape, step, chosen, band_labels(chosen, wavelengths),
                 image, original_image, metric, error, tuple(spectra))  # fmt: skip
    _draw_comparison(shown, reference.name, decoded.name, wavelengths)
    return shown


# -- drawing ------------------------------------------------------------------------------------


def _save(figure, path: Path, **options) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_outputs(path) as (temp,):
            figure.savefig(temp, format="png", **options)
    finally:
        plt.close(figure)


def _draw_colour(shown: View, name: str) -> None:
    """The picture alone, enlarged by whole pixels to about :data:`DISPLAY_SIDE`, with
    the file, the bands and the grid in a box in its corner."""
    import matplotlib.pyplot as plt

    height, width = shown.image.shape[:2]
    scale = max(1, DISPLAY_SIDE // max(height, width))
    dpi = 100
    figure = plt.figure(figsize=(width * scale / dpi, height * scale / dpi), dpi=dpi)
    axis = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axis.imshow(shown.image, interpolation="nearest", aspect="auto")
    axis.set_axis_off()
    rows, cols, _ = shown.shape
    lines = [name, *shown.labels, f"{rows} x {cols}, {_step_note(shown.step)}"]
    size = float(np.clip(min(height, width) * scale / 40, 5, 11))
    axis.text(0.01, 0.99, "\n".join(lines), transform=axis.transAxes, va="top", ha="left",
              fontsize=size, color="white", family="monospace",
              bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none", "pad": 3})  # fmt: skip
    _save(figure, shown.path, dpi=dpi)


def _draw_comparison(shown: View, original: str, decoded: str,
                     wavelengths: np.ndarray | None) -> None:  # fmt: skip
    import matplotlib.pyplot as plt

    assert shown.error is not None and shown.original_image is not None
    height, width = shown.error.shape
    # laid out by hand, in inches (matplotlib's constrained layout doubles the drawing time)
    panel, gap, left, plot_height, bottom, middle, top = 4.6, 0.25, 0.45, 3.3, 0.6, 0.8, 0.65
    image_height = float(np.clip(panel * height / width, 1.2, 7.0))
    figure_width = left + 3 * panel + 2 * gap + 1.1
    figure_height = bottom + plot_height + middle + image_height + top
    figure = plt.figure(figsize=(figure_width, figure_height))

    def box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return x / figure_width, y / figure_height, w / figure_width, h / figure_height

    row_y = bottom + plot_height + middle
    axes = [figure.add_axes(box(left + index * (panel + gap), row_y, panel, image_height))
            for index in range(3)]  # fmt: skip
    unit = "degrees" if shown.metric == "sam" else "original units"
    what = "SAM" if shown.metric == "sam" else "RMSE over bands"
    axes[0].imshow(shown.original_image, interpolation="nearest")
    axes[0].set_title(f"original: {original}", fontsize=9)
    axes[1].imshow(shown.image, interpolation="nearest")
    axes[1].set_title(f"decoded: {decoded}", fontsize=9)
    mapped = axes[2].imshow(shown.error, cmap="magma", interpolation="nearest")
    axes[2].set_title(f"per-pixel {what}: mean {shown.error.mean():.4g}, "
                      f"max {shown.error.max():.4g}", fontsize=9)  # fmt: skip
    bar = axes[2].inset_axes((1.03, 0.0, 0.04, 1.0))
    figure.colorbar(mapped, cax=bar, label=unit)
    palette = plt.get_cmap("tab10")
    for index, spectrum in enumerate(shown.spectra):
        x, y = spectrum.col / shown.step, spectrum.row / shown.step
        for axis in axes:
            axis.plot(x, y, marker="o", markersize=9, markerfacecolor="none", markeredgewidth=2,
                      markeredgecolor=palette(index % 10))  # fmt: skip
            axis.annotate(str(index + 1), (x, y), xytext=(6, 6), textcoords="offset points",
                          color=palette(index % 10), fontsize=9, weight="bold")  # fmt: skip
    for axis in axes:
        axis.set_xlim(-0.5, width - 0.5)
        axis.set_ylim(height - 0.5, -0.5)
        axis.set_xticks([])
        axis.set_yticks([])
    lines = figure.add_axes(box(left + 0.4, bottom, 3 * panel + 2 * gap - 0.4, plot_height))
    bands = np.arange(shown.shape[2])
    unit_name = axis_unit(wavelengths)
    x_values = bands if wavelengths is None else wavelengths
    for index, spectrum in enumerate(shown.spectra):
        tint = palette(index % 10)
        lines.plot(x_values, spectrum.original, color=tint, linestyle="-",
                   label=f"{index + 1}: {spectrum.label} ({spectrum.row}, {spectrum.col}), "
                   f"{what} {spectrum.error:.4g}")  # fmt: skip
        lines.plot(x_values, spectrum.decoded, color=tint, linestyle="--")
    lines.set_xlabel("band" if unit_name is None else f"wavelength ({unit_name})")
    lines.set_ylabel("value (original units)")
    lines.set_title("spectra: original solid, decoded dashed", fontsize=9)
    lines.legend(fontsize=8, loc="best")
    rows, cols, _ = shown.shape
    figure.suptitle(f"{'   '.join(shown.labels)}   ({rows} x {cols}, {_step_note(shown.step)})",
                    fontsize=10)  # fmt: skip
    _save(figure, shown.path, dpi=100)


__all__ = [
    "MAX_SIDE",
    "Block",
    "CubeSource",
    "FileSource",
    "Source",
    "Spectrum",
    "View",
    "band_labels",
    "check_pixel",
    "choose_bands",
    "colour",
    "compare",
    "open_source",
    "pixel_errors",
    "stretch",
    "thumbnail_shape",
    "thumbnail_step",
]
