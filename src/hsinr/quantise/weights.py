"""Network weights as quantised, entropy-coded groups (the ``siren`` codec's ``bits`` mode).

The tensors are taken in file order; each is one group (``per="tensor"``) or, for a
weight matrix with ``per="channel"``, one group per output row (biases stay one group).
Each group is quantised uniformly to ``bits`` bits over its own range
(:mod:`hsinr.quantise.uniform`) and its symbols are coded under its own quantised Laplace
(:class:`hsinr.entropy.groups.LaplaceGroups`). Body layout, G groups, W words:

    G x (low float32, step float32)   the quantisers
    G x (centre uint16, scale uint8)   the Laplace models
    W x uint32                         constriction ANS words, symbols in file order

>>> import numpy as np
>>> tensors = [np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), np.ones(3, np.float32)]
>>> body, words = encode_weights(tensors, bits=6, per="channel")
>>> len(body) == body_size(group_count([(3, 4), (3,)], "channel"), words)
True
>>> back = decode_weights(body, [(3, 4), (3,)], bits=6, per="channel", words=words)
>>> bool(np.abs(back[0] - tensors[0]).max() <= (2 / 3 / 63) / 2 + 1e-6)
True
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from hsinr.container import CorruptFileError
from hsinr.entropy.groups import MODEL, LaplaceGroups
from hsinr.quantise.uniform import dequantise, quantise, valid_quantiser

QUANTISER = struct.Struct("<ff")
GROUP_BYTES = QUANTISER.size + MODEL.size  # side information per group


def _rows(shape: Sequence[int], per: str) -> int:
    """Groups in a tensor of ``shape``."""
    return shape[0] if per == "channel" and len(shape) > 1 else 1


def group_count(shapes: Sequence[Sequence[int]], per: str) -> int:
    return sum(_rows(shape, per) for shape in shapes)


def body_size(groups: int, words: int) -> int:
    """Exact bytes of a body with ``groups`` groups and ``words`` ANS words."""
    return groups * GROUP_BYTES + 4 * words


def _split(tensors: Sequence[np.ndarray], per: str) -> list[np.ndarray]:
    groups = []
    for tensor in tensors:
        rows = _rows(tensor.shape, per)
        groups.extend(np.asarray(tensor, np.float32).reshape(rows, -1))
    return groups


def encode_weights(tensors: Sequence[np.ndarray], bits: int, per: str) -> tuple[bytes, int]:
    """The body for ``tensors`` and its number of ANS words."""
    quantised = [quantise(group, bits) for group in _split(tensors, per)]
    symbols = np.concatenate([q[0] for q in quantised])
    membership = np.repeat(np.arange(len(quantised)), [q[0].size for q in quantised])
    models = LaplaceGroups.fit(symbols, membership, len(quantised), bits)
    words = models.encode(symbols, membership, bits)
    quantisers = b"".join(QUANTISER.pack(low, step) for _, low, step in quantised)
    return quantisers + models.pack() + words.tobytes(), len(words)


def decode_weights(
    body: bytes, shapes: Sequence[Sequence[int]], bits: int, per: str, words: int
) -> list[np.ndarray]:
    """The float32 tensors of :func:`encode_weights`' body (its length already checked)."""
    count = group_count(shapes, per)
    quantisers = np.frombuffer(body[: count * QUANTISER.size], dtype="<f4").reshape(count, 2)
    if not np.all(np.isfinite(quantisers)) or not np.all(
        valid_quantiser(quantisers[:, 0], quantisers[:, 1], bits)
    ):
        raise CorruptFileError("a weight group's quantiser is invalid")
    offset = count * QUANTISER.size
    models = LaplaceGroups.unpack(body[offset:], count, bits)
    offset += count * MODEL.size
    sizes = [int(np.prod(shape)) // _rows(shape, per) for shape in shapes
             for _ in range(_rows(shape, per))]  # fmt: skip
    membership = np.repeat(np.arange(count), sizes)
    symbols = models.decode(np.frombuffer(body[offset:], dtype="<u4"), membership, bits)
    values = np.empty(symbols.size, dtype=np.float32)
    start = 0
    for (low, step), size in zip(quantisers, sizes, strict=True):
        values[start : start + size] = dequantise(symbols[start : start + size], low, step)
        start += size
    tensors, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        tensors.append(values[start : start + size].reshape(shape))
        start += size
    return tensors
