"""hsinr: hyperspectral image compression with implicit neural representations.

The subpackages load when first used (``hsinr.codecs``, ``hsinr.io``, ``hsinr.datasets``,
``hsinr.metrics``, ...), so ``import hsinr`` is quick and loads no torch.

>>> import hsinr
>>> cube = hsinr.datasets.sample()
>>> cube.shape
(64, 64, 198)
>>> hsinr.codecs.names()[:3]
['siren', 'jpeg', 'jpeg2000']
"""

from __future__ import annotations

import importlib

from hsinr.cube import Cube, Normalisation
from hsinr.errors import DatasetError, HsinrError, InputError, UnsupportedFormatError

__version__ = "0.1.0"

SUBPACKAGES = ("basenet", "bench", "codecs", "container", "datasets", "entropy", "exclusion",
               "fuzzing", "io", "limits", "metadata", "metrics", "nn", "plot", "progress",
               "quantise", "ratecontrol", "section", "transforms", "view",
               "xarray")  # fmt: skip


def __getattr__(name: str):
    if name in SUBPACKAGES:
        return importlib.import_module(f"hsinr.{name}")
    raise AttributeError(f"module 'hsinr' has no attribute {name!r}")


__all__ = [
    "Cube",
    "DatasetError",
    "HsinrError",
    "InputError",
    "Normalisation",
    "UnsupportedFormatError",
    "__version__",
    *SUBPACKAGES,
]
