"""The named benchmark scenes, found in a data folder and checked before use.

>>> import hsinr
>>> cube = hsinr.datasets.load("indian_pines")        # doctest: +SKIP
>>> labels = hsinr.datasets.ground_truth("indian_pines")  # same rows / cols  # doctest: +SKIP

The data folder is, in order: the ``data_dir`` argument, the ``HSINR_DATA`` environment
variable, or ``../shared/data`` beside the source checkout (or beside the current folder)
when present. Each scene lists its files best first: the full standard scene when you
have it, else the real crop shipped with the project's shared data. Files whose sha256 is
recorded here are checked against it; the full standard files, whose bytes we could not
obtain to hash, are checked by their shape instead.

The package also ships one small real scene for demos: :func:`sample` (a 64 x 64 crop of
Jasper Ridge, all 198 bands).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsinr import io
from hsinr.cube import Cube
from hsinr.errors import DatasetError, HsinrError

DATA_ENV = "HSINR_DATA"
SAMPLE_NAME = "sample"
_SAMPLE_FILE = Path(__file__).parent / "data" / "jasper_ridge_sample.npz"


@dataclass(frozen=True)
class DataFile:
    """One file of a scene: its name, checks, and where its pixels sit in the full scene.

    ``window`` is (rows, cols) of this file inside the full scene, ``None`` when unknown;
    ``shape`` is the (rows, cols[, bands]) it must have once loaded (``None``: not checked).
    """

    filename: str
    sha256: str | None
    shape: tuple[int, ...] | None
    var: str | None = None
    window: tuple[slice, slice] | None = (slice(None), slice(None))


@dataclass(frozen=True)
class Scene:
    """A benchmark scene: its files, best first, and its ground-truth map if any."""

    name: str
    title: str
    files: tuple[DataFile, ...]
    ground_truth: DataFile | None = None


SCENES: dict[str, Scene] = {
    scene.name: scene
    for scene in (
        Scene(
            "indian_pines",
            "Indian Pines (AVIRIS, 200 corrected bands)",
            (
                DataFile("Indian_pines_corrected.mat", None, (145, 145, 200)),
                DataFile(
                    "Indian_part.mat",
                    "c9a11992bd0c0c6c445004defc96ce54c9ea129de0c384878f4823ea6f1c6b3f",
                    (85, 70, 200),
                    var="X",
                    window=(slice(30, 115), slice(25, 95)),
                ),
            ),
            DataFile(
                "Indian_pines_gt.mat",
                "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
                (145, 145),
                var="indian_pines_gt",
            ),
        ),
        Scene(
            "jasper_ridge",
            "Jasper Ridge (AVIRIS, 224 or 198 bands)",
            (
                DataFile("jasperRidge2_R224.mat", None, (100, 100, 224)),
                DataFile(
                    "jasperRidge2_R198.mat",
                    "0e4118a6452f6044978a8ca3762fb0f791115467904936d463c4e111e56e682e",
                    (100, 100, 198),
                ),
            ),
        ),
        Scene(
            "pavia_university",
            "Pavia University (ROSIS-03, 103 bands)",
            (
                DataFile("PaviaU.mat", None, (610, 340, 103), var="paviaU"),
                DataFile(
                    "paviaU_subimg.mat",
                    "72d2d6cd1f439898f3a387f2d1189be888a1fa268ab2c643c2543bd9530e9b22",
                    (50, 50, 103),
                    window=None,
                ),
            ),
            DataFile(
                "PaviaU_gt.mat",
                "23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
                (610, 340),
                var="paviaU_gt",
            ),
        ),
        Scene(
            "cuprite",
            "Cuprite, Nevada (AVIRIS reflectance x 10000)",
            (
                DataFile("Cuprite_f970619t01p02_r02_sc03.a.rfl.mat", None, None, window=None),
                DataFile("CupriteS1_R188.mat", None, (250, 190, 188), window=None),
                DataFile(
                    "Rcuprite50x90x188.mat",
                    "755772e67f6dd58d5bbcb650007f8e22198b46b27c7afcfe74f84b1d8abfc73a",
                    (50, 90, 188),
                    window=None,
                ),
            ),
        ),
    )
}
SCENE_NAMES: tuple[str, ...] = tuple(SCENES)


def _candidate_dirs() -> list[tuple[str, Path]]:
    checkout = Path(__file__).resolve().parents[2]
    return [
        ("beside the checkout", checkout.parent / "shared" / "data"),
        ("beside the current folder", Path.cwd().parent / "shared" / "data"),
    ]


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder in use (see the module docstring for the search order)."""
    if explicit is not None:
        chosen, origin = Path(explicit), "data_dir argument"
    elif os.environ.get(DATA_ENV):
        chosen, origin = Path(os.environ[DATA_ENV]), f"${DATA_ENV}"
    else:
        for _, folder in _candidate_dirs():
            if folder.is_dir():
                return folder
        looked = ", ".join(str(folder) for _, folder in _candidate_dirs())
        raise DatasetError(
            f"no data folder found (looked in {looked}); set {DATA_ENV} to the folder "
            "that holds the scene files"
        )
    if not chosen.is_dir():
        raise DatasetError(f"data folder {chosen} (from {origin}) does not exist")
    return chosen


