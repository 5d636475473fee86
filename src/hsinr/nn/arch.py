"""SIREN shapes and their parameter counts: plain arithmetic, no torch, so that the
``siren`` codec can size its files and read its headers without loading torch.

>>> Arch.parse("10x20").param_count(198)  # the CRV paper's Jasper Ridge network
7998
"""

from __future__ import annotations

from typing import NamedTuple

IN_FEATURES = 2  # a pixel's (row, col)


def siren_param_count(hidden_layers: int, width: int, bands: int) -> int:
    """Exact number of weights and biases of a SIREN with these sizes."""
    first = IN_FEATURES * width + width
    hidden = (hidden_layers - 1) * (width * width + width)
    last = width * bands + bands
    return first + hidden + last


class Arch(NamedTuple):
    """A SIREN shape: ``hidden_layers`` sine layers of ``width`` units."""

    hidden_layers: int
    width: int

    def __str__(self) -> str:
        return f"{self.hidden_layers}x{self.width}"

    @classmethod
    def parse(cls, text: str) -> Arch:
        """``"6x32"`` -> ``Arch(6, 32)``."""
        try:
            layers, width = (int(part) for part in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"architecture {text!r} is not LAYERSxWIDTH, e.g. 6x32") from None
        return cls(layers, width)

    def param_count(self, bands: int) -> int:
        return siren_param_count(self.hidden_layers, self.width, bands)
