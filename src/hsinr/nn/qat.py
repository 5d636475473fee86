"""Quantisation-aware fine-tuning: the network is trained through the same uniform
quantiser its weights will be stored with (:mod:`hsinr.quantise.uniform`), with the
straight-through estimator (the rounding is skipped in the backward pass).

Each quantised group is one weight matrix or bias vector (``per="tensor"``) or, for
weight matrices, one output row (``per="channel"``); its range is its own current
[min, max].

>>> import torch
>>> from hsinr.nn.siren import Siren
>>> model = Siren(hidden_layers=1, width=4, bands=2)
>>> with quantisation_aware(model, bits=3):
...     distinct = model.head.weight.unique().numel()
>>> distinct <= 8                      # 3 bits: at most 8 levels in the head's weights
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils import parametrize

GRANULARITIES = ("tensor", "channel")


def fake_quantise(values: torch.Tensor, bits: int, per: str = "tensor") -> torch.Tensor:
    """``values`` rounded to ``bits``-bit levels of each group's [min, max] (float32, as
    the stored file has them), with the straight-through gradient."""
    levels = 2**bits - 1
    flat = values.reshape(values.shape[0], -1) if per == "channel" and values.dim() > 1 else (
        values.reshape(1, -1))  # fmt: skip
    low = flat.detach().min(dim=1, keepdim=True).values
    high = flat.detach().max(dim=1, keepdim=True).values
    step = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    symbols = torch.clamp(torch.round((flat.detach() - low) / step), 0, levels)
    quantised = (low + step * symbols).reshape(values.shape)
    return values + (quantised - values).detach()


class _FakeQuantise(nn.Module):
    def __init__(self, bits: int, per: str):
        super().__init__()
        self.bits, self.per = bits, per

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return fake_quantise(values, self.bits, self.per)


@contextmanager
def quantisation_aware(model: nn.Module, bits: int, per: str = "tensor") -> Iterator[nn.Module]:
    """Within the block every ``weight`` and ``bias`` of ``model``'s linear layers is seen
    through the quantiser; the underlying float parameters are what is trained, and they
    are left in place afterwards."""
    if per not in GRANULARITIES:
        raise ValueError(f"unknown granularity {per!r}; use one of {GRANULARITIES}")
    layers = [module for module in model.modules() if isinstance(module, nn.Linear)]
    for layer in layers:
        for name in ("weight", "bias"):
            parametrize.register_parametrization(layer, name, _FakeQuantise(bits, per))
    try:
        yield model
    finally:
        for layer in layers:
            for name in ("weight", "bias"):
                parametrize.remove_parametrizations(layer, name, leave_parametrized=False)
