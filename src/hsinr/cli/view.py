"""``hsinr view``: a PNG of a cube or a compressed file, in true or false colour, or
compared with its original (error map and spectra); see :mod:`hsinr.view`."""

from __future__ import annotations

import argparse

from hsinr import io
from hsinr.cli._common import SCENE_PREFIX, check_output, naming, read_input
from hsinr.cli.options import UsageError, add_run_options, run_of
from hsinr.codecs import Run
from hsinr.errors import InputError, UnsupportedFormatError


def _integers(text: str, count: int, flag: str, form: str) -> list[int]:
    parts = text.split(",")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not {form} (integers)") from None
    if len(values) != count:
        raise UsageError(f"{flag} {text!r} is not {form}")
    return values


def _open(spec: str, var: str | None, run: Run):
    """The source ``spec`` names: ``scene:NAME``, a cube file or a compressed file."""
    from hsinr import view as pictures  # matplotlib: only when a picture is drawn

    if spec.startswith(SCENE_PREFIX):
        cube, _ = read_input(spec, None, run.limits, lazy=True)
        return pictures.CubeSource(cube, spec)
    with naming(spec):
        try:
            takes_var = var is not None and io.format_for(spec).takes_var
        except UnsupportedFormatError:  # a compressed file, or one open_source refuses
            takes_var = False
        return pictures.open_source(spec, var=var if takes_var else None, limits=run.limits,
                                    run=run)  # fmt: skip


def run_view(args: argparse.Namespace) -> int:
    if args.compare is None and (args.metric is not None or args.pixel):
        raise UsageError("--metric and --pixel apply with --compare ORIGINAL")
    out = check_output(args.out, args.file, *([args.compare] if args.compare else []))
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {args.out}: the picture is a PNG; name a .png file")
    bands = None if args.bands is None else _integers(args.bands, 3, "--bands", "R,G,B")
    pixels = [_integers(text, 2, "--pixel", "ROW,COL") for text in args.pixel]
    from hsinr import view as pictures  # matplotlib: only when a picture is drawn

    run = run_of(args)
    source = _open(args.file, args.var, run)
    original = None if args.compare is None else _open(args.compare, args.var, run)
    wavelengths = source.wavelengths if original is None else original.wavelengths
    try:
        if bands is not None:
            pictures.choose_bands(source.shape[2], wavelengths, bands)
        for pixel in pixels:
            pictures.check_pixel(source.shape, pixel)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if original is None:
        shown = pictures.colour(source, out, bands=bands, run=run)
    else:
        shown = pictures.compare(source, original, out, bands=bands, metric=args.metric or "rmse",
                                 pixels=pixels, run=run)  # fmt: skip
    height, width = shown.image.shape[:2]
    rows, cols, n_bands = shown.shape
    what = f"{height} x {width} picture of {rows} x {cols} x {n_bands}"
    if shown.step > 1:
        what += f" (every {shown.step}th row and column)"
    colours = ", ".join(shown.labels)
    if shown.error is None:
        print(f"wrote {out}: {what}; {colours}")
        return 0
    worst = shown.spectra[0]
    metric = "SAM" if shown.metric == "sam" else "RMSE"
    unit = " degrees" if shown.metric == "sam" else ""
    print(f"wrote {out}: {what}; {colours}; per-pixel {metric} mean {shown.error.mean():.4g}"
          f"{unit}, worst {worst.error:.4g}{unit} at row {worst.row}, col {worst.col}")  # fmt: skip
    return 0


def register(commands) -> None:
    view = commands.add_parser(
        "view", help="a PNG of a cube or a compressed file, or of one against its original",
        description="A picture of a cube (any size: a thumbnail of every k-th row and column, "
        "at most 1024 pixels a side) in true or false colour, the bands named on it; with "
        "--compare, original | decoded | per-pixel error map, and the spectra of the "
        "worst-error pixel, the median-error pixel and any --pixel.",
    )  # fmt: skip
    view.add_argument("file", help="a cube file, scene:NAME or a compressed .hsinr file")
    colour = view.add_mutually_exclusive_group()
    colour.add_argument(
        "--bands", metavar="R,G,B", help="three 0-based band indices shown as red, green and blue"
    )
    colour.add_argument(
        "--rgb",
        action="store_true",
        help="true colour (the default): the bands nearest 640 / 550 / 460 nm "
        "when the wavelengths are known, else bands at fixed fractions",
    )
    view.add_argument(
        "--compare",
        metavar="ORIGINAL",
        help="the original (cube file, scene:NAME or .hsinr) to compare FILE with",
    )
    view.add_argument(
        "--metric",
        choices=("rmse", "sam"),  # hsinr.view.METRICS, without importing matplotlib
        help="the error map with --compare: rmse over bands in original units "
        "(default) or sam (spectral angle, degrees)",
    )
    view.add_argument(
        "--pixel",
        action="append",
        default=[],
        metavar="ROW,COL",
        help="with --compare, also plot this pixel's spectra (repeatable)",
    )
    view.add_argument("--out", required=True, metavar="X.png", help="the PNG to write")
    view.add_argument("--var", help="the variable holding the cube (.mat / .npz)")
    add_run_options(view, seed=False, jobs=False, quiet=False)
    view.set_defaults(run=run_view)
