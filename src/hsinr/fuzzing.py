"""Mutated inputs for fuzzing hsinr, as an attacker would craft them.

Three kinds of input, each mutated from a valid seed by a numpy ``Generator``:

* compressed files (:func:`mutate_compressed`): header fields overwritten with
  interesting values, bits flipped, payload bytes overwritten, truncated, extended or
  spliced, image parts swapped for foreign images, the codec id changed; the container's
  lengths and CRC are recomputed (all but 5 % of cases) so that the codec's own checks,
  not the CRC, meet the attack;
* input cube files of every format (:func:`mutate_cube_file`): bytes and header text;
* base networks (:func:`mutate_base`): metadata JSON fields, tensors, raw bytes.

A case is a pure function of its seed and its case number (:func:`case_rng`), so any
finding is reproduced from ``(kind, seed, case)``. ``tests/test_fuzz.py`` runs a few
dozen cases of every kind on each CI run; ``benchmarks/fuzz_campaign.py`` runs tens of
thousands, each in a worker with memory and time limits (:func:`attempt` is what a
worker does with one case).
"""

from __future__ import annotations

import io as bytes_io
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hsinr import container
from hsinr.codecs.base import Run
from hsinr.errors import HsinrError
from hsinr.limits import Limits

INTERESTING = (
    0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 63, 64, 100, 127, 128, 255, 256, 257, 1023, 1024,
    4095, 4096, 32767, 32768, 65535, 65536, 2**20, 2**22, 2**24 + 1, 2**31 - 1, 2**31,
    2**32 - 1, 2**62, 2**64 - 1,
)  # fmt: skip
SPECIAL_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e-45, 1e-300, 1e38, 3.5e38, 1e308, float("inf"),
                  float("-inf"), float("nan"), 65504.0, 2.0**-16)  # fmt: skip
FUZZ_LIMITS = Limits(max_values=2**22)  # what the fuzzing decoders may produce


def fuzz_run(base=None) -> Run:
    """The run a fuzzing decoder gets: :data:`FUZZ_LIMITS`, no progress output, and the
    base network ``base`` (None: the shipped one)."""
    return Run(limits=FUZZ_LIMITS, progress=False, base=base)


def case_rng(kind: str, seed: str, case: int) -> np.random.Generator:
    """The generator of one case (reproducible from its three names)."""
    key = [sum(kind.encode()), sum(seed.encode()) * 131 + len(seed), case]
    return np.random.default_rng(key)


# -- bytes ---------------------------------------------------------------------------------


def _integer(rng: np.random.Generator) -> int:
    if rng.random() < 0.7:
        value = int(rng.choice(INTERESTING))
        return value + int(rng.integers(-1, 2)) if rng.random() < 0.3 else value
    return int(rng.integers(0, 2**63))


def _packed_value(rng: np.random.Generator) -> bytes:
    """A little-endian integer or float of 1, 2, 4 or 8 bytes."""
    if rng.random() < 0.25:
        value = float(rng.choice(SPECIAL_FLOATS))
        if rng.random() < 0.5:
            return struct.pack("<d", value)
        if math.isfinite(value) and abs(value) > 3.4e38:  # past float32: its infinity
            value = math.copysign(math.inf, value)
        return struct.pack("<f", value)
    size = int(rng.choice([1, 2, 4, 8]))
    return (_integer(rng) % 2 ** (8 * size)).to_bytes(size, "little")


