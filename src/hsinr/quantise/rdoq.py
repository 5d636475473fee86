"""Rate-distortion optimised quantisation (RDOQ) of wavelet latents, and the reconstruction
offset that goes with it (the ``latent`` codec; method in docs/METHODS.md).

Errors are in squared quantiser steps; with a latent step q the codec's Lagrangian is
``error + lambda * bits`` with lambda = q^2 ln2 / 6, i.e. ln2 / 6 per bit in these units.
"""

from __future__ import annotations

import math

import numpy as np

from hsinr.entropy.laplace import MAGNITUDE_BITS, NONZERO_BITS, ZERO_BITS


def centroid_offset(symbols: np.ndarray, latents: np.ndarray) -> float:
    """How far the non-zero symbols lie above the values they stand for, on average, in
    steps (clipped to the 0-255/256 the header can hold)."""
    nonzero = symbols != 0
    count = int(np.count_nonzero(nonzero))
    if not count:
        return 0.0
    excess = float(np.sum(np.where(nonzero, np.abs(symbols) - np.abs(latents), 0.0))) / count
    return float(np.clip(round(256 * excess), 0, 255)) / 256


def optimise_quantisation(symbols, latents, codes, offset: float) -> np.ndarray:
    """One pass of rate-distortion optimised quantisation: every non-zero symbol moves one
    step toward zero where that lowers ``error + lambda * bits`` (errors in
    squared steps, lambda = ln2 / 6 per bit: the codec's Lagrangian over q^2), with bits
    under the Laplace scales of the given scale ``codes`` (the entropy model fitted to the
    current symbols)."""
    magnitude, target = np.abs(symbols), np.abs(latents)
    smaller = np.maximum(magnitude - 1, 0)

    def decoded(m):
        return np.where(m > 0, m - offset, 0.0)

    error_change = (target - decoded(smaller)) ** 2 - (target - decoded(magnitude)) ** 2
    # one step down from m >= 1 saves the magnitude's bits, and from 1 the non-zero cost
    bits_change = np.where(magnitude == 1, ZERO_BITS[codes] - NONZERO_BITS[codes], 0.0)
    bits_change -= MAGNITUDE_BITS[codes]
    better = (magnitude > 0) & (error_change + math.log(2) / 6 * bits_change < 0)
    return np.where(better, np.sign(symbols) * smaller, symbols)
