"""``hsinr compress-batch``: many scenes, one task per scene, on a Dask cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsinr import batch, codecs
from hsinr.cli.codec import codec_command
from hsinr.cli.options import codec_options, run_of


def run_batch(args: argparse.Namespace) -> int:
    run = run_of(args)
    codec = codecs.get(args.codec)
    options = codec_options(codec, args)
    sources = batch.expand(args.inputs)
    records = batch.compress_batch(
        sources, Path(args.out), codec.name, options.set(), run=run,
        scheduler=args.scheduler, workers=args.workers, cluster=not args.serial,
        progress=run.progress,
    )  # fmt: skip
    skipped = sum(1 for r in records if r.get("skipped"))
    failed = [r for r in records if r.get("error")]
    done = len(records) - skipped - len(failed)
    print(f"{done} compressed, {skipped} already done, {len(failed)} failed, in {args.out}/ "
          f"(log: {batch.LOG_NAME})")  # fmt: skip
    for record in failed:
        print(f"  failed: {record['error']}")
    return 1 if failed else 0


def register(commands, argv: list[str]) -> None:
    parser = codec_command(
        commands, "compress-batch", "compress many scenes, one task each, on a Dask cluster",
        "Compress every scene named (files, folders, quoted glob patterns, list files of\n"
        "one path a line) into OUT/NAME.hsinr, one task per scene on a Dask cluster (a\n"
        "local one unless --scheduler names one). A re-run skips scenes already done; a\n"
        "scene that fails is recorded in OUT/batch.jsonl and the others go on. Needs\n"
        "pip install 'hsinr[distributed]' (or --serial).", argv,
    )  # fmt: skip
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="cube files, folders, 'glob*' patterns or list files (.txt, @FILE)")
    parser.add_argument("--out", required=True, help="folder for the .hsinr files and the log")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes of the local cluster (default: one per core)")
    parser.add_argument("--serial", action="store_true",
                        help="no cluster: one scene after another in this process")
    parser.set_defaults(run=run_batch)
