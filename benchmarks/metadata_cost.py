"""What keeping a scene's metadata costs, and what leaving no-data pixels and bad bands
out of the coding gains, in one run (issue 15).

    python benchmarks/metadata_cost.py --out benchmarks/results/metadata

1. Cost: the real Specim Fenix cube of shared/data/extra (450 bands; its ENVI header has
   wavelengths, FWHM, a reflectance scale factor, a no-data value and 28 sensor fields)
   coded by `latent` and `pca-dct` at 0.1 / 0.2 / 0.5 bpppb with the metadata section and
   with --strip-metadata: file bytes, section bytes, PSNR.
2. No-data: a 40 x 40 x 40 crop of Indian Pines as int32 with a 10 x 15 block of -9999
   (a swath edge) and bands 0-2 marked bad, coded with the metadata (the block and the bad
   bands left out, restored exactly) and with --strip-metadata (coded as values); PSNR over
   the valid pixels and good bands in both cases (hsinr.metrics leaves them out).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import warnings
from pathlib import Path

import numpy as np

import hsinr
from hsinr import Cube, codecs, container, metrics
from hsinr.metadata import Metadata

COMMAND = "python benchmarks/metadata_cost.py --out benchmarks/results/metadata"


def _psnr(name: str, cube: Cube, budget: float, strip: bool) -> tuple[int, int, float]:
    run = codecs.Run(progress=False, strip_metadata=strip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoding = codecs.encode(name, cube, {"bpppb": budget}, run)
    text, _ = container.split_metadata(encoding.data)
    decoded = codecs.decode(encoding.data)
    return len(encoding.data), container.section_bytes(text), metrics.psnr(cube, decoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = hsinr.datasets.find_data_dir()
    fenix = hsinr.io.load(data / "extra" / "fenix-rock" / "image.hdr")
    rows = []
    for name in ("latent", "pca-dct"):
        for budget in (0.1, 0.2, 0.5):
            kept = _psnr(name, fenix, budget, strip=False)
            stripped = _psnr(name, fenix, budget, strip=True)
            rows.append({"part": "cost", "scene": "fenix-rock", "codec": name, "budget": budget,
                         "bytes": kept[0], "section_bytes": kept[1], "psnr": kept[2],
                         "stripped_bytes": stripped[0], "stripped_psnr": stripped[2]})
    crop = hsinr.datasets.load("indian_pines").data[:40, :40, :40].astype(np.int32)
    crop[:10, :15] = -9999
    edge = Cube(crop, name="edge", metadata=Metadata(nodata=-9999.0, bad_bands=(0, 1, 2)))
    for name, budget in (("latent", 0.5), ("pca-dct", 0.5), ("jpeg2000", 1.5)):
        kept = _psnr(name, edge, budget, strip=False)
        stripped = _psnr(name, edge, budget, strip=True)
        rows.append({"part": "nodata", "scene": "indian_pines[:40,:40,:40]+edge",
                     "codec": name, "budget": budget, "bytes": kept[0],
                     "section_bytes": kept[1], "psnr": kept[2], "stripped_bytes": stripped[0],
                     "stripped_psnr": stripped[2]})  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    with open(args.out / "results.jsonl", "w") as stream:
        for row in rows:
            stream.write(json.dumps({**row, "commit": commit}) + "\n")
    lines = [
        "# Metadata: its cost, and no-data / bad bands left out", "",
        f"`{COMMAND}` at commit `{commit}`, {platform.processor() or platform.machine()}, "
        "one run. PSNR in dB over the valid pixels and good bands.", "",
        "| part | scene | codec | budget | bytes | section bytes | PSNR | stripped bytes "
        "| stripped PSNR | gain |", "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in rows:
        lines.append(
            f"| {row['part']} | {row['scene']} | {row['codec']} | {row['budget']} | "
            f"{row['bytes']:,} | {row['section_bytes']:,} | {row['psnr']:.2f} | "
            f"{row['stripped_bytes']:,} | {row['stripped_psnr']:.2f} | "
            f"{row['psnr'] - row['stripped_psnr']:+.2f} |"
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
