"""Torch modules and training loops: SIREN, modulated SIREN, fitting, architecture search,
meta-learning. Submodules load torch when imported; :mod:`hsinr.nn.arch` and
:mod:`hsinr.nn.meta_settings` do not, and this package loads nothing until a name is
asked for. The functions ``fit`` and ``search`` live in the modules of the same names
(``from hsinr.nn.fit import fit``).
"""

from __future__ import annotations

import importlib

_WHERE = {"Arch": "arch", "siren_param_count": "arch", "FitResult": "fit", "Trial": "search",
          "Siren": "siren", "grid": "siren"}  # fmt: skip


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hsinr.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hsinr.nn.{_WHERE[name]}"), name)


__all__ = sorted(_WHERE)
