"""``hsinr bench``: every codec on every scene at every rate, in one run."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from hsinr import codecs, datasets
from hsinr.cli.options import options_listing, run_of
from hsinr.errors import InputError


def parse_options(items: list[str]) -> dict[str, dict[str, object]]:
    """``["siren.iterations=500", ...]`` -> ``{"siren": {"iterations": 500}}``, each value
    parsed and checked by the codec's option type."""
    texts: dict[str, dict[str, str]] = {}
    for item in items:
        name, _, rest = item.partition(".")
        key, equals, text = rest.partition("=")
        if not (name and key and equals):
            raise InputError(f"--option {item!r} is not CODEC.KEY=VALUE")
        if name not in codecs.names():
            raise InputError(f"--option {item!r}: unknown codec {name!r}")
        texts.setdefault(name, {})[key] = text
    from hsinr.bench import typed_options

    return {name: typed_options(name, values) for name, values in texts.items()}


def run_bench(args: argparse.Namespace) -> int:
    from hsinr import bench
    from hsinr.bench import tasks
    from hsinr.bench.run import resolve_scenes

    run_of(args)  # the device checked usable
    resolve_scenes(args.scenes)  # unknown names, missing files fail before any work
    for spec in args.codecs:
        bench.parse_spec(spec)
    tasks.settings(args.task, args.endmembers)  # and a missing scikit-learn
    out = Path(args.out)
    rows = bench.run(
        args.scenes, args.codecs, args.bpppb, out,
        options=parse_options(args.option), device=args.device, progress=not args.quiet,
        cluster=args.cluster or bool(args.scheduler), scheduler=args.scheduler,
        workers=args.workers, tasks=args.task, endmembers=args.endmembers,
    )  # fmt: skip
    command = "hsinr " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bench.write_all(out, rows, bench.environment(args.device), command)
    failed = [r for r in rows if r.get("error")]
    print(f"{len(rows)} results in {out}/ (results.csv, results.json, results.md, rd_*.png)"
          + (f"; {len(failed)} failed, see results.md" if failed else ""))  # fmt: skip
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "bench", help="rate-distortion benchmark of codecs on scenes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="codec options (for variants NAME:KEY=VALUE,... and --option NAME.KEY=VALUE):\n"
        + options_listing(),
    )  # fmt: skip
    parser.add_argument(
        "--scenes", nargs="+", default=list(datasets.SCENE_NAMES), metavar="SCENE|FILE",
        help=f"built-in scenes ({', '.join(datasets.SCENE_NAMES)}, sample; or scene:NAME) "
        "or cube files hsinr reads (.mat .npy .npz .hdr .tif .nc .he5, the cube found as "
        "hsinr info finds it), a file's rows labelled by its stem (default: the built-in scenes)",
    )  # fmt: skip
    parser.add_argument(
        "--codecs", nargs="+", default=codecs.names(), metavar="CODEC[:KEY=VALUE,...]",
        help=f"codecs ({', '.join(codecs.names())}), or variants such as siren:bits=8",
    )  # fmt: skip
    parser.add_argument("--bpppb", nargs="+", type=float, default=[0.05, 0.1, 0.2, 0.5])
    parser.add_argument("--out", required=True, help="folder for the results (resumable)")
    parser.add_argument(
        "--option", action="append", default=[], metavar="CODEC.KEY=VALUE",
        help="a codec option, e.g. siren.iterations=1000 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--task", action="append", default=[], choices=("classify", "unmix"),
        help="also measure what the loss does to a task (repeatable): classify = random "
        "forest OA / kappa on the scene's ground truth, decoded against original; unmix = "
        "abundance RMSE of VCA + FCLS unmixing (classify needs pip install 'hsinr[tasks]')",
    )  # fmt: skip
    parser.add_argument("--endmembers", type=int, metavar="K",
                        help="endmembers of --task unmix (default 4)")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    cluster = parser.add_argument_group("on a Dask cluster (pip install 'hsinr[distributed]')")
    cluster.add_argument("--cluster", action="store_true",
                         help="one task per job on a local Dask cluster")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="one task per job on the Dask cluster of this scheduler")
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="processes of the local cluster (default: one per core)")
    parser.set_defaults(run=run_bench)
