"""Rebuild the sample scene shipped in the package (src/hsinr/data/jasper_ridge_sample.npz).

It is a real crop of the standard Jasper Ridge file, rows 0-63 and cols 36-99 (water,
trees, soil and road all appear), all 198 bands, uint16 values unchanged.

    python benchmarks/make_sample.py [DATA_DIR]
"""

import sys
from pathlib import Path

import hsinr

ROWS, COLS = slice(0, 64), slice(36, 100)

if __name__ == "__main__":
    scene = hsinr.datasets.load("jasper_ridge", sys.argv[1] if len(sys.argv) > 1 else None)
    crop = hsinr.Cube(scene.data[ROWS, COLS, :].copy(), name="jasper_ridge_sample")
    out = Path(hsinr.datasets.__file__).parent / "data" / "jasper_ridge_sample.npz"
    hsinr.io.save(crop, out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, shape {crop.shape}, {crop.dtype})")
