"""Multi-band TIFF / GeoTIFF files, via tifffile.

The band axis may come first (band-sequential pages or planar samples, as GDAL writes)
or last (pixel-interleaved samples); tifffile's axis labels say which. Saving writes one
planar (band-first) image, with the wavelengths, when known, in its JSON description.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._atomic import atomic_outputs

SPATIAL = "YX"
BIGTIFF_BYTES = 2**32 - 2**25  # leave room for tags below the classic-TIFF 4 GiB limit


def _band_last(array: np.ndarray, axes: str, where: str) -> np.ndarray:
    """Reorder a 3-D array with tifffile ``axes`` labels to (rows, cols, bands)."""
    kept = [i for i, n in enumerate(array.shape) if n != 1 or axes[i] in SPATIAL]
    array = array.reshape([array.shape[i] for i in kept])
    axes = "".join(axes[i] for i in kept)
    if array.ndim != 3 or SPATIAL[0] not in axes or SPATIAL[1] not in axes:
        raise InputError(
            f"{where}: expected a multi-band image (3 axes incl. Y and X), "
            f"got axes {axes!r} with shape {array.shape}"
        )
    band_axis = next(i for i, label in enumerate(axes) if label not in SPATIAL)
    order = [axes.index("Y"), axes.index("X"), band_axis]
    return np.ascontiguousarray(array.transpose(order))


def load(path: Path, var: str | None = None) -> Cube:
    """Read the first image series of a TIFF as a (rows, cols, bands) cube."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        array = series.asarray()
        axes = series.axes
        described = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    data = _band_last(array, axes, path.name)
    wavelengths = described.get("wavelengths")
    if wavelengths is not None and len(wavelengths) != data.shape[2]:
        wavelengths = None
    return Cube(
        data,
        name=str(described.get("name", path.stem)),
        wavelengths=wavelengths,
        source=f"{path.name} (TIFF, axes {axes})",
    )


def save(cube: Cube, path: Path) -> None:
    """Write a planar multi-band TIFF (BigTIFF when the cube needs it)."""
    metadata: dict[str, object] = {"name": cube.name}
    if cube.wavelengths is not None:
        metadata["wavelengths"] = [float(w) for w in cube.wavelengths]
    with atomic_outputs(path) as (temp,):
        tifffile.imwrite(
            temp,
            np.ascontiguousarray(cube.data.transpose(2, 0, 1)),
            photometric="minisblack",
            planarconfig="separate",
            bigtiff=cube.data.nbytes > BIGTIFF_BYTES,
            metadata=metadata,
        )