_verified: dict[tuple[Path, int, float], str] = {}


def sha256_of(path: Path) -> str:
    """The file's sha256 hex digest (cached per path, size and modification time)."""
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def _check_hash(path: Path, entry: DataFile) -> None:
    if entry.sha256 is not None and sha256_of(path) != entry.sha256:
        raise DatasetError(
            f"{path}: sha256 is {sha256_of(path)}, expected {entry.sha256}; the file is "
            "corrupt or not the standard one"
        )


def _check_shape(path: Path, entry: DataFile, shape: tuple[int, ...]) -> None:
    if entry.shape is not None and tuple(shape) != entry.shape:
        raise DatasetError(f"{path}: shape {tuple(shape)}, expected {entry.shape}")


def scene(name: str) -> Scene:
    """The :class:`Scene` called ``name``."""
    if name not in SCENES:
        raise DatasetError(
            f"unknown scene {name!r}; known: {', '.join(SCENE_NAMES)} (and {SAMPLE_NAME!r})"
        )
    return SCENES[name]


def locate(name: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, DataFile]:
    """The best file of scene ``name`` present in the data folder, and its entry."""
    folder = find_data_dir(data_dir)
    entry_list = scene(name).files
    for entry in entry_list:
        path = folder / entry.filename
        if path.is_file():
            return path, entry
    wanted = " or ".join(entry.filename for entry in entry_list)
    raise DatasetError(f"scene {name!r}: none of {wanted} is in {folder}")


def load(name: str, data_dir: str | os.PathLike[str] | None = None) -> Cube:
    """Load benchmark scene ``name`` (one of :data:`SCENE_NAMES`, or ``"sample"``)."""
    if name == SAMPLE_NAME:
        return sample()
    path, entry = locate(name, data_dir)
    _check_hash(path, entry)
    cube = io.load(path, var=entry.var)
    _check_shape(path, entry, cube.shape)
    return cube.replace(name=name)


def ground_truth(name: str, data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The class-label map (rows, cols) aligned pixel for pixel with ``load(name)``.

    For a crop, the full-scene map is cut to the crop's window. Raises
    :class:`DatasetError` when the scene has no ground truth here or the crop's position
    in the full scene is unknown.
    """
    the_scene = scene(name)
    cube_path, cube_entry = locate(name, data_dir)
    if the_scene.ground_truth is None:
        raise DatasetError(f"scene {name!r} has no ground-truth map in hsinr's data")
    if cube_entry.window is None:
        raise DatasetError(
            f"scene {name!r}: {cube_path.name} is a crop whose position in the full scene is "
            f"unknown, so no ground truth lines up with it; use the full scene "
            f"({the_scene.files[0].filename})"
        )
    entry = the_scene.ground_truth
    path = cube_path.parent / entry.filename
    if not path.is_file():
        raise DatasetError(f"scene {name!r}: ground truth {entry.filename} is not in {path.parent}")
    _check_hash(path, entry)
    try:
        import scipy.io

        labels = scipy.io.loadmat(path, variable_names=[entry.var])[entry.var]
    except (KeyError, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read the variable {entry.var!r}: {exc}") from exc
    _check_shape(path, entry, labels.shape)
    rows, cols = cube_entry.window
    return np.ascontiguousarray(labels[rows, cols])


def sample_path() -> Path:
    """Path of the small real scene shipped inside the package."""
    return _SAMPLE_FILE


def sample() -> Cube:
    """The bundled sample: a real 64 x 64 x 198 uint16 crop of Jasper Ridge (rows 0-63,
    cols 36-99 of the standard 100 x 100 scene; rebuilt by ``benchmarks/make_sample.py``)."""
    try:
        return io.load(_SAMPLE_FILE)
    except HsinrError as exc:
        raise DatasetError(f"the bundled sample is missing or damaged: {exc}") from exc
