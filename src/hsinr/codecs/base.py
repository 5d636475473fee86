"""The one face every codec shows (docs/ARCHITECTURE.md).

A codec is a :class:`Codec` subclass:

* ``encode(cube, options, run) -> Encoding`` writes a file aiming at the budget in
  ``options.bpppb``; the true rate is measured from the file's length, and the budget
  policy (:meth:`Codec.encode`) is the same for every codec;
* ``decode(data, window, run) -> Cube`` needs only the bytes (and for ``meta`` the base
  network the run names); a :class:`Window` of rows, columns and bands is decoded on its
  own where the codec can, else cut from the whole;
* ``describe(data, run)`` says what the file's header holds.

Options are a frozen dataclass per codec, subclassing :class:`Options`. Every field is
declared with :func:`option` (its default, allowed range or choices, one-line help and
command-line flag), and the checks, the ``hsinr compress`` flags and help, and
``hsinr bench``'s variants are all generated from that one declaration. What is not a
codec option (seed, device, progress, threads, limits, the base network) travels in a
:class:`Run`, which every codec honours.

>>> from hsinr import codecs
>>> codec = codecs.get("pca-dct")
>>> codec.options(bpppb=0.2, components=4)
PcaDctOptions(bpppb=0.2, components=4, tile=256)
>>> codec.options(components=0)
Traceback (most recent call last):
...
hsinr.errors.InputError: --components must be at least 1, not 0
"""

from __future__ import annotations

import dataclasses
import math
import time
import typing
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from hsinr import container
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, Limits
from hsinr.metadata import Metadata
from hsinr.resources import available_cores, default_memory, gigabytes
from hsinr.section import Section, prepare
from hsinr.section import read as read_section


class BudgetWarning(UserWarning):
    """A file over its budget: the smallest file the codec can write for this cube."""


# -- options -------------------------------------------------------------------------------


def option(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: tuple | None = None,
    flag: str | None = None,
    convert: Callable[[Any], Any] | None = None,
    metavar: str | None = None,
) -> Any:
    """A codec option: its default, one-line help, allowed range (``low`` <= value <=
    ``high``, or value > ``above``) or ``choices``, optionally its command-line flag
    (default ``--name-with-dashes``) and a ``convert`` function that turns any given
    value (text or not) into the option's canonical value (a word it returns, such as
    ``"auto"``, is allowed as it is)."""
    metadata = {"help": help, "low": low, "high": high, "above": above, "choices": choices,
                "flag": flag, "convert": convert, "metavar": metavar}  # fmt: skip
    return field(default=default, metadata=metadata)


def auto_or_int(low: int, high: int) -> Callable[[Any], int | str]:
    """A ``convert`` for options that take ``auto`` or a whole number in ``low``-``high``."""

    def convert(value: Any) -> int | str:
        if value == "auto":
            return "auto"
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or (number != value and str(number) != str(value).strip()):
            raise ValueError(f"must be auto or {low}-{high}, not {value!r}")
        if not low <= number <= high:
            raise ValueError(f"must be auto or {low}-{high}, not {number}")
        return number

    return convert


