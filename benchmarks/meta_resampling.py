"""What resampling spectra to the meta base network's outputs costs, and what meta's
latents reach on cubes with more bands than the base has outputs (issue 16, item 2).

    python benchmarks/meta_resampling.py --out benchmarks/results/meta_resampling

For real cubes of 198-580 bands: the PSNR of resampling to the shipped base's 200 outputs
and back (linear interpolation along the band index, hsinr.codecs.meta.spectral_resampling)
alone, and for the cubes wider than 200 bands the shipped meta codec's latents alone
(8 bits, no residual, no metadata section).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np

import hsinr
from hsinr import codecs, metrics
from hsinr.codecs.meta import spectral_resampling

CUBES = ("scene:jasper_ridge", "extra/abu-urban-2.mat", "extra/a_hsi_img_for_VI_demo.mat",
         "extra/fenix-rock/image.hdr", "extra/corn-kernel/corn-kernel-hyperspectral.hdr")
OUTPUTS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = hsinr.datasets.find_data_dir()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    lines = ["# Spectral resampling for the meta codec", "",
             f"`python benchmarks/meta_resampling.py --out {args.out}` at commit `{commit}`.", "",
             "| cube | shape | to 200 bands and back: PSNR dB | meta latents alone: bpppb, PSNR |",
             "|---|---|---|---|"]  # fmt: skip
    run = codecs.Run(progress=False, strip_metadata=True)
    for name in CUBES:
        cube = (hsinr.datasets.load(name.removeprefix("scene:")) if name.startswith("scene:")
                else hsinr.io.load(data / name))  # fmt: skip
        values = cube.data.astype(np.float64).reshape(-1, cube.bands)
        down = spectral_resampling(cube.bands, OUTPUTS)
        back = (values @ down @ spectral_resampling(OUTPUTS, cube.bands)).reshape(cube.shape)
        meta = ""
        if cube.bands > OUTPUTS:
            encoding = codecs.encode("meta", cube, {"bits": 8, "refine": False}, run)
            decoded = codecs.decode(encoding.data, run=run)
            meta = f"{encoding.bpppb:.4f}, {metrics.psnr(cube, decoded):.2f}"
        lines.append(f"| {name} | {' x '.join(map(str, cube.shape))} | "
                     f"{metrics.psnr(cube.data, back):.2f} | {meta} |")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
