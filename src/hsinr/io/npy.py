"""NumPy ``.npy`` (the bare array) and ``.npz`` (the cube plus metadata) files.

Pickled objects are never loaded: ``allow_pickle=False`` everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.io._atomic import atomic_outputs
from hsinr.io._pick import pick_cube_variable

CUBE_KEY = "cube"
WAVELENGTHS_KEY = "wavelengths"
NAME_KEY = "name"


def load_npy(path: Path, var: str | None = None) -> Cube:
    """Read a ``.npy`` file holding one (H, W, C) array."""
    data = np.load(path, allow_pickle=False)
    return Cube(data, name=path.stem, source=f"{path.name} (NumPy .npy)")


def save_npy(cube: Cube, path: Path) -> None:
    """Write the array alone (wavelengths and name are not kept; use ``.npz`` for them)."""
    with atomic_outputs(path) as (temp,), open(temp, "wb") as stream:
        np.save(stream, cube.data, allow_pickle=False)


def load_npz(path: Path, var: str | None = None) -> Cube:
    """Read the cube from a ``.npz`` archive: ``var``, else ``cube``, else the largest 3-D array."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}  # each member read once
    shapes = {key: array.shape for key, array in arrays.items()}
    numeric = {key for key, array in arrays.items() if array.dtype.kind in "iuf"}
    if var is None and CUBE_KEY in numeric and len(shapes[CUBE_KEY]) == 3:
        var = CUBE_KEY
    key = pick_cube_variable(shapes, numeric, var, where=path.name)
    data = arrays[key]
    wavelengths = None
    if WAVELENGTHS_KEY in arrays:
        candidate = arrays[WAVELENGTHS_KEY].reshape(-1)
        if data.ndim == 3 and candidate.size == data.shape[2]:
            wavelengths = candidate
    name = str(arrays[NAME_KEY]) if NAME_KEY in arrays else path.stem
    if data.ndim != 3:
        raise InputError(f"{path.name}: variable '{key}' is {data.ndim}-D, not a 3-D cube")
    source = f"{path.name} (NumPy .npz, '{key}')"
    return Cube(data, name=name, wavelengths=wavelengths, source=source)


def save_npz(cube: Cube, path: Path) -> None:
    """Write ``cube``, ``name`` and, when known, ``wavelengths`` into a compressed archive."""
    arrays = {CUBE_KEY: cube.data, NAME_KEY: np.array(cube.name)}
    if cube.wavelengths is not None:
        arrays[WAVELENGTHS_KEY] = cube.wavelengths
    with atomic_outputs(path) as (temp,), open(temp, "wb") as stream:
        np.savez_compressed(stream, **arrays)
