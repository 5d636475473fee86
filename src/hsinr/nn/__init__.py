"""Torch modules and training loops: SIREN, fitting, architecture search."""

from hsinr.nn.fit import FitResult, fit
from hsinr.nn.search import Arch, Trial, search
from hsinr.nn.siren import Siren, grid, siren_param_count

__all__ = ["Arch", "FitResult", "Siren", "Trial", "fit", "grid", "search", "siren_param_count"]
