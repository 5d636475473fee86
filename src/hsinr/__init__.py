"""hsinr: hyperspectral image compression with implicit neural representations.

>>> import hsinr
>>> cube = hsinr.datasets.sample()
>>> cube.shape
(64, 64, 198)
"""

from hsinr import datasets, io, metrics
from hsinr.cube import Cube, Normalisation
from hsinr.errors import DatasetError, HsinrError, InputError, UnsupportedFormatError

__version__ = "0.1.0"

__all__ = [
    "Cube",
    "DatasetError",
    "HsinrError",
    "InputError",
    "Normalisation",
    "UnsupportedFormatError",
    "__version__",
    "datasets",
    "io",
    "metrics",
]
