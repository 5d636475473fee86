"""Base of the PCA codecs: spectral KLT to k components, then the component images coded
by a subclass (DCT + entropy coding, or JPEG 2000).

Rate control: for each candidate k, bisection on the subclass's setting to fit the budget;
the (k, setting) with the highest PSNR within the budget wins (when no k fits, the smallest
file found is written and its true rate reported).

Codec header: the cube header (see :mod:`hsinr.codecs.header`) then k as uint16.
Payload: the fp16 mean and basis (``C + C k`` values), then the subclass's body.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from hsinr import container
from hsinr.codecs.base import Codec, Encoding, Options, Run, Window, option
from hsinr.codecs.header import CubeHeader
from hsinr.cube import Cube
from hsinr.errors import InputError
from hsinr.limits import DEFAULT, Limits
from hsinr.metrics import psnr_of_mse
from hsinr.ratecontrol import Found, bisect, budget_bytes
from hsinr.transforms.klt import Basis, component_counts, principal_basis, truncated

_K = struct.Struct("<H")


@dataclass(frozen=True)
class PcaOptions(Options):
    """Options of the PCA codecs."""

    components: int | None = option(
        None, "spectral components k (default: searched for the budget)", low=1, metavar="K"
    )


class PcaCodec(Codec):
    """Subclasses set ``name``, ``codec_id``, ``setting_range`` and the body coding."""

    Options = PcaOptions
    setting_range: tuple[float, float]  # the body grows with the setting

    def encode_body(self, scores: np.ndarray, setting: float, run: Run) -> bytes:
        """Code the (H, W, k) component images."""
        raise NotImplementedError

    def decode_body(self, body: bytes, shape: tuple[int, int], k: int,
                    limits: Limits) -> np.ndarray:  # fmt: skip
        """The (H, W, k) component images of ``encode_body``'s output (work and memory
        checked against ``limits`` first)."""
        raise NotImplementedError

    def body_facts(self, body: bytes, k: int) -> dict[str, object]:
        return {}

    def _encode(self, cube: Cube, options: PcaOptions, run: Run) -> Encoding:
        """The best file within the budget; ``components`` fixes k instead of searching it."""
        header = CubeHeader.of(cube)
        rows, cols, bands = cube.shape
        values, _ = cube.normalise(np.float64)
        pixels = values.reshape(-1, bands)
        counts = component_counts(bands)
        if options.components is not None:
            if options.components > bands:
                raise InputError(f"--components must be at most the cube's {bands} bands")
            counts = [options.components]
        basis = principal_basis(pixels, max(counts))
        all_scores = basis.project(pixels).reshape(rows, cols, -1)
        target = budget_bytes(options.bpppb, cube.shape)
        best: tuple[float, Found[bytes], int] | None = None
        smallest: tuple[Found[bytes], int] | None = None
        for k in counts:
            basis_k = truncated(basis, k)
            prefix = header.pack() + _K.pack(k)
            scores = np.ascontiguousarray(all_scores[:, :, :k])

            def file_at(setting: float, basis_k=basis_k, prefix=prefix, scores=scores) -> bytes:
                payload = basis_k.to_bytes() + self.encode_body(scores, setting, run)
                return container.pack(self.codec_id, prefix, payload)

            found = bisect(file_at, len, *self.setting_range, target)
            if smallest is None or found.size < smallest[0].size:
                smallest = (found, k)
            if not found.within:
                continue
            error = self._normalised_mse(found.value, pixels)
            if best is None or error < best[0]:
                best = (error, found, k)
        chosen, k = best[1:] if best is not None else smallest
        psnr = psnr_of_mse(best[0]) if best is not None else None
        return self.encoding(chosen.value, cube, options, psnr=psnr,
                             details={"components": k, "setting": chosen.parameter})  # fmt: skip

    def _normalised_mse(self, data: bytes, pixels: np.ndarray) -> float:
        _, basis, scores = self._read(data)
        restored = np.clip(basis.reconstruct(scores.reshape(-1, basis.k)), 0.0, 1.0)
        return float(np.mean((restored - pixels) ** 2))

    def _read(self, data: bytes, limits: Limits = DEFAULT) -> tuple[CubeHeader, Basis, np.ndarray]:
        header, basis, body = self._parts(data, limits)
        rows, cols, _ = header.shape
        return header, basis, self.decode_body(body, (rows, cols), basis.k, limits)

    def _parts(self, data: bytes, limits: Limits = DEFAULT) -> tuple[CubeHeader, Basis, bytes]:
        frame = self.frame(data)
        header, used = CubeHeader.unpack_from(frame.header, limits)
        if len(frame.header) != used + _K.size:
            raise container.CorruptFileError(f"{self.name} header has the wrong length")
        (k,) = _K.unpack_from(frame.header, used)
        bands = header.shape[2]
        if not 1 <= k <= bands:
            raise container.CorruptFileError(f"{self.name} header claims {k} components")
        basis_bytes = (bands + bands * k) * 2
        basis = Basis.from_bytes(frame.payload[:basis_bytes], bands, k)
        return header, basis, frame.payload[basis_bytes:]

    def describe(self, data: bytes, run: Run | None = None) -> dict[str, object]:
        header, basis, body = self._parts(data, (run or Run()).limits)
        return {
            **header.describe(),
            "components": basis.k,
            "basis_bytes": basis.nbytes(),
            **self.body_facts(body, basis.k),
        }

    def _decode(self, data: bytes, window: Window | None, run: Run) -> Cube:
        """The cube (its size, work and memory checked against ``run.limits`` first)."""
        header, basis, scores = self._read(data, run.limits)
        scores = scores.reshape(-1, basis.k)
        return header.restore_pixels(lambda part: basis.reconstruct(scores[part]))
