"""hsinr's codecs beside ATLAS (``pip install atlas-hsi``: NMF endmembers + 2D Gaussian
splatting, CUDA only) on Jasper Ridge, in one run (issue 17, item 6). ATLAS is not an
hsinr dependency: install it where a GPU is, then

    python benchmarks/atlas_side_by_side.py --out benchmarks/results/atlas

ATLAS is run as its README recommends for Jasper Ridge (rank 10, 8,000 iterations, D3
growth from half the Gaussians, two-stage QAT from iteration 4,000, learnable endmembers,
SAM loss, 8-bit Cholesky) with a Gaussian budget per rate (``--points``); its NMF init is
part of its encode time. Each ATLAS file's measured size then sets the budget of hsinr's
``latent``, ``siren`` (on ``--device``, ``--siren-iters``) and ``pca-jpeg2000`` for that
rate, so every row of a rate has (nearly) the same bytes.

Every decoded cube is scored two ways against the same original (the scene as hsinr reads
``jasperRidge2_R198.mat``; ATLAS reads the same file, in the same pixel order):
hsinr's PSNR (one MSE over the cube, peak = the original's max - min) and ATLAS's (each
band divided by the original band's maximum, PSNR per band at peak 1, then the mean).
ATLAS's output is brought back to the scene's units (times each band's maximum) and
rounded to its integers, as any hsinr decoder's is. Bytes are whole files: ATLAS's
``compressed.atlas`` with its JSON header, hsinr's files with theirs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe

import hsinr
from hsinr import codecs, metrics
from hsinr.codecs import Run

ATLAS_TRAIN = ["--iterations", "8000", "--grow_stop_iter", "2000", "--qat_start", "4000",
               "--prune_interval", "100", "--endmember_lr", "1e-4", "--sam_weight", "0.05",
               "--cholesky_bits", "8", "--rank", "10"]  # fmt: skip


def atlas_psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """ATLAS's PSNR: bands scaled by the original's band maxima (clipped to [0, 1] as
    ATLAS clips its reference), per-band PSNR at peak 1, averaged over bands."""
    peaks = original.reshape(-1, original.shape[2]).max(axis=0).astype(np.float64)
    peaks[peaks <= 0] = 1.0
    reference = np.clip(original / peaks, 0.0, 1.0)
    mse = np.mean((reference - decoded / peaks) ** 2, axis=(0, 1))
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def atlas(command: list[str]) -> float:
    """Run an ``atlas`` command; its wall seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "atlas.cli", *command], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"atlas {command[0]} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def atlas_row(points: int, work: Path, init_s: float, original: np.ndarray) -> dict:
    from atlas import codec as atlas_codec

    runs = work / f"runs_{points}"
    train_s = atlas(["train", "--input", "jasperridge", "--data-dir", str(work / "raw"),
                     "--init-dir", str(work / "init"), "--output-dir", str(runs),
                     "--num_points", str(points // 2), "--max_num_points", str(points),
                     *ATLAS_TRAIN])  # fmt: skip
    (path,) = runs.rglob("compressed.atlas")
    started = time.perf_counter()
    meta, arrays = atlas_codec.read_bitstream(str(path))
    normalised = np.asarray(atlas_codec.reconstruct(meta, arrays), dtype=np.float64)
    decode_s = time.perf_counter() - started
    peaks = original.reshape(-1, original.shape[2]).max(axis=0).astype(np.float64)
    info = np.iinfo(original.dtype) if original.dtype.kind in "ui" else None
    decoded = normalised * peaks
    if info is not None:
        decoded = np.clip(np.rint(decoded), info.min, info.max)
    size = path.stat().st_size
    return {"codec": f"atlas ({points} Gaussians)", "bytes": size,
            "bpppb": 8 * size / original.size,
            "payload_bpppb": atlas_codec.payload_bpppb(meta, arrays),
            "encode_s": init_s + train_s, "train_s": train_s, "decode_s": decode_s,
            "psnr": metrics.psnr(original, decoded), "atlas_psnr": atlas_psnr(original, decoded)}


def hsinr_row(cube, codec: str, budget: float, options: dict, device: str) -> dict:
    run = Run(device=device, progress=False)
    started = time.perf_counter()
    encoding = codecs.encode(codec, cube, {"bpppb": budget, **options}, run)
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    decoded = codecs.decode(encoding.data, run=run).data
    decode_s = time.perf_counter() - started
    return {"codec": codec, "bytes": len(encoding.data),
            "bpppb": 8 * len(encoding.data) / cube.data.size, "encode_s": encode_s,
            "decode_s": decode_s, "psnr": metrics.psnr(cube.data, decoded),
            "atlas_psnr": atlas_psnr(cube.data, decoded.astype(np.float64))}  # fmt: skip


def write(out: Path, rows: list[dict], args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    lines = ["# hsinr beside ATLAS on Jasper Ridge (100 x 100 x 198)", "",
             f"Command: `{shlex.join(['python', *sys.argv])}`  ",
             f"Machine: {describe(args.device)}; atlas-hsi {version('atlas-hsi')}, "
             f"hsinr {hsinr.__version__}.", "",
             "PSNR (hsinr): one MSE over the cube, peak = original max - min. PSNR (ATLAS): "
             "bands scaled by the original's band maxima, mean of per-band PSNRs at peak 1. "
             "Bytes: whole files. ATLAS's encode time includes its NMF init; hsinr's siren "
             f"ran on {args.device} ({args.siren_iters} iterations), latent and "
             "pca-jpeg2000 on the CPU cores.", "",
             "| rate | codec | bytes | bpppb | PSNR (hsinr) dB | PSNR (ATLAS) dB | encode s | "
             "decode s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        lines.append(
            f"| {row['rate']} | {row['codec']} | {row['bytes']:,} | {row['bpppb']:.4f} | "
            f"{row['psnr']:.2f} | {row['atlas_psnr']:.2f} | {row['encode_s']:.1f} | "
            f"{row['decode_s']:.2f} |"
        )  # fmt: skip
    (out / "results.md").write_text("\n".join(lines) + "\n")


def version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(package)
    except PackageNotFoundError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", nargs="+", type=int, default=[800, 1900, 4200],
                        help="ATLAS's Gaussians per rate (about 0.05 / 0.1 / 0.2 bpppb)")
    parser.add_argument("--device", default="cuda", help="device of hsinr's siren (cuda)")
    parser.add_argument("--siren-iters", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/atlas"))
    args = parser.parse_args()
    cube = hsinr.datasets.load("jasper_ridge")
    source = hsinr.datasets.find_data_dir() / "jasperRidge2_R198.mat"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "raw").mkdir()
        (work / "raw" / source.name).symlink_to(source.resolve())
        init_s = atlas(["init", "--input", "jasperridge", "--rank", "10", "--data-dir",
                        str(work / "raw"), "--init-dir", str(work / "init")])  # fmt: skip
        for points in args.points:
            found = atlas_row(points, work, init_s, cube.data)
            rate = f"{found['bpppb']:.3f}"
            rows.append({"rate": rate, **found})
            print(rows[-1], flush=True)
            for codec, options in (("latent", {}), ("pca-jpeg2000", {}),
                                   ("siren", {"iterations": args.siren_iters})):  # fmt: skip
                device = args.device if codec == "siren" else "cpu"
                rows.append({"rate": rate, **hsinr_row(cube, codec, found["bpppb"], options,
                                                       device)})  # fmt: skip
                print(rows[-1], flush=True)
            write(args.out, rows, args)


if __name__ == "__main__":
    main()
