"""Entropy coding: quantised Laplace models coded with constriction's ANS coder.

* :mod:`~hsinr.entropy.laplace`: one-byte scale codes, exact bit counts, the one encoder
  (:func:`encode_symbols`) and decoder (:class:`LaplaceDecoder`, which never trusts a
  symbol count: docs/FORMAT.md, "Decoding safety");
* :mod:`~hsinr.entropy.groups`: per-group models with a stored centre (quantised weights,
  ``meta`` latents);
* :mod:`~hsinr.entropy.context`: the ``latent`` codec's context-adaptive scales.
"""

from hsinr.entropy.groups import LaplaceGroups
from hsinr.entropy.laplace import LaplaceDecoder, encode_symbols, scale_code, scale_of

__all__ = ["LaplaceDecoder", "LaplaceGroups", "encode_symbols", "scale_code", "scale_of"]
