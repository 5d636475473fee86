"""Command-line flags generated from the codecs' options, and the run's flags.

Nothing here names a codec: a codec's flags, their types, ranges and help come from its
``Options`` (:mod:`hsinr.codecs.base`), so a newly registered codec is on the command
line (``hsinr compress --codec NAME``) and in ``hsinr bench`` as soon as it exists.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence

from hsinr import codecs
from hsinr.codecs.base import Codec, Options, OptionSpec, Run
from hsinr.errors import InputError
from hsinr.limits import DEFAULT_MAX_BANDS, DEFAULT_MAX_VALUES, Limits
from hsinr.resources import available_cores, default_memory


class UsageError(InputError):
    """A command given wrongly (argparse's convention: exit status 2)."""


def _argument_type(spec: OptionSpec):
    def parse(text: str):
        try:
            return spec.parse(text)
        except InputError as exc:
            message = str(exc).removeprefix(f"{spec.flag}: ").removeprefix(f"{spec.flag} ")
            raise argparse.ArgumentTypeError(message) from None

    parse.__name__ = spec.kind.__name__
    return parse


def _default(spec: OptionSpec) -> str:
    if spec.default is None or spec.kind is bool or "default" in spec.help:
        return ""
    return f" ({spec.default})"


def add_codec_options(parser: argparse.ArgumentParser, codec: type[Codec]) -> None:
    """One flag per option of ``codec`` (only the options given end up in the namespace)."""
    group = parser.add_argument_group(f"{codec.name} options", codec.summary or None)
    for spec in codec.Options.specs():
        common = {"dest": spec.name, "default": argparse.SUPPRESS,
                  "help": spec.help + _default(spec)}  # fmt: skip
        if spec.kind is bool:
            action = argparse.BooleanOptionalAction if spec.default else "store_true"
            group.add_argument(spec.flag, action=action, **common)
        else:
            metavar = spec.metavar
            if metavar is None and spec.choices:
                metavar = "{" + ",".join(map(str, spec.choices)) + "}"
            group.add_argument(spec.flag, type=_argument_type(spec), metavar=metavar, **common)


def codec_help(names: Iterable[str]) -> str:
    """The named codecs' flags, as ``--help`` shows them."""
    sections = []
    for name in names:
        parser = argparse.ArgumentParser(prog="", add_help=False, usage=argparse.SUPPRESS)
        add_codec_options(parser, type(codecs.get(name)))
        sections.append(parser.format_help().strip())
    return "\n\n".join(sections)


def chosen_codec(argv: Sequence[str], default: str) -> str:
    """The codec ``--codec NAME`` (or ``--codec=NAME``) names in ``argv``, else ``default``
    (read before the parser is built, which then holds that codec's flags)."""
    for index, item in enumerate(argv):
        if item == "--codec" and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith("--codec="):
            return item.split("=", 1)[1]
    return default


def codec_options(codec: Codec, args: argparse.Namespace, base: Mapping | None = None) -> Options:
    """``codec``'s options from the parsed flags (over ``base``); options that contradict
    each other are a usage error."""
    specs = type(codec).Options.specs()
    given = {spec.name: getattr(args, spec.name) for spec in specs if hasattr(args, spec.name)}
    try:
        return codec.options({**(base or {}), **given})
    except InputError as exc:
        raise UsageError(str(exc)) from None


def options_listing() -> str:
    """A line per codec with its options' names, for ``hsinr bench --help``."""
    lines = []
    for name in codecs.names():
        specs = codecs.get(name).Options.specs()
        keys = ", ".join(f"{spec.name}" for spec in specs if spec.name != "bpppb")
        lines.append(f"  {name}: {keys or '(the budget only)'}")
    return "\n".join(lines)


# -- the run's flags -----------------------------------------------------------------------------


def add_run_options(parser: argparse.ArgumentParser, *, seed: bool = True, jobs: bool = True,
                    base: bool = True, quiet: bool = True) -> None:  # fmt: skip
    """The flags of a :class:`~hsinr.codecs.Run` (what is not a codec option)."""
    run = parser.add_argument_group("run options")
    if seed:
        run.add_argument("--seed", type=int, default=0, help="random seed (0)")
    run.add_argument("--device", default="cpu", help="cpu (default) or cuda: where torch works")
    if jobs:
        run.add_argument("--jobs", type=int, default=available_cores(), metavar="N",
                         help="cores for independent pieces: tiles, bands, components "
                         f"(default: all, {available_cores()})")  # fmt: skip
        run.add_argument("--max-memory", type=float, default=default_memory() / 1e9,
                         metavar="GB", help="memory a codec may hold; a codec that would need "
                         f"more refuses up front (default: 3/4 of RAM, "
                         f"{default_memory() / 1e9:.1f})")  # fmt: skip
    if base:
        run.add_argument("--base", help="base network file for meta (default: the shipped one)")
    if quiet:
        run.add_argument("--quiet", action="store_true", help="no progress output")
    if seed:  # the commands that write files
        run.add_argument("--strip-metadata", action="store_true",
                         help="leave the input's metadata (wavelengths, georeferencing, ...) "
                         "out of the file; no-data pixels and bad bands are then coded as "
                         "ordinary values")  # fmt: skip
    add_limits(run)


def add_limits(parser) -> None:
    """``--max-values`` and ``--max-bands`` (see :mod:`hsinr.limits`)."""
    parser.add_argument(
        "--max-values", type=int, default=DEFAULT_MAX_VALUES, metavar="N",
        help=f"refuse files asking for more values than this ({DEFAULT_MAX_VALUES:,}), and "
        "decoding work of more than 4096 operations per value",
    )  # fmt: skip
    parser.add_argument(
        "--max-bands", type=int, default=DEFAULT_MAX_BANDS, metavar="N",
        help=f"refuse cubes with more bands than this ({DEFAULT_MAX_BANDS:,})",
    )  # fmt: skip


def limits_of(args: argparse.Namespace) -> Limits:
    """The limits the flags give (the defaults for a command without them)."""
    return Limits(max_values=getattr(args, "max_values", DEFAULT_MAX_VALUES),
                  max_bands=getattr(args, "max_bands", DEFAULT_MAX_BANDS))  # fmt: skip


def run_of(args: argparse.Namespace) -> Run:
    """The :class:`~hsinr.codecs.Run` the flags describe (the device checked usable)."""
    device = getattr(args, "device", "cpu")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda: torch sees no GPU here; use --device cpu")
    return Run(
        seed=getattr(args, "seed", 0), device=device, progress=not getattr(args, "quiet", False),
        jobs=getattr(args, "jobs", available_cores()), limits=limits_of(args),
        base=getattr(args, "base", None),
        memory=int(getattr(args, "max_memory", default_memory() / 1e9) * 1e9),
        strip_metadata=getattr(args, "strip_metadata", False),
    )  # fmt: skip
