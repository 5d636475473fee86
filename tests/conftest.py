"""Shared fixtures: small real crops of the shared benchmark scenes."""

from __future__ import annotations

import numpy as np
import pytest

import hsinr


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder; the suite needs it (CI has it at ../shared/data)."""
    return hsinr.datasets.find_data_dir()


@pytest.fixture(scope="session")
def indian_pines(data_dir) -> hsinr.Cube:
    return hsinr.datasets.load("indian_pines", data_dir)


@pytest.fixture(scope="session")
def cuprite(data_dir) -> hsinr.Cube:
    return hsinr.datasets.load("cuprite", data_dir)


@pytest.fixture
def small_cube(indian_pines) -> hsinr.Cube:
    """A 12 x 10 x 16 real crop of Indian Pines (uint16), with made-up but plausible
    wavelengths so that metadata round trips can be checked."""
    data = np.ascontiguousarray(indian_pines.data[20:32, 30:40, ::12][:, :, :16])
    wavelengths = np.linspace(400.5, 2499.25, data.shape[2])
    return hsinr.Cube(data, name="indian_crop", wavelengths=wavelengths)
