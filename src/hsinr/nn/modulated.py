"""The modulated SIREN of the ICPRAM 2025 paper: a base SIREN shared by many images whose
hidden features are shifted per image.

Each of the K sine layers of width d gets a shift (the paper's Eq. 1)

    h_i = sin(w0 (W_i h_(i-1) + b_i)) + beta_i

and the K shifts come from one latent vector phi of size ``latent_dim`` through one linear
layer, the "meta network" (Eq. 2): beta = W_M phi + b_M. The sine layers are
:class:`hsinr.nn.siren.SineLayer`, the same ones the per-image SIREN uses.

>>> import torch
>>> from hsinr.nn.siren import grid
>>> model = ModulatedSiren(hidden_layers=2, width=8, bands=5, latent_dim=3)
>>> model(grid(4, 4), torch.zeros(2, 3)).shape      # 2 images' latents, 16 pixels each
torch.Size([2, 16, 5])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from hsinr.nn.siren import IN_FEATURES, W0, SineLayer

CONFIG_LIMITS = {"hidden_layers": 64, "width": 4096, "bands": 4096, "latent_dim": 65535,
                 "patch": 1024}  # fmt: skip
W0_RANGE = (1e-3, 1000.0)  # sine frequencies a base network may use


@dataclass(frozen=True)
class ModulatedConfig:
    """Sizes of a base network: K sine layers of ``width``, ``bands`` outputs, latents of
    ``latent_dim``, trained and applied on ``patch`` x ``patch`` pixel patches."""

    hidden_layers: int
    width: int
    bands: int
    latent_dim: int
    patch: int
    w0: float = W0

    def __post_init__(self) -> None:
        for name, limit in CONFIG_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise ValueError(f"base network {name} must be an integer 1-{limit}, not {value!r}")
        low, high = W0_RANGE
        w0 = self.w0
        if isinstance(w0, bool) or not isinstance(w0, int | float) or not low <= w0 <= high:
            raise ValueError(f"base network w0 must be a number in [{low:g}, {high:g}], not {w0!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def modulations(self) -> int:
        """Number of shifts, K * d."""
        return self.hidden_layers * self.width


class ModulatedSiren(nn.Module):
    """Coordinates (N, 2) and latents (B, latent_dim) -> spectra (B, N, bands)."""

    def __init__(
        self, hidden_layers: int, width: int, bands: int, latent_dim: int, *, w0: float = W0
    ):
        super().__init__()
        if min(hidden_layers, width, bands, latent_dim) < 1:
            raise ValueError(
                f"invalid modulated SIREN sizes {hidden_layers}x{width} -> {bands}, "
                f"latent {latent_dim}"
            )
        self.hidden_layers, self.width = hidden_layers, width
        self.bands, self.latent_dim = bands, latent_dim
        layers = [SineLayer(IN_FEATURES, width, first=True, w0=w0)]
        layers += [SineLayer(width, width, first=False, w0=w0) for _ in range(hidden_layers - 1)]
        self.body = nn.ModuleList(layers)
        self.head = nn.Linear(width, bands)
        bound = math.sqrt(6.0 / width) / w0
        self.meta = nn.Linear(latent_dim, hidden_layers * width)  # phi -> beta (Eq. 2)
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound)
            self.meta.bias.zero_()  # phi = 0 gives the unmodulated base network

    @classmethod
    def from_config(cls, config: ModulatedConfig) -> ModulatedSiren:
        return cls(
            config.hidden_layers, config.width, config.bands, config.latent_dim, w0=config.w0
        )

    def modulations(self, latents: torch.Tensor) -> torch.Tensor:
        """Shifts (B, K, 1, d) of latents (B, latent_dim)."""
        beta = self.meta(latents)
        return beta.reshape(latents.shape[0], self.hidden_layers, 1, self.width)

    def features(self, coords: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """The last modulated hidden layer, (B, N, width)."""
        beta = self.modulations(latents)
        h = coords
        for index, layer in enumerate(self.body):
            h = layer(h) + beta[:, index]
        return h

    def forward(self, coords: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(coords, latents))