_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class OptionSpec:
    """One option as the checks, the command line and ``hsinr bench`` see it."""

    name: str
    kind: type  # int, float, str or bool
    optional: bool  # None is allowed (and means "the codec chooses")
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple | None = None
    flag: str = ""
    convert: Callable[[Any], Any] | None = None
    metavar: str | None = None

    def noun(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        return {int: "an integer", float: "a number", bool: "true or false"}.get(
            self.kind, "a value"
        )

    def parse(self, text: str) -> Any:
        """The value of ``text`` as given on a command line or in a bench variant."""
        if self.optional and text.strip().lower() == "none":
            return None
        value: Any = text
        if self.convert is None and self.kind is not str:
            try:
                value = _WORDS[text.strip().lower()] if self.kind is bool else self.kind(text)
            except (KeyError, ValueError):
                raise InputError(f"{self.flag} expects {self.noun()}, not {text!r}") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """``value`` if it is allowed, in its canonical form (an int given for a float
        becomes a float); else an :class:`InputError` naming the flag."""
        if value is None:
            if self.optional:
                return None
            raise InputError(f"{self.flag} needs a value")
        if self.convert is not None:
            try:
                value = self.convert(value)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{self.flag}: {exc}") from None
            if isinstance(value, str) and self.kind is not str:
                return value  # a word the option understands, e.g. "auto"
        if self.kind is bool and not isinstance(value, bool | np.bool_):
            raise InputError(f"{self.flag} expects true or false, not {value!r}")
        integer = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if self.kind is int and not integer:
            raise InputError(f"{self.flag} expects an integer, not {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InputError(f"{self.flag} expects a number, not {value!r}")
            if not math.isfinite(value):
                raise InputError(f"{self.flag} must be finite, not {value}")
        if self.kind is str and not isinstance(value, str):
            raise InputError(f"{self.flag} expects text, not {value!r}")
        value = self.kind(value)
        if self.choices is not None and value not in self.choices:
            raise InputError(f"{self.flag} must be {self.noun()}, not {value!r}")
        if self.kind in (int, float):
            if self.low is not None and value < self.low:
                raise InputError(f"{self.flag} must be at least {self.low:g}, not {value:g}")
            if self.high is not None and value > self.high:
                raise InputError(f"{self.flag} must be at most {self.high:g}, not {value:g}")
            if self.above is not None and not value > self.above:
                raise InputError(f"{self.flag} must be above {self.above:g}, not {value:g}")
        return value


def _kind_of(annotation) -> tuple[type, bool]:
    """The main type of an annotation (``int | None`` -> (int, True))."""
    arguments = typing.get_args(annotation) or (annotation,)
    optional = type(None) in arguments
    kinds = [a for a in arguments if a is not type(None)]
    return (kinds[0] if kinds else str), optional


@dataclass(frozen=True)
class Options:
    """Options every codec takes. A codec's own options subclass this (frozen dataclass,
    every field made with :func:`option`)."""

    bpppb: float | None = option(
        None, "the bit budget, bits per pixel per band (8 x file bytes / values)", above=0.0,
        metavar="R",
    )  # fmt: skip

    @classmethod
    def specs(cls) -> list[OptionSpec]:
        """Every option, in declaration order."""
        hints = typing.get_type_hints(cls)
        found = []
        for item in dataclasses.fields(cls):
            kind, optional = _kind_of(hints[item.name])
            meta = item.metadata
            found.append(OptionSpec(
                item.name, kind, optional, item.default, meta.get("help", ""), meta.get("low"),
                meta.get("high"), meta.get("above"), meta.get("choices"),
                meta.get("flag") or "--" + item.name.replace("_", "-"), meta.get("convert"),
                meta.get("metavar"),
            ))  # fmt: skip
        return found

    @classmethod
    def of(cls, values: Options | Mapping[str, Any] | None = None) -> Self:
        """Checked options from an instance, a mapping of option names, or the defaults.
        Unknown names and out-of-range values are :class:`InputError`, naming the flag."""
        if isinstance(values, cls):
            return values.checked()
        if isinstance(values, Options):
            values = values.as_dict()
        values = dict(values or {})
        specs = {spec.name: spec for spec in cls.specs()}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise InputError(
                f"{cls.codec_name()} takes no option {', '.join(unknown)}; it takes: "
                f"{', '.join(sorted(specs))}"
            )
        return cls(**values).checked()

    @classmethod
    def codec_name(cls) -> str:
        return getattr(cls, "_codec_name", "this codec")

    def checked(self) -> Self:
        """These options, every field's value checked (and normalised), then the rules
        that tie fields together (:meth:`check`)."""
        changes = {spec.name: spec.check(getattr(self, spec.name)) for spec in self.specs()}
        options = dataclasses.replace(self, **changes)
        options.check()
        return options

    def check(self) -> None:
        """Rules between fields (a subclass adds its own)."""

    def as_dict(self) -> dict[str, Any]:
        return {spec.name: getattr(self, spec.name) for spec in self.specs()}

    def set(self) -> dict[str, Any]:
        """The options that differ from their defaults."""
        return {spec.name: getattr(self, spec.name) for spec in self.specs()
                if getattr(self, spec.name) != spec.default}  # fmt: skip


# -- the run, the window, the encoding -----------------------------------------------------


@dataclass(frozen=True)
class Run:
    """How a run goes, as opposed to what the file holds: the random seed, the torch device,
    progress bars, how many cores a codec may use for its own parallel work (bands,
    components, tiles; default: all this process may use), the memory a codec may hold
    (bytes; default: 3/4 of physical memory), the limits on what a file may make a
    decoder do, the base network (``meta``: a file, or None for the one shipped with
    hsinr), and whether files leave out the input's metadata (``--strip-metadata``:
    then no-data pixels and bad bands are coded as ordinary values, too)."""

    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    jobs: int = field(default_factory=available_cores)
    limits: Limits = DEFAULT
    base: str | Path | None = None
    memory: int = field(default_factory=default_memory)
    strip_metadata: bool = False  # files leave out the input's metadata (see hsinr.scene)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be a non-negative integer, not {self.seed!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise InputError(f"--jobs must be a positive integer, not {self.jobs!r}")
        if isinstance(self.memory, bool) or not isinstance(self.memory, int) or self.memory < 1:
            raise InputError(f"--max-memory must be positive, not {self.memory!r}")
        if self.device != "cpu" and not str(self.device).startswith("cuda"):
            raise InputError(f"unknown device {self.device!r}; use cpu or cuda")

    def base_network(self):
        """The base network this run names (loaded and checked)."""
        from hsinr.basenet import resolve_base

        return resolve_base(self.base)

    def map(self, function: Callable[[Any], Any], items) -> list:
        """``[function(item) for item in items]``, in ``jobs`` threads when there is more
        than one (for independent pieces such as bands; the results are the same)."""
        items = list(items)
        if self.jobs == 1 or len(items) < 2:
            return [function(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.jobs, len(items))) as pool:
            return list(pool.map(function, items))


@dataclass(frozen=True)
class Window:
    """Rows, columns and bands to decode (contiguous ranges, Python slice rules for the
    omitted ends); :meth:`checked` refuses a window reaching past the cube."""

    rows: slice = field(default_factory=lambda: slice(None))
    cols: slice = field(default_factory=lambda: slice(None))
    bands: slice = field(default_factory=lambda: slice(None))

    @property
    def whole(self) -> bool:
        return all(s == slice(None) for s in (self.rows, self.cols, self.bands))

    def checked(self, shape: tuple[int, int, int]) -> tuple[range, range, range]:
        """The window's ranges in a cube of ``shape``, each within it and not empty."""
        ranges = []
        for part, size, what in zip((self.rows, self.cols, self.bands), shape,
                                    ("rows", "columns", "bands"), strict=True):  # fmt: skip
            if part.step not in (None, 1):
                raise InputError("windows and band ranges must be contiguous (step 1)")
            start = 0 if part.start is None else part.start
            stop = size if part.stop is None else part.stop
            if not 0 <= start < stop <= size:
                cube = " x ".join(map(str, shape))
                raise InputError(
                    f"the window's {what} {start}:{stop} do not lie within the cube's {size} "
                    f"{what} (the cube is {cube}, rows x columns x bands)"
                )
            ranges.append(range(start, stop))
        return ranges[0], ranges[1], ranges[2]

    def cut(self, cube: Cube) -> Cube:
        rows, cols, bands = self.checked(cube.shape)
        part = cube.data[rows.start : rows.stop, cols.start : cols.stop, bands.start : bands.stop]
        wavelengths = None if cube.wavelengths is None else cube.wavelengths[bands.start:bands.stop]
        return cube.replace(data=np.ascontiguousarray(part), wavelengths=wavelengths,
                            metadata=cube.metadata.subset(rows, cols, bands))


@dataclass(frozen=True)
class Piece:
    """Part of a decoded window: its rows and columns within the window and its values
    (rows, cols, the window's bands) in the cube's original dtype."""

    rows: range
    cols: range
    values: np.ndarray


@dataclass
class Stream:
    """A decoded window as :class:`Piece` objects that come one at a time (iterate once):
    its ``shape`` and ``dtype`` are known before the first piece."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    pieces: Iterator[Piece]
    wavelengths: np.ndarray | None = None  # the window's, from the file's metadata
    metadata: Metadata = field(default_factory=Metadata)

    def __iter__(self) -> Iterator[Piece]:
        return self.pieces

    def assembled(self) -> Cube:
        """All the pieces in one cube in memory."""
        out = np.empty(self.shape, dtype=self.dtype)
        for piece in self.pieces:
            out[piece.rows.start : piece.rows.stop, piece.cols.start : piece.cols.stop] = (
                piece.values
            )
        return Cube(out, name="decoded", wavelengths=self.wavelengths, metadata=self.metadata)


@dataclass
class Encoding:
    """A compressed file and what the encoder measured and chose (``details``: plain
    values such as the network, the components, the bits; ``psnr``: the encoder's own
    measurement on the normalised cube, when it made one)."""

    data: bytes
    codec: str
    shape: tuple[int, int, int]
    budget: float | None = None
    psnr: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def bpppb(self) -> float:
        """The achieved rate: 8 x file bytes / (rows x cols x bands)."""
        return 8 * len(self.data) / math.prod(self.shape)

    @property
    def within_budget(self) -> bool:
        return self.budget is None or self.bpppb <= self.budget


# -- the codec -----------------------------------------------------------------------------


class Codec(ABC):
    """Base of every codec (see the module notes). A subclass sets ``name``, ``codec_id``
    (its byte in the container), ``summary`` (one line for help), ``Options``, and
    ``needs_budget`` (False if it can write a file without one), ``windowed`` (True if
    it decodes a window without decoding the rest), and implements :meth:`_encode`,
    :meth:`_decode` and :meth:`describe`."""

    name: ClassVar[str]
    codec_id: ClassVar[int]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options
    needs_budget: ClassVar[bool] = True
    windowed: ClassVar[bool] = False
    tiled: ClassVar[bool] = False  # its files hold independent tiles (container version 2)
    decodes_in_parts: ClassVar[bool] = False  # decodes pieces one after another (_stream)
    encodes_in_parts: ClassVar[bool] = False  # codes a lazy cube without reading it whole
    versions: ClassVar[tuple[int, ...]] = (container.VERSION,)  # container versions it reads
    memory_per_value: ClassVar[float] = 24.0  # bytes the encoder holds per value when whole
    example_options: ClassVar[dict[str, Any]] = {"bpppb": 0.1}  # what ``hsinr demo`` runs

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls.Options._codec_name = f"codec {cls.name}"

    def options(self, values: Options | Mapping[str, Any] | None = None, /, **changes) -> Options:
        """Checked options of this codec, from an instance, a mapping and keywords."""
        if values is not None and not isinstance(values, Mapping):
            values = self.Options.of(values).as_dict()
        return self.Options.of({**(values or {}), **changes})

    # -- encoding ----------------------------------------------------------------------------------

    def encode(
        self, cube: Cube, options: Options | Mapping[str, Any] | None = None, run: Run | None = None
    ) -> Encoding:
        """The file of ``cube`` within ``options.bpppb`` (see :meth:`check_budget`); a file
        over it (the smallest this codec can write for the cube) comes with a
        :class:`BudgetWarning` and ``within_budget`` False."""
        options = self.options(options)
        run = Run() if run is None else run
        self.check_budget(cube, options)
        started = time.perf_counter()
        prepared = prepare(cube, strip=run.strip_metadata)
        coded = prepared.coded
        if coded.lazy and not self.encodes_in_parts:
            coded = self.whole(coded, run)
        if run.device != "cpu" and not self.uses_device(options):
            warnings.warn(f"codec {self.name} has no GPU work here; it runs on the CPU",
                          UserWarning, stacklevel=2)  # fmt: skip
        encoding = self._encode(coded, prepared.budget_for(options, self), run)
        encoding.data = container.with_metadata(prepared.section, encoding.data)
        encoding.shape, encoding.budget = cube.shape, options.bpppb
        encoding.seconds = time.perf_counter() - started
        if not encoding.within_budget:
            warnings.warn(
                f"the smallest {self.name} file for this cube is {encoding.bpppb:.4g} bpppb, "
                f"over the budget of {options.bpppb:g}; it was written anyway",
                BudgetWarning, stacklevel=2,
            )  # fmt: skip
        return encoding

    def check_budget(self, cube: Cube, options: Options) -> None:
        """The budget policy: a positive, finite budget (or none, if the codec can do
        without), below the raw cube's own rate (a lossy codec should not write a file
        larger than the data)."""
        budget = options.bpppb
        if budget is None:
            if self.needs_budget:
                raise InputError(f"codec {self.name} needs a budget: --bpppb")
            return
        raw = 8 * cube.dtype.itemsize
        if budget >= raw:
            raise InputError(
                f"--bpppb {budget:g} is at or above the raw cube's own {raw} bpppb "
                f"({cube.dtype}): the file would be larger than the data; keep the cube as it is"
            )

    def whole(self, cube: Cube, run: Run) -> Cube:
        """A lazy ``cube`` read into memory for a codec that codes it whole, refused up
        front when the codec's working memory for it would pass ``run.memory``."""
        need = int(math.prod(cube.shape) * self.memory_per_value)
        if need > run.memory:
            from hsinr import codecs  # the registry imports this module

            in_parts = ", ".join(name for name in codecs.names()
                                 if codecs.get(name).encodes_in_parts)  # fmt: skip
            raise InputError(
                f"codec {self.name} holds the whole cube in memory: about {gigabytes(need)} "
                f"for this {' x '.join(map(str, cube.shape))} {cube.dtype} cube, over the "
                f"{gigabytes(run.memory)} it may use (--max-memory); use a codec that codes "
                f"it in parts ({in_parts}) or crop the scene"
            )
        return cube.loaded()

    def uses_device(self, options: Options) -> bool:
        """Whether ``run.device`` matters for these options (torch work)."""
        return False

    @abstractmethod
    def _encode(self, cube: Cube, options: Options, run: Run) -> Encoding: ...

    def encoding(self, data: bytes, cube: Cube, options: Options, **measured) -> Encoding:
        """The :class:`Encoding` of ``data`` (what a codec's ``_encode`` returns)."""
        return Encoding(data, self.name, cube.shape, options.bpppb, **measured)

    # -- decoding ----------------------------------------------------------------------------------

    def decode(self, data: bytes, window: Window | None = None, run: Run | None = None) -> Cube:
        """The cube, or a window of it (checked against the cube's size), with the
        metadata its file holds."""
        run = Run() if run is None else run
        window = Window() if window is None else window
        facts = self.section(data, run)
        if facts.exclusion is not None:
            stream = facts.stream(lambda coded: self._stream_coded(data, coded, run), window)
            self._check_memory(math.prod(stream.shape) * stream.dtype.itemsize, run)
            return stream.assembled()
        cube = self._decode_coded(data, window, run)
        return facts.attach(cube, *window.checked(facts.shape))

    def section(self, data: bytes, run: Run | None = None) -> Section:
        """What the file's metadata section says (see :mod:`hsinr.section`)."""
        run = Run() if run is None else run
        return read_section(data, lambda: tuple(self.describe(data, run)["shape"]))

    def _decode_coded(self, data: bytes, window: Window, run: Run) -> Cube:
        """The coded cube (without the metadata section's restoring), or a window."""
        if self.decodes_in_parts:
            stream = self.stream(data, window, run)
            self._check_memory(math.prod(stream.shape) * stream.dtype.itemsize, run)
            return stream.assembled()
        self._check_decode_memory(data, window, run)
        if window.whole:
            return self._decode(data, None, run)
        if self.windowed:
            return self._decode(data, window, run)
        return window.cut(self._decode(data, None, run))

    def _check_decode_memory(self, data: bytes, window: Window, run: Run) -> None:
        """Refuse up front a decode (of a codec that decodes whole) whose output and work
        arrays would pass ``run.memory``: about the window's values in the original dtype
        plus 8 bytes a value of float work (less, band by band, for some codecs)."""
        facts = self.describe(data, run)
        shape = tuple(facts["shape"])
        rows, cols, bands = window.checked(shape) if not window.whole else map(range, shape)
        values = len(rows) * len(cols) * len(bands)
        run.limits.check_count(values, "the values to decode")
        self._check_memory(values * (np.dtype(facts["dtype"]).itemsize + 8), run)

    def _check_memory(self, need: int, run: Run) -> None:
        if need > run.memory:
            to_file = (", or decode to a file (hsinr decompress writes it a piece at a time)"
                       if self.decodes_in_parts else "")  # fmt: skip
            raise InputError(
                f"decoding this {self.name} file in memory needs about {gigabytes(need)}, over "
                f"the {gigabytes(run.memory)} it may use (--max-memory); decode a window "
                f"(--window, --bands){to_file}"
            )

    def stream(self, data: bytes, window: Window | None = None, run: Run | None = None) -> Stream:
        """The cube, or a window of it, as pieces decoded one after another (a ``tiled``
        codec decodes one tile at a time, so memory holds a piece, not the cube)."""
        run = Run() if run is None else run
        window = Window() if window is None else window
        facts = self.section(data, run)
        return facts.stream(lambda coded: self._stream_coded(data, coded, run), window)

    def _stream_coded(self, data: bytes, window: Window, run: Run) -> Stream:
        if self.decodes_in_parts:
            return self._stream(data, window, run)
        cube = self._decode_coded(data, window, run)
        whole = Piece(range(cube.height), range(cube.width), cube.data)
        return Stream(cube.shape, cube.dtype, iter([whole]))

    def _decode(self, data: bytes, window: Window | None, run: Run) -> Cube:
        """The cube (``window`` is given only to a ``windowed`` codec); implemented by
        every codec without ``decodes_in_parts``."""
        raise NotImplementedError

    def _stream(self, data: bytes, window: Window, run: Run) -> Stream:
        """The window's pieces (a codec that ``decodes_in_parts`` implements it)."""
        raise NotImplementedError

    @abstractmethod
    def describe(self, data: bytes, run: Run | None = None) -> dict[str, Any]:
        """The checked header's fields as plain values, ``shape`` among them."""

    def frame(self, data: bytes) -> container.Frame:
        """The container's parts, after its checks and the check that this codec wrote it
        in a container version it writes (``versions``)."""
        frame = container.unpack(data)
        if frame.codec_id != self.codec_id:
            raise container.CorruptFileError(f"not a {self.name} file (codec id {frame.codec_id})")
        if frame.version not in self.versions:
            raise container.CorruptFileError(
                f"a {self.name} file in container version {frame.version}: hsinr never "
                f"writes one (it reads {self.name} files of version "
                f"{' and '.join(map(str, self.versions))})"
            )
        return frame
