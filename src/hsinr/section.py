"""A file's metadata section, for every codec: what the input recorded besides its values
(:mod:`hsinr.metadata`) and what was left out of the coding (:mod:`hsinr.exclusion`).

:func:`prepare` turns an input cube into the cube a codec codes and the section's JSON
(written by :func:`hsinr.container.with_metadata` in front of the codec's file, and so
counted in its bytes: the codec is given the budget that remains);
:func:`read` gives back a :class:`Section`, which restores decoded windows and attaches
the metadata to them. A cube without metadata gets no section: its file is byte for byte
what the codec alone writes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hsinr import container
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.exclusion import Exclusion
from hsinr.metadata import SCHEMA, Metadata, MetadataError, pack_numbers, unpack_numbers

PACKED = ("wavelengths", "fwhm")  # per-band numbers stored by pack_numbers

if TYPE_CHECKING:
    from hsinr.codecs.base import Codec, Options, Stream, Window


@dataclass(frozen=True)
class Prepared:
    """An input made ready for a codec: the ``coded`` cube, the metadata ``section``
    (JSON; empty for none) and the values of the whole cube (the rate's denominator)."""

    coded: Cube
    section: bytes
    values: int

    def budget_for(self, options: Options, codec: Codec) -> Options:
        """``options`` with the budget left for the codec once the section is paid for,
        spread over the values it codes."""
        if options.bpppb is None or not self.section:
            return options
        bits = options.bpppb * self.values - 8 * container.section_bytes(self.section)
        if bits <= 0:
            size = container.section_bytes(self.section)
            raise InputError(
                f"the input's metadata alone takes {size:,} bytes "
                f"({8 * size / self.values:.4g} bpppb), over the budget of {options.bpppb:g} "
                "bpppb; raise --bpppb or leave the metadata out with --strip-metadata"
            )
        return codec.options(options, bpppb=bits / math.prod(self.coded.shape))


def prepare(cube: Cube, *, strip: bool = False) -> Prepared:
    """The cube a codec codes (bad bands dropped, no-data pixels filled: see
    :class:`~hsinr.exclusion.Exclusion`) and the section to write; with ``strip``, the
    cube as it is and no section."""
    values = math.prod(cube.shape)
    if strip:
        return Prepared(cube, b"", values)
    exclusion = Exclusion.of(cube)
    body = cube.metadata.to_dict(cube.wavelengths)
    for key in PACKED:
        if key in body:
            body[key] = pack_numbers(body[key])
    if exclusion is not None:
        body["excluded"] = exclusion.to_dict()
    if not body:
        return Prepared(cube, b"", values)
    text = json.dumps({"hsinr_metadata": SCHEMA, **body}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False).encode()  # fmt: skip
    coded = cube if exclusion is None else exclusion.coded(cube)
    return Prepared(coded, text, values)


@dataclass(frozen=True)
class Section:
    """What a file's section says: the whole cube's ``shape``, ``wavelengths``,
    ``metadata`` and ``exclusion`` (None: every value was coded)."""

    shape: tuple[int, int, int]
    wavelengths: np.ndarray | None = None
    metadata: Metadata = field(default_factory=Metadata)
    exclusion: Exclusion | None = None

    def window_facts(self, rows: range, cols: range, bands: range):
        wavelengths = None if self.wavelengths is None else self.wavelengths[bands.start:bands.stop]
        return wavelengths, self.metadata.subset(rows, cols, bands)

    def attach(self, cube: Cube, rows: range, cols: range, bands: range) -> Cube:
        """A decoded window with its wavelengths and metadata."""
        if self.wavelengths is None and self.metadata.empty:
            return cube
        wavelengths, metadata = self.window_facts(rows, cols, bands)
        return cube.replace(wavelengths=wavelengths, metadata=metadata)

    def stream(self, coded_stream: Callable[[Window], Stream], window: Window) -> Stream:
        """The window's stream: the codec's pieces (from ``coded_stream`` of a window of
        the coded cube), restored and with the window's metadata."""
        from hsinr.codecs.base import Piece, Stream, Window

        rows, cols, bands = window.checked(self.shape)
        wavelengths, metadata = self.window_facts(rows, cols, bands)
        exclusion = self.exclusion
        if exclusion is None:
            inner = coded_stream(window)
            return Stream(inner.shape, inner.dtype, inner.pieces, wavelengths, metadata)
        coded_bands = exclusion.coded_window(bands)
        if not coded_bands:  # only bad bands: nothing to decode but the dtype
            inner = coded_stream(Window(slice(0, 1), slice(0, 1), slice(0, 1)))
            dtype = inner.dtype
            pieces: Iterator = iter([Piece(range(len(rows)), range(len(cols)), exclusion.restore(
                np.empty((len(rows), len(cols), 0), dtype), rows, cols, bands))])
        else:
            inner = coded_stream(Window(slice(rows.start, rows.stop), slice(cols.start, cols.stop),
                                        slice(coded_bands.start, coded_bands.stop)))
            dtype = inner.dtype

            def restored() -> Iterator:
                for piece in inner:
                    at_rows = range(rows.start + piece.rows.start, rows.start + piece.rows.stop)
                    at_cols = range(cols.start + piece.cols.start, cols.start + piece.cols.stop)
                    values = exclusion.restore(piece.values, at_rows, at_cols, bands)
                    yield Piece(piece.rows, piece.cols, values)

            pieces = restored()
        shape = (len(rows), len(cols), len(bands))
        return Stream(shape, np.dtype(dtype), pieces, wavelengths, metadata)


def read(data: Any, coded_shape: Callable[[], tuple[int, ...]]) -> Section:
    """The section of file ``data`` (``coded_shape`` gives the codec's shape, asked only
    when needed); :class:`~hsinr.container.CorruptFileError` for a section that is not
    what it must be."""
    text, _ = container.split_metadata(data)
    shape = tuple(int(n) for n in coded_shape())
    if not text:
        return Section(shape)  # type: ignore[arg-type]
    try:
        values = json.loads(text.decode("utf-8"), parse_constant=_refuse)
        if not isinstance(values, dict) or values.pop("hsinr_metadata", None) != SCHEMA:
            raise MetadataError("not hsinr metadata of a known schema")
        excluded = values.pop("excluded", None)
        bands = shape[2] if excluded is None else _declared_bands(excluded)
        for key in PACKED:
            if key in values:
                values[key] = unpack_numbers(values[key], bands, key, "the file's metadata")
        wavelengths, metadata = Metadata.from_dict(values, bands, "the file's metadata")
        exclusion = None if excluded is None else Exclusion.from_dict(
            excluded, metadata, shape, "the file's metadata")  # type: ignore[arg-type]
    except (ValueError, RecursionError, MetadataError) as exc:
        raise container.CorruptFileError(f"a damaged metadata section: {exc}") from None
    return Section((shape[0], shape[1], bands), wavelengths, metadata, exclusion)


def _declared_bands(excluded: Any) -> int:
    if not isinstance(excluded, dict) or type(excluded.get("bands")) is not int:
        raise MetadataError("the exclusion entry has no band count")
    if not 1 <= excluded["bands"] <= 2**16:
        raise MetadataError(f"{excluded['bands']} bands")
    return excluded["bands"]


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not a number")


__all__ = ["Prepared", "Section", "prepare", "read"]
