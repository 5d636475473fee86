"""Transforms the codecs share: the spectral KLT (:mod:`~hsinr.transforms.klt`), the 2-D
CDF 9/7 wavelet (:mod:`~hsinr.transforms.wavelet`) and the 8 x 8 block DCT
(:mod:`~hsinr.transforms.dct`)."""

from hsinr.transforms.klt import Basis, principal_basis
from hsinr.transforms.wavelet import Wavelet2D

__all__ = ["Basis", "Wavelet2D", "principal_basis"]
