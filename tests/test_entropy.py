"""The one Laplace / ANS coder pair: exact round trips, and a decoder that never trusts a
caller's symbol count (docs/FORMAT.md, "Decoding safety")."""

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsinr.container import CorruptFileError
from hsinr.entropy.laplace import (
    SCALES,
    LaplaceDecoder,
    cost_lower_bound,
    encode_symbols,
    min_cost,
)


def _draw(rng, n, low, high, scale, centre):
    """Symbols in [low, high]: Laplace around ``centre``, with some uniform ones (tails)."""
    symbols = np.rint(rng.laplace(centre, scale * rng.uniform(0.2, 5), n))
    tails = rng.random(n) < 0.1
    symbols[tails] = rng.integers(low, high + 1, int(tails.sum()))
    return np.clip(symbols, low, high).astype(np.int64)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bound=st.sampled_from([1, 2, 3, 10, 255, 4096, 2**22]),
    code=st.integers(0, 255),
    centred=st.booleans(),
)
def test_the_cost_bound_never_exceeds_what_the_coder_spends(seed, bound, code, centred):
    """If it did, a valid file could be refused as corrupt."""
    rng = np.random.default_rng(seed)
    n = 400
    low, high = (-bound, bound) if centred else (0, bound)
    means = None if centred else rng.uniform(low, high, n)
    scales = np.full(n, SCALES[code]) * rng.choice([1.0, 0.5, 2.0], n)
    symbols = _draw(rng, n, low, high, SCALES[code], 0 if centred else means)
    words = encode_symbols(symbols, scales, low, high, means)
    spent = constriction.stream.stack.AnsCoder(words).num_valid_bits()
    assert cost_lower_bound(symbols, scales, low, high, means).sum() <= spent + 64
    cheapest = min_cost(scales, low, high, means)
    assert np.all(cheapest <= cost_lower_bound(symbols, scales, low, high, means) + 1e-9)


def test_round_trip_in_several_calls_then_finish():
    rng = np.random.default_rng(0)
    symbols = np.rint(rng.laplace(0, 3, 1000)).astype(np.int64)
    scales = np.full(1000, 3.0)
    decoder = LaplaceDecoder(encode_symbols(symbols, scales, -40, 40), -40, 40)
    parts = [decoder.decode(scales[a:b]) for a, b in ((0, 10), (10, 999), (999, 1000))]
    decoder.finish()
    assert np.array_equal(np.concatenate(parts), symbols)


def test_a_count_the_payload_cannot_hold_is_refused_before_decoding():
    words = encode_symbols(np.zeros(5), np.ones(5), -3, 3)
    with pytest.raises(CorruptFileError, match="need at least"):
        LaplaceDecoder(words, -3, 3).require(float(min_cost(np.ones(1), -3, 3)[0]) * 10**6, "x")


def test_decoding_far_past_the_payload_is_stopped_and_leftovers_refused():
    """constriction itself decodes any number of symbols from any words."""
    rng = np.random.default_rng(1)
    symbols = np.rint(rng.laplace(0, 30, 200)).astype(np.int64)
    words = encode_symbols(symbols, np.full(200, 30.0), -500, 500)
    decoder = LaplaceDecoder(words, -500, 500)
    with pytest.raises(CorruptFileError, match="ends before its symbols do"):
        decoder.decode(np.full(2**19, 30.0))  # checked chunk by chunk, not at the end only
    short = LaplaceDecoder(words, -500, 500)
    short.decode(np.full(150, 30.0))
    with pytest.raises(CorruptFileError, match="more than its header's symbols"):
        short.finish()
    empty = LaplaceDecoder(np.zeros(0, np.uint32), -500, 500)
    empty.decode(np.full(1000, 30.0))
    with pytest.raises(CorruptFileError, match="ends before its symbols do"):
        empty.finish()


def test_scales_are_an_exact_table_of_powers_of_two_in_eighths():
    codes = np.arange(256)
    assert np.array_equal(SCALES, 2.0 ** ((codes - 128) / 8))
    assert np.all(SCALES[8::8] / SCALES[:-8:8] == 2.0)
