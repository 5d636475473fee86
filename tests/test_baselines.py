"""The classical codecs: round trips, rate control and errors, on a real crop."""

import warnings

import numpy as np
import pytest

from hsinr import Cube, codecs, container, metrics
from hsinr.codecs import BudgetWarning

BASELINES = ["jpeg", "jpeg2000", "pca-dct", "pca-jpeg2000"]


def encoded(name: str, cube: Cube, bpppb: float, **options) -> bytes:
    """The file (a budget below the codec's floor gives its smallest file, with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BudgetWarning)
        return codecs.encode(name, cube, {"bpppb": bpppb, **options}).data


@pytest.fixture(scope="module")
def crop(request) -> Cube:
    """A real 32 x 30 x 40 crop of Indian Pines (uint16)."""
    import hsinr

    scene = hsinr.datasets.load("indian_pines")
    return Cube(np.ascontiguousarray(scene.data[10:42, 20:50, ::5]), name="crop")


@pytest.fixture(scope="module")
def floors(crop) -> dict[str, float]:
    """Each codec's lowest reachable rate on the crop, as it reports it."""
    return {
        name: metrics.bpppb(len(encoded(name, crop, 1e-4)), crop.shape)
        for name in BASELINES
    }


@pytest.mark.parametrize("name", BASELINES)
def test_round_trip_keeps_shape_and_dtype(crop, floors, name):
    codec = codecs.get(name)
    data = encoded(name, crop, floors[name] * 2)
    decoded = codecs.decode(data)
    assert decoded.shape == crop.shape and decoded.dtype == crop.dtype
    assert codecs.for_file(data).name == name
    assert codec.describe(data)["shape"] == list(crop.shape)


@pytest.mark.parametrize("name", BASELINES)
def test_rate_lands_within_five_percent_and_psnr_rises(crop, floors, name):
    scores = []
    for factor in (1.5, 2.0, 3.0):  # all below every codec's ceiling on this crop
        target = floors[name] * factor
        data = encoded(name, crop, target)
        achieved = metrics.bpppb(len(data), crop.shape)
        assert target * 0.95 <= achieved <= target * (1 + 1e-9), (target, achieved)
        scores.append(metrics.psnr(crop, codecs.decode(data)))
    assert scores[0] < scores[1] < scores[2]


@pytest.mark.parametrize("name", BASELINES)
def test_an_unreachable_budget_writes_the_smallest_file_and_says_so(crop, floors, name):
    with pytest.warns(BudgetWarning, match="over the budget"):
        encoding = codecs.encode(name, crop, {"bpppb": floors[name] / 4})
    assert not encoding.within_budget
    assert encoding.bpppb == pytest.approx(floors[name])


def test_per_band_headers_set_a_floor_the_pca_codecs_do_not_have(floors):
    assert floors["pca-dct"] < floors["jpeg2000"] and floors["pca-dct"] < floors["jpeg"]


@pytest.mark.parametrize("name", BASELINES)
def test_a_damaged_codestream_behind_a_valid_crc_is_refused(crop, floors, name):
    data = encoded(name, crop, floors[name] * 2)
    frame = container.unpack(data)
    if frame.chunks is None:
        payload = bytearray(frame.payload)
        payload[-40:] = bytes(40)  # zero the end of the last part
        forged = container.pack(frame.codec_id, frame.header, bytes(payload[:-7]))
    else:  # a tiled file: the last tile's body, its CRC computed again
        chunks = [frame.chunks[i] for i in range(len(frame.chunks))]
        chunks[-1] = chunks[-1][:-47] + bytes(40)
        forged = container.pack_chunks(frame.codec_id, frame.header, chunks)
    with pytest.raises(container.CorruptFileError):
        codecs.decode(forged)


def test_pca_codecs_accept_a_fixed_component_count(crop):
    for name in ("pca-dct", "pca-jpeg2000"):
        codec = codecs.get(name)
        assert codec.describe(encoded(name, crop, 1.0, components=3))["components"] == 3
