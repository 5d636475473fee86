"""The metadata of a cube in the formats without fields of their own for it (``.npz``,
``.mat``, TIFF descriptions): the JSON of :meth:`hsinr.metadata.Metadata.to_bytes`, stored
as one text (``.npz``, TIFF) or a uint8 vector (``.mat``) named ``hsinr_metadata``."""

from __future__ import annotations

import numpy as np

from hsinr.container import MAX_METADATA
from hsinr.errors import InputError
from hsinr.metadata import Metadata, MetadataError

KEY = "hsinr_metadata"


def text_of(wavelengths: np.ndarray | None, metadata: Metadata | None) -> bytes | None:
    """The JSON to store, or None when there is nothing to say."""
    metadata = Metadata() if metadata is None else metadata
    if metadata.empty and wavelengths is None:
        return None
    return metadata.to_bytes(wavelengths)


def read_text(data: bytes, bands: int, where: str) -> tuple[np.ndarray | None, Metadata]:
    """(wavelengths, metadata) of stored JSON, size-checked; :class:`InputError` naming
    ``where`` for anything that is not hsinr metadata."""
    if len(data) > MAX_METADATA:
        raise InputError(f"{where}: {KEY} of {len(data):,} bytes (at most {MAX_METADATA:,})")
    try:
        return Metadata.from_bytes(data, bands, f"{where}: {KEY}")
    except MetadataError as exc:
        raise InputError(str(exc)) from None
