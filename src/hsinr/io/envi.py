"""ENVI files: a text ``.hdr`` header beside a raw binary file (bsq, bil or bip), via spectral.

Load by naming either the header or the data file. Wavelengths in the header are kept.
Saving ``x.hdr`` writes ``x.hdr`` and ``x.img``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import spectral.io.envi as spectral_envi

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._atomic import atomic_outputs

HEADER_SUFFIX = ".hdr"
DATA_SUFFIXES = (".img", ".dat", ".raw", ".bsq", ".bil", ".bip")
INTERLEAVES = ("bsq", "bil", "bip")
_ENVI_DTYPES = {np.dtype(t) for t in (np.uint8, np.int16, np.uint16, np.int32, np.uint32)} | {
    np.dtype(t) for t in (np.float32, np.float64, np.int64, np.uint64)
}


def _header_and_data(path: Path) -> tuple[Path, Path | None]:
    if path.suffix.lower() == HEADER_SUFFIX:
        return path, None
    for header in (path.with_suffix(HEADER_SUFFIX), path.with_name(path.name + HEADER_SUFFIX)):
        if header.is_file():
            return header, path
    raise InputError(f"{path.name}: no ENVI header ({path.stem}.hdr) beside the data file")


def storage_paths(path: Path) -> list[Path]:
    """The header and the data file of the ENVI image named by ``path``."""
    header, data_file = _header_and_data(path)
    if data_file is None:
        data_file = Path(spectral_envi.open(str(header)).filename)
    return [header, data_file]


def load(path: Path, var: str | None = None) -> Cube:
    """Read an ENVI image (header or data file path) into a cube of its stored dtype."""
    header, data_file = _header_and_data(path)
    image = spectral_envi.open(str(header), None if data_file is None else str(data_file))
    stored = image.open_memmap()  # (rows, cols, bands) for every interleave
    data = np.array(stored, dtype=stored.dtype.newbyteorder("="))
    del stored
    centers = image.bands.centers
    wavelengths = np.asarray(centers, dtype=np.float64) if centers else None
    interleave = image.metadata.get("interleave", "?")
    return Cube(
        data,
        name=header.stem,
        wavelengths=wavelengths,
        source=f"{header.name} (ENVI, {interleave})",
    )


def save(cube: Cube, path: Path, *, interleave: str = "bsq") -> None:
    """Write ``path`` (a ``.hdr``) and the raw data beside it as ``.img``."""
    if path.suffix.lower() != HEADER_SUFFIX:
        raise InputError(f"{path.name}: an ENVI output is named by its header, e.g. cube.hdr")
    if interleave not in INTERLEAVES:
        raise InputError(f"unknown ENVI interleave {interleave!r}; use one of {INTERLEAVES}")
    if cube.dtype not in _ENVI_DTYPES:
        raise InputError(f"ENVI files cannot hold dtype {cube.dtype}")
    metadata: dict[str, object] = {"description": cube.name}
    if cube.wavelengths is not None:
        metadata["wavelength"] = [repr(float(w)) for w in cube.wavelengths]
    data_path = path.with_suffix(".img")
    with atomic_outputs(path, data_path) as (temp_header, temp_data):
        spectral_envi.save_image(
            str(temp_header),
            cube.data,
            dtype=cube.dtype,
            interleave=interleave,
            metadata=metadata,
            force=True,
            ext=temp_data.suffix,
        )
        produced = temp_header.with_suffix(temp_data.suffix)
        if produced != temp_data:
            produced.rename(temp_data)
