"""``hsinr meta-train``: meta-learn a base network for the ``meta`` codec.

A checkpoint ``OUT.ckpt`` is written every ``--checkpoint-every`` steps; running the same
command again resumes from it (exactly: same patches, same optimiser state), and a larger
``--steps`` extends a finished run. ``--restart`` ignores an existing checkpoint.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from hsinr import datasets
from hsinr.cli._common import SCENE_PREFIX, check_output, read_input
from hsinr.cli.options import run_of
from hsinr.errors import InputError
from hsinr.nn.meta_settings import CLIP_NORM, INNER_LR, INNER_STEPS, OUTER_LR, MetaTraining

RESUMABLE = ("batch", "inner_steps", "inner_lr", "outer_lr", "second_order", "clip")


def _scene_spec(text: str) -> str:
    """A bare scene name means that scene; anything else is a file path."""
    known = (*datasets.SCENE_NAMES, datasets.SAMPLE_NAME)
    return SCENE_PREFIX + text if text in known else text


def run_meta_train(args: argparse.Namespace) -> int:
    import torch

    from hsinr import basenet
    from hsinr.nn.meta import PatchSampler, TrainingState, meta_train
    from hsinr.nn.modulated import ModulatedConfig

    run_of(args)  # the device checked usable
    out = check_output(args.out, *args.scenes)
    cubes = [read_input(_scene_spec(spec))[0] for spec in args.scenes]
    scenes = [cube.normalise(np.float32)[0] for cube in cubes]
    bands = max([cube.bands for cube in cubes] + [args.bands or 0])
    try:
        config = ModulatedConfig(args.layers, args.width, bands, args.latent, args.patch)
        settings = MetaTraining(
            steps=args.steps, batch=args.batch, inner_steps=args.inner_steps,
            inner_lr=args.inner_lr, outer_lr=args.outer_lr, second_order=not args.first_order,
            clip=args.clip,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from None
    named = zip(args.scenes, cubes, strict=True)
    record = {
        "scenes": [{"name": name, "shape": list(cube.shape)} for name, cube in named],
        "seed": args.seed, **{key: getattr(settings, key) for key in RESUMABLE},
    }  # fmt: skip
    sampler = PatchSampler(scenes, config.patch, config.bands, seed=args.seed)
    checkpoint = basenet.checkpoint_path(out)
    model, state = _start(args, checkpoint, config, settings, record, sampler, scenes)

    def save(current: TrainingState) -> None:
        basenet.save_checkpoint(checkpoint, model, config, settings, current, record)

    started = time.perf_counter()
    state = meta_train(
        model, state, settings, device=args.device, on_checkpoint=save,
        checkpoint_every=args.checkpoint_every, progress=not args.quiet,
    )  # fmt: skip
    recent = state.history[-100:]
    training = {
        **record, "steps": state.step, "final_psnr": round(float(np.mean(recent)), 3),
        "command": shlex.join(["hsinr", *args.argv]),
        "torch": torch.__version__, "device": args.device,
    }  # fmt: skip
    net = basenet.save_base(model.cpu(), config, out, training)
    print(
        f"wrote {out}: base network {net.name} ({net.size:,} bytes), {config.hidden_layers} x "
        f"{config.width} sine layers, {config.bands} outputs, latent {config.latent_dim}, "
        f"patch {config.patch}; {state.step} steps (this run "
        f"{time.perf_counter() - started:.0f} s), PSNR after {settings.inner_steps} inner "
        f"steps {training['final_psnr']:.2f} dB "
        f"(mean of the last {len(recent)} steps); checkpoint kept at {checkpoint}"
    )
    return 0


def _start(args, checkpoint: Path, config, settings, record, sampler, scenes):
    """The model and training state: from the checkpoint, or fresh."""
    import torch

    from hsinr import basenet
    from hsinr.nn.meta import mean_spectrum, new_state
    from hsinr.nn.modulated import ModulatedSiren

    if checkpoint.exists() and not args.restart:
        saved = basenet.load_checkpoint(checkpoint)
        same = saved.config == config and all(
            saved.settings.get(key) == getattr(settings, key) for key in RESUMABLE
        ) and saved.training.get("scenes") == record["scenes"] and saved.training.get(
            "seed") == record["seed"]  # fmt: skip
        if not same:
            raise InputError(
                f"{checkpoint} holds a run with other scenes or settings; give the same ones "
                "to resume it, or --restart to start over"
            )
        print(f"resuming from {checkpoint} at step {saved.step}", file=sys.stderr)
        return saved.model, saved.restore(sampler, settings)
    torch.manual_seed(args.seed)
    model = ModulatedSiren.from_config(config)
    with torch.no_grad():  # start from the mean spectrum rather than from 0
        model.head.bias.copy_(torch.from_numpy(mean_spectrum(scenes, config.bands)))
    return model, new_state(model, sampler, settings)


def register(commands) -> None:
    parser = commands.add_parser(
        "meta-train", help="meta-learn a base network for the meta codec",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--scenes", nargs="+", required=True,
                        help="scene names (e.g. jasper_ridge) or cube files")  # fmt: skip
    parser.add_argument("--out", required=True, help="the base network file (e.g. base.hsbase)")
    parser.add_argument("--steps", type=int, default=2000, help="outer steps (2000)")
    parser.add_argument("--batch", type=int, default=8, help="patches per outer step (8)")
    parser.add_argument("--patch", type=int, default=32, help="patch side in pixels (32)")
    parser.add_argument("--layers", type=int, default=5, help="sine layers K (5)")
    parser.add_argument("--width", type=int, default=64, help="layer width d (64)")
    parser.add_argument("--latent", type=int, default=64, help="latent size (64)")
    parser.add_argument("--bands", type=int, help="outputs, at least the most bands of a scene")
    parser.add_argument("--inner-steps", type=int, default=INNER_STEPS,
                        help=f"inner SGD steps on the latent ({INNER_STEPS})")  # fmt: skip
    parser.add_argument("--inner-lr", type=float, default=INNER_LR,
                        help=f"inner SGD learning rate ({INNER_LR:g}, the paper's)")  # fmt: skip
    parser.add_argument("--outer-lr", type=float, default=OUTER_LR,
                        help=f"outer Adam learning rate ({OUTER_LR:g}, the paper's)")  # fmt: skip
    parser.add_argument("--clip", type=float, default=CLIP_NORM,
                        help=f"outer gradient norm limit ({CLIP_NORM:g})")  # fmt: skip
    parser.add_argument("--first-order", action="store_true",
                        help="do not differentiate through the inner steps")  # fmt: skip
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps (100)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=run_meta_train)