def mutate_bytes(data: bytes, rng: np.random.Generator, *, focus: int | None = None) -> bytes:
    """One to three byte-level mutations; ``focus`` (a length) makes value writes land in
    the first ``focus`` bytes (a header) most of the time."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        operation = int(rng.integers(8))
        size = len(out)
        near = focus if focus and rng.random() < 0.7 else size
        where = int(rng.integers(0, max(min(near, size), 1)))
        if operation <= 2 and size:  # flip bits
            for _ in range(int(rng.integers(1, 9))):
                at = int(rng.integers(0, min(near, size)))
                out[at] ^= 1 << int(rng.integers(8))
        elif operation <= 4:  # an interesting value over what is there
            value = _packed_value(rng)
            out[where : where + len(value)] = value
        elif operation == 5 and size:  # a run of random, zero or 0xFF bytes
            length = int(rng.integers(1, 64))
            fill = rng.choice([None, 0, 255])
            run = rng.bytes(length) if fill is None else bytes([int(fill)]) * length
            out[where : where + length] = run
        elif operation == 6:  # cut or grow
            if rng.random() < 0.5:
                del out[int(rng.integers(0, size + 1)) :]
            else:
                out += rng.bytes(int(rng.integers(1, 256)))
        else:  # insert, delete or repeat a chunk
            length = int(rng.integers(1, 64))
            choice = rng.random()
            if choice < 0.33:
                out[where:where] = rng.bytes(length)
            elif choice < 0.66:
                del out[where : where + length]
            else:
                out[where:where] = out[where : where + length]
    return bytes(out)


# -- compressed files ---------------------------------------------------------------------


def foreign_images(rng: np.random.Generator, shape: tuple[int, int]) -> bytes:
    """An image codestream no hsinr encoder writes: RGB, another format, another size,
    progressive, 16-bit where 8 is expected, or just noise."""
    from PIL import Image

    rows, cols = shape
    if rng.random() < 0.3:
        rows, cols = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    choice = int(rng.integers(8))
    grey = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
    options: list[tuple[np.ndarray, str, dict]] = [
        (np.stack([grey] * 3, axis=-1), "JPEG", {}),
        (grey, "BMP", {}),
        (grey, "TIFF", {}),
        (grey, "PNG", {}),
        (np.stack([grey] * 3, axis=-1), "JPEG2000", {"no_jp2": True}),
        (grey, "JPEG", {"progressive": True}),
        (grey.astype(np.uint16) * 257, "JPEG2000", {"no_jp2": True, "irreversible": True}),
    ]
    if choice == 7:
        return rng.bytes(int(rng.integers(0, 400)))
    array, fmt, extra = options[choice]
    buffer = bytes_io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **extra)
    return buffer.getvalue()


def _swap_a_part(payload: bytes, rng: np.random.Generator) -> bytes | None:
    """Replace one length-prefixed image part (JPEG or J2K) with a foreign image."""
    starts = [i - 4 for i in range(4, len(payload) - 1)
              if payload[i : i + 2] in (b"\xff\xd8", b"\xff\x4f")
              and struct.unpack_from("<I", payload, i - 4)[0] <= len(payload) - i]  # fmt: skip
    if not starts:
        return None
    start = int(rng.choice(starts))
    (length,) = struct.unpack_from("<I", payload, start)
    part = foreign_images(rng, (int(rng.integers(1, 64)), int(rng.integers(1, 64))))
    return payload[:start] + struct.pack("<I", len(part)) + part + payload[start + 4 + length :]


_LIES = (-1, 0, 2**31, 1e308, -1e-308, "", "x" * 70000, [], [1.5] * 3, {"a": [1]}, None, True)


def mutate_metadata(text: bytes, rng: np.random.Generator) -> bytes:
    """The JSON of a metadata section with one field made a lie (a wrong type, size or
    value), or its bytes mutated."""
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not values or rng.random() < 0.3:
        return mutate_bytes(text, rng, focus=len(text))
    key = list(values)[int(rng.integers(len(values)))]
    if isinstance(values[key], dict) and values[key] and rng.random() < 0.5:
        inner = list(values[key])[int(rng.integers(len(values[key])))]
        values[key][inner] = _LIES[int(rng.integers(len(_LIES)))]
    else:
        values[key] = _LIES[int(rng.integers(len(_LIES)))]
    return json.dumps(values).encode()


@np.errstate(all="ignore")
def mutate_compressed(data: bytes, rng: np.random.Generator) -> bytes:
    """A mutated ``.hsinr`` file (see the module notes)."""
    text, inner = container.split_metadata(data)
    if text:  # a metadata section: a lying section with a valid CRC, or a mutated file inside
        if rng.random() < 0.5:
            return container.with_metadata(mutate_metadata(text, rng), bytes(inner))
        return container.with_metadata(text, mutate_compressed(bytes(inner), rng))
    if rng.random() < 0.05:  # the container itself, CRC left as it is
        return mutate_bytes(data, rng, focus=container.OVERHEAD)
    frame = container.unpack(data)
    if frame.chunks is not None:
        return _mutate_chunked(frame, rng)
    codec_id, header, payload = frame.codec_id, frame.header, frame.payload
    choice = rng.random()
    if choice < 0.45:
        header = mutate_bytes(header, rng, focus=len(header))
    elif choice < 0.75:
        payload = mutate_bytes(payload, rng, focus=64)
    elif choice < 0.85:
        swapped = _swap_a_part(payload, rng)
        payload = swapped if swapped is not None else mutate_bytes(payload, rng)
    else:
        header = mutate_bytes(header, rng, focus=len(header))
        payload = mutate_bytes(payload, rng)
    if rng.random() < 0.03:
        codec_id = int(rng.integers(0, 9))
    return container.pack(codec_id, header[:0xFFFF], payload)


def _mutate_chunked(frame: container.Frame, rng: np.random.Generator) -> bytes:
    """A version-2 file with its header, one chunk, or the chunk list mutated (CRCs and
    the chunk table computed again, so that the codec's own checks are what is tested)."""
    codec_id, header = frame.codec_id, frame.header
    chunks = [frame.chunks[i] for i in range(len(frame.chunks))]
    choice = rng.random()
    if choice < 0.35:
        header = mutate_bytes(header, rng, focus=len(header))
    elif choice < 0.85:
        index = int(rng.integers(len(chunks)))
        chunks[index] = mutate_bytes(chunks[index], rng, focus=64)
    elif choice < 0.93 and len(chunks) > 1:  # a chunk dropped, doubled or moved
        index = int(rng.integers(len(chunks)))
        kind = rng.random()
        if kind < 0.4:
            del chunks[index]
        elif kind < 0.7:
            chunks.insert(index, chunks[index])
        else:
            chunks.append(chunks.pop(index))
    else:
        header = mutate_bytes(header, rng, focus=len(header))
        chunks = [mutate_bytes(chunk, rng) for chunk in chunks]
    if rng.random() < 0.03:
        codec_id = int(rng.integers(0, 9))
    if not chunks:
        chunks = [b""]
    return container.pack_chunks(codec_id, header[:0xFFFF], chunks)


# -- input cube files ---------------------------------------------------------------------


TEXT_TOKENS = ("0", "-1", "1", "2", "65535", "4294967296", "1e400", "nan", "xyz", "bip", "bsq",
               "bil", "{", "}", "{1, 2", "../../etc/hostname", "/etc/hostname", "", "1.5",
               "ENVI Spectral Library", "99999999999999999999")  # fmt: skip


def _mutate_text(text: str, rng: np.random.Generator) -> str:
    """Replace a ``key = value`` line's value, drop a line, or add one."""
    lines = text.splitlines()
    choice = rng.random()
    if choice < 0.6 and lines:
        index = int(rng.integers(len(lines)))
        key = lines[index].split("=", 1)[0] if "=" in lines[index] else lines[index]
        lines[index] = f"{key.strip()} = {rng.choice(TEXT_TOKENS)}"
    elif choice < 0.8 and lines:
        del lines[int(rng.integers(len(lines)))]
    else:
        key = rng.choice(["samples", "lines", "bands", "interleave", "data type", "byte order",
                          "header offset", "file type", "wavelength", "data file"])  # fmt: skip
        lines.insert(int(rng.integers(1, len(lines) + 1)), f"{key} = {rng.choice(TEXT_TOKENS)}")
    return "\n".join(lines) + "\n"


@np.errstate(all="ignore")
def mutate_cube_file(files: dict[str, bytes], rng: np.random.Generator) -> dict[str, bytes]:
    """Mutated contents of a cube stored in ``files`` (name -> bytes; two for ENVI)."""
    files = dict(files)
    name = str(rng.choice(sorted(files)))
    data = files[name]
    if name.endswith(".hdr") and rng.random() < 0.6:
        files[name] = _mutate_text(data.decode("latin-1"), rng).encode("latin-1")
    elif name.endswith(".npy") and rng.random() < 0.4:
        header_end = data.index(b"\n") + 1 if b"\n" in data else len(data)
        text = data[10:header_end].decode("latin-1")
        for old, new in [("(", f"({_integer(rng)}, "), ("<u2", str(rng.choice(
                ["|O", "<c16", "<u2", ">f8", "V8", "<U4", "|b1"])))]:  # fmt: skip
            if rng.random() < 0.5:
                text = text.replace(old, new, 1)
        files[name] = data[:8] + struct.pack("<H", len(text)) + text.encode("latin-1") + (
            data[header_end:]
        )  # fmt: skip
    else:
        files[name] = mutate_bytes(data, rng, focus=512)
    return files


# -- base networks ------------------------------------------------------------------------


@np.errstate(all="ignore")
def mutate_base(path: Path, rng: np.random.Generator) -> bytes:
    """The bytes of a mutated base network file (safetensors) made from ``path``."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save

    choice = rng.random()
    if choice < 0.25:
        return mutate_bytes(path.read_bytes(), rng, focus=2048)
    with safe_open(str(path), framework="np") as handle:
        metadata = dict(handle.metadata() or {})
    tensors = load_file(str(path))
    if choice < 0.65:
        key = str(rng.choice(sorted(metadata)))
        try:
            value = json.loads(metadata[key])
        except ValueError:
            value = metadata[key]
        if isinstance(value, dict) and value:
            field = str(rng.choice(sorted(value)))
            options = [_integer(rng), -_integer(rng), float(rng.choice(SPECIAL_FLOATS)), "x",
                       [1, 2], {"a": 1}, None, True]  # fmt: skip
            value[field] = options[int(rng.integers(len(options)))]
            metadata[key] = json.dumps(value, allow_nan=True).replace("Infinity", "1e400")
        else:
            metadata[key] = str(rng.choice(["", "[]", "{}", "null", "1", "[" * 5000, "x"]))
    else:
        name = str(rng.choice(sorted(tensors)))
        action = int(rng.integers(4))
        if action == 0:
            del tensors[name]
        elif action == 1:
            tensors[f"model.extra{int(rng.integers(10))}"] = np.zeros(3, np.float32)
        elif action == 2:
            tensors[name] = tensors[name].astype(rng.choice([np.float64, np.float16, np.int32]))
        else:
            flat = tensors[name].reshape(-1)
            tensors[name] = np.concatenate([flat, flat[:1]]) if rng.random() < 0.5 else flat
            if rng.random() < 0.5:
                tensors[name] = tensors[name].copy()
                tensors[name][:1] = rng.choice(SPECIAL_FLOATS)
    return save(tensors, metadata=metadata)


# -- one attempt ------------------------------------------------------------------------------


def attempt(work: Callable[[], object]) -> str:
    """Run ``work`` on one case: ``"ok"`` if it succeeds, ``"refused"`` if it raises an
    :class:`HsinrError` (whose message must be one line). Anything else propagates: it
    is a bug (a traceback), and the caller records it."""
    try:
        work()
    except HsinrError as exc:
        if "\n" in str(exc).strip():
            raise AssertionError(f"an error message of several lines: {exc!r}") from exc
        return "refused"
    return "ok"
