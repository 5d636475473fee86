"""Wall time of the siren codec's searches with their candidates fitted one after another
in this process (``--jobs 1``, torch's threads) and together in worker processes (one per
core, one thread each), in one run (issue 17).

    python benchmarks/siren_search_speed.py --out benchmarks/results/siren_search_speed

For ``--search`` (every depth's widest network that fits the budget) and ``--bits auto``
(fp16 and 6 / 8 / 10 / 12 bits, each with its default network) on each scene: encode
seconds, the network / weights chosen and the file's PSNR, for each ``--jobs``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import hsinr
from hsinr import metrics
from hsinr.codecs import Run
from hsinr.codecs.siren import SirenCodec

SEARCHES = {"--search": {"search": True}, "--bits auto": {"bits": "auto"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", nargs="+", default=["jasper_ridge", "indian_pines"])
    parser.add_argument("--bpppb", type=float, default=0.1)
    parser.add_argument("--search-iters", type=int, default=300)
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, os.cpu_count() or 1])
    parser.add_argument("--out", default="benchmarks/results/siren_search_speed")
    args = parser.parse_args()
    import torch

    codec = SirenCodec()
    lines = [
        "# siren: searches fitted one after another and together", "",
        f"Command: `{shlex.join(['python', *sys.argv])}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads in this process), CPU only; hsinr "
        f"{hsinr.__version__}. Each search fits its candidates for {args.search_iters} "
        "iterations and then the chosen one for 1 more (so the time is the search's).", "",
        "| scene | search | jobs | candidates | encode s | speed-up | chosen | PSNR |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for scene in args.scenes:
        cube = hsinr.datasets.load(scene)
        for name, search in SEARCHES.items():
            first = None
            for jobs in args.jobs:
                options = {"bpppb": args.bpppb, "iterations": 1,
                           "search_iterations": args.search_iters, **search}  # fmt: skip
                started = time.perf_counter()
                encoding = codec.encode(cube, options, Run(progress=False, jobs=jobs))
                seconds = time.perf_counter() - started
                first = first or seconds
                details = encoding.details
                chosen = f"{details['arch']} {details['weights']}"
                psnr = metrics.psnr(cube.data, codec.decode(encoding.data))
                lines.append(f"| {scene} | {name} | {jobs} | {len(details['trials'])} | "
                             f"{seconds:.1f} | {first / seconds:.2f}x | {chosen} | "
                             f"{psnr:.2f} |")  # fmt: skip
                print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
