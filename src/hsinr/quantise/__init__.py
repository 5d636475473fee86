"""Quantisers: uniform ``bits``-bit quantisers over a tensor's range
(:mod:`~hsinr.quantise.uniform`), quantised and entropy-coded network weights
(:mod:`~hsinr.quantise.weights`), and rate-distortion optimised quantisation of wavelet
latents (:mod:`~hsinr.quantise.rdoq`)."""

from hsinr.quantise.uniform import dequantise, quantise, valid_quantiser

__all__ = ["dequantise", "quantise", "valid_quantiser"]
