"""SIREN (Sitzmann et al., 2020): an MLP with sine activations mapping a pixel's
coordinates to its spectrum.

``n_h`` sine layers of width ``w_h`` (the first takes the 2 coordinates), then a linear
layer to the ``c`` bands. Every layer has a bias, so the exact parameter count is

    (2 * w_h + w_h) + (n_h - 1) * (w_h * w_h + w_h) + (w_h * c + c)

(the CRV 2023 paper's Eq. 5 leaves out the biases and is only approximate).

>>> siren_param_count(hidden_layers=10, width=20, bands=198)
7998
>>> model = Siren(hidden_layers=2, width=8, bands=5)
>>> sum(p.numel() for p in model.parameters()) == siren_param_count(2, 8, 5)
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hsinr.nn.arch import IN_FEATURES, siren_param_count

W0 = 30.0


class SineLayer(nn.Module):
    """``sin(w0 * (W x + b))`` with Sitzmann et al.'s initialisation."""

    def __init__(self, in_features: int, out_features: int, *, first: bool, w0: float = W0):
        super().__init__()
        self.w0 = w0
        self.linear = nn.Linear(in_features, out_features)
        bound = 1.0 / in_features if first else math.sqrt(6.0 / in_features) / w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * self.linear(x))


class Siren(nn.Module):
    """Coordinates (N, 2) in [-1, 1] -> spectra (N, bands)."""

    def __init__(self, hidden_layers: int, width: int, bands: int, *, w0: float = W0):
        super().__init__()
        if hidden_layers < 1 or width < 1 or bands < 1:
            raise ValueError(f"invalid SIREN sizes {hidden_layers}x{width} -> {bands}")
        self.hidden_layers, self.width, self.bands = hidden_layers, width, bands
        layers = [SineLayer(IN_FEATURES, width, first=True, w0=w0)]
        layers += [SineLayer(width, width, first=False, w0=w0) for _ in range(hidden_layers - 1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, bands)
        bound = math.sqrt(6.0 / width) / w0
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound)

    def features(self, coords: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's output, (N, width)."""
        return self.body(coords)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(coords))

    def ordered_parameters(self) -> list[torch.Tensor]:
        """Parameters in file order: each layer's weight (out x in, row-major), then bias."""
        layers = [layer.linear for layer in self.body] + [self.head]
        return [tensor for layer in layers for tensor in (layer.weight, layer.bias)]

    def to_flat(self) -> np.ndarray:
        """All parameters as one float32 vector in file order."""
        return np.concatenate(
            [t.detach().cpu().numpy().astype(np.float32).ravel() for t in self.ordered_parameters()]
        )

    def load_flat(self, flat: np.ndarray) -> None:
        """Set all parameters from a vector in file order (the inverse of :meth:`to_flat`)."""
        flat = np.asarray(flat, dtype=np.float32)
        expected = siren_param_count(self.hidden_layers, self.width, self.bands)
        if flat.size != expected:
            raise ValueError(f"{flat.size} parameters given, the network has {expected}")
        offset = 0
        with torch.no_grad():
            for tensor in self.ordered_parameters():
                part = flat[offset : offset + tensor.numel()].reshape(tensor.shape)
                tensor.copy_(torch.from_numpy(part.copy()))
                offset += tensor.numel()


def axis_coordinates(n: int) -> torch.Tensor:
    """``n`` evenly spaced coordinates spanning [-1, 1] (just -1 when ``n == 1``)."""
    return torch.linspace(-1.0, 1.0, n)


def grid(
    height: int, width: int, rows: slice = slice(None), cols: slice = slice(None)
) -> torch.Tensor:
    """(N, 2) coordinates (row, col) of the pixels in a window, in row-major pixel order.

    Each axis spans [-1, 1] over the FULL image independently, so non-square images are
    not squeezed, and a window gets exactly the coordinates it has in the whole grid.
    """
    ys = axis_coordinates(height)[rows]
    xs = axis_coordinates(width)[cols]
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([yy.reshape(-1), xx.reshape(-1)], dim=1)
