"""Spectral PCA (the KLT) shared by the PCA codecs: the basis, its stored form, projections.

The mean spectrum and the first k eigenvectors of the band covariance are stored as fp16
(``C + C * k`` values); encoder and decoder both use the stored (rounded) values, so the
decoder reconstructs exactly what the encoder measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsinr import container

STORED = np.dtype("<f2")


@dataclass(frozen=True)
class Basis:
    """Mean spectrum (C,) and components (C, k), as the file stores them (fp16 values)."""

    mean: np.ndarray
    components: np.ndarray

    @property
    def k(self) -> int:
        return int(self.components.shape[1])

    def nbytes(self) -> int:
        return (self.mean.size + self.components.size) * STORED.itemsize

    def to_bytes(self) -> bytes:
        return self.mean.astype(STORED).tobytes() + self.components.astype(STORED).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, bands: int, k: int) -> Basis:
        expected = (bands + bands * k) * STORED.itemsize
        if len(data) != expected:
            raise container.CorruptFileError(f"PCA basis is {len(data)} bytes, expected {expected}")
        values = np.frombuffer(data, dtype=STORED).astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise container.CorruptFileError("PCA basis holds NaN or infinite values")
        return cls(values[:bands], values[bands:].reshape(bands, k))

    def project(self, pixels: np.ndarray) -> np.ndarray:
        """(N, C) spectra -> (N, k) component values."""
        return (pixels - self.mean) @ self.components

    def reconstruct(self, scores: np.ndarray) -> np.ndarray:
        """(N, k) component values -> (N, C) spectra."""
        return scores @ self.components.T + self.mean


@dataclass(frozen=True)
class Moments:
    """The pixel count, mean spectrum and scatter matrix (sum of outer products of the
    centred spectra) of a set of pixels: enough for the KLT, and mergeable, so that a
    scene's are accumulated tile by tile (exactly, up to rounding; Chan et al. 1979).

    >>> rng = np.random.default_rng(0)
    >>> pixels = rng.normal(size=(100, 3))
    >>> whole = Moments.of(pixels)
    >>> parts = Moments.of(pixels[:30]).merged(Moments.of(pixels[30:]))
    >>> bool(np.allclose(whole.scatter, parts.scatter) and np.allclose(whole.mean, parts.mean))
    True
    """

    count: int
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of(cls, pixels: np.ndarray) -> Moments:
        """The moments of (N, C) ``pixels``."""
        mean = pixels.mean(axis=0)
        centred = pixels - mean
        return cls(len(pixels), mean, centred.T @ centred)

    def merged(self, other: Moments) -> Moments:
        count = self.count + other.count
        if not self.count or not other.count:
            return self if other.count == 0 else other
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        scatter = self.scatter + other.scatter + np.outer(delta, delta) * (
            self.count * other.count / count
        )
        return Moments(count, mean, scatter)

    def affine(self, offset: float, scale: float) -> Moments:
        """The moments of ``(x - offset) * scale``."""
        return Moments(self.count, (self.mean - offset) * scale, self.scatter * scale**2)

    @property
    def energies(self) -> np.ndarray:
        """The scatter's eigenvalues, largest first (each component's sum of squares)."""
        return np.sort(np.linalg.eigvalsh(self.scatter))[::-1]


def principal_basis(pixels: np.ndarray, k_max: int, *, stored: bool = True) -> Basis:
    """The mean and the ``k_max`` leading eigenvectors of the band covariance, rounded to
    fp16 (``stored``, as the PCA codecs keep them) or exact.

    ``pixels`` is (N, C). The sign of each eigenvector is fixed (largest entry positive)
    so that the result does not depend on the eigen-solver's whims.
    """
    return principal_basis_of(Moments.of(pixels), k_max, stored=stored)


def principal_basis_of(moments: Moments, k_max: int, *, stored: bool = True) -> Basis:
    """:func:`principal_basis` from the pixels' :class:`Moments`."""
    mean = moments.mean
    covariance = moments.scatter / max(moments.count - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:k_max]
    components = eigenvectors[:, order]
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])])
    components = components * np.where(signs == 0, 1, signs)
    if not stored:
        return Basis(mean, components)
    rounded = lambda a: a.astype(STORED).astype(np.float64)  # noqa: E731
    return Basis(rounded(mean), rounded(components))


def truncated(basis: Basis, k: int) -> Basis:
    """The first ``k`` components of ``basis``."""
    return Basis(basis.mean, basis.components[:, :k])


def component_counts(bands: int, limit: int = 48) -> list[int]:
    """The numbers of components the PCA codecs try when choosing k for a budget."""
    counts = [1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48]
    return [k for k in counts if k <= min(bands, limit)]
