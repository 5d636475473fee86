"""``hsinr meta-train``: meta-learn a base network for the ``meta`` codec.

A checkpoint ``OUT.ckpt`` is written every ``--checkpoint-every`` steps; running the same
command again resumes from it (exactly: same patches, same optimiser state), and a larger
``--steps`` extends a finished run. ``--restart`` ignores an existing checkpoint.
``--decay-from STEP`` lowers the outer lr along a half cosine from STEP to the last step
(to 1 % of ``--outer-lr``); it may be added when extending a run, from its last step on.

``--whole-scenes`` is the paper's protocol: every step takes every scene once, whole (the
patch side defaults to the largest scene side, so the codec writes one latent per image).
``--pixels``, ``--flips`` and ``--spectral`` subsample and augment the patches.
``--processes N`` (or ``torchrun --nproc_per_node N -m hsinr meta-train ...``) trains
data-parallel in N processes (gloo on CPU, NCCL on CUDA), each taking its share of every
batch; the result equals one process's up to floating-point order.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
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
DEFAULT_PATCH = 32
DEFAULT_SAMPLING = {"whole_scenes": False, "pixels": None, "flips": False, "spectral": False}


def _scene_spec(text: str) -> str:
    """A bare scene name means that scene; anything else is a file path."""
    known = (*datasets.SCENE_NAMES, datasets.SAMPLE_NAME)
    return SCENE_PREFIX + text if text in known else text


def _launch(args: argparse.Namespace) -> int:
    """``--processes N``: the same command in N worker processes on this machine, with the
    environment torchrun would give them (a free local port for the gloo rendezvous, one
    torch thread each unless OMP_NUM_THREADS says otherwise); if one fails, the others
    are stopped."""
    import socket

    argv, skip = [], False
    for item in args.argv:
        if skip:
            skip = False
        elif item == "--processes":
            skip = True
        elif not item.startswith("--processes="):
            argv.append(item)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    common = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
              "WORLD_SIZE": str(args.processes), "LOCAL_WORLD_SIZE": str(args.processes),
              "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # fmt: skip
    workers = [
        subprocess.Popen([sys.executable, "-m", "hsinr", *argv],
                         env={**os.environ, **common, "RANK": str(rank), "LOCAL_RANK": str(rank)})
        for rank in range(args.processes)
    ]  # fmt: skip
    status = 0
    try:
        while any(worker.poll() is None for worker in workers):
            if any(worker.poll() not in (None, 0) for worker in workers):
                break
            time.sleep(0.05)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
            status = status or worker.wait()
    return status


def _distributed(device: str) -> tuple[int, int, str]:
    """Join the torchrun process group when launched by it: (rank, world, device)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world, device


def run_meta_train(args: argparse.Namespace) -> int:
    if args.processes > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args)
    import torch

    from hsinr import basenet
    from hsinr.nn.meta import PatchSampler, Sampling, TrainingState, meta_train
    from hsinr.nn.modulated import ModulatedConfig

    run_of(args)  # the device checked usable
    out = check_output(args.out, *args.scenes)
    cubes = [read_input(_scene_spec(spec))[0] for spec in args.scenes]
    scenes = [cube.normalise(np.float32)[0] for cube in cubes]
    if args.spectral and args.bands:  # scenes with more bands are cut to windows of them
        bands = args.bands
    else:
        bands = max([cube.bands for cube in cubes] + [args.bands or 0])
    patch = args.patch
    if patch is None:
        patch = max(max(c.shape[:2]) for c in cubes) if args.whole_scenes else DEFAULT_PATCH
    try:
        config = ModulatedConfig(args.layers, args.width, bands, args.latent, patch)
        sampling = Sampling(args.whole_scenes, args.pixels, args.flips, args.spectral)
        settings = MetaTraining(
            steps=args.steps, batch=len(cubes) if args.whole_scenes else args.batch,
            inner_steps=args.inner_steps, inner_lr=args.inner_lr, outer_lr=args.outer_lr,
            second_order=not args.first_order, clip=args.clip, decay_from=args.decay_from,
        )  # fmt: skip
        sampler = PatchSampler(scenes, config.patch, config.bands, seed=args.seed,
                               sampling=sampling)  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from None
    rank, world, device = _distributed(args.device)
    named = zip(args.scenes, cubes, strict=True)
    record = {
        "scenes": [{"name": name, "shape": list(cube.shape)} for name, cube in named],
        "seed": args.seed, **{key: getattr(settings, key) for key in RESUMABLE},
        "sampling": sampling.as_dict(),
    }  # fmt: skip
    checkpoint = basenet.checkpoint_path(out)
    model, state = _start(args, checkpoint, config, settings, record, sampler, scenes, rank)
    started, seconds_before = time.perf_counter(), float(record.get("train_seconds", 0.0))

    def save(current: TrainingState) -> None:
        if rank == 0:
            record["train_seconds"] = round(seconds_before + time.perf_counter() - started, 1)
            basenet.save_checkpoint(checkpoint, model, config, settings, current, record)

    state = meta_train(
        model, state, settings, device=device, on_checkpoint=save,
        checkpoint_every=args.checkpoint_every, progress=not args.quiet,
    )  # fmt: skip
    if rank != 0:
        _finish(world)
        return 0
    recent = state.history[-100:]
    training = {
        **record, "steps": state.step, "final_psnr": round(float(np.mean(recent)), 3),
        "train_seconds": round(seconds_before + time.perf_counter() - started, 1),
        "command": shlex.join(["hsinr", *args.argv]),
        "torch": torch.__version__, "device": args.device, "processes": world,
        "threads": torch.get_num_threads(),
    }  # fmt: skip
    net = basenet.save_base(model.cpu(), config, out, training)
    _finish(world)
    print(
        f"wrote {out}: base network {net.name} ({net.size:,} bytes), {config.hidden_layers} x "
        f"{config.width} sine layers, {config.bands} outputs, latent {config.latent_dim}, "
        f"patch {config.patch}; {state.step} steps (this run "
        f"{time.perf_counter() - started:.0f} s, {world} process{'es' if world > 1 else ''}), "
        f"PSNR after {settings.inner_steps} inner steps {training['final_psnr']:.2f} dB "
        f"(mean of the last {len(recent)} steps); checkpoint kept at {checkpoint}"
    )
    return 0


def _finish(world: int) -> None:
    """Wait for every process (rank 0 has written the base), then leave the group."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def _same_past_lrs(saved: dict, settings: MetaTraining, steps: int) -> bool:
    """Whether ``settings`` give the steps already taken the outer lrs they had (so a
    decay may be added to, or moved within, the steps still to come)."""
    names = set(MetaTraining.__dataclass_fields__)
    try:
        before = MetaTraining(**{k: v for k, v in saved.items() if k in names})
    except (TypeError, ValueError):
        return False
    return all(
        math.isclose(before.outer_lr_at(step), settings.outer_lr_at(step), rel_tol=1e-12)
        for step in range(steps)
    )


def _start(args, checkpoint: Path, config, settings, record, sampler, scenes, rank=0):
    """The model and training state: from the checkpoint, or fresh (``record`` takes the
    checkpoint's training seconds so far)."""
    import torch

    from hsinr import basenet
    from hsinr.nn.meta import mean_spectrum, new_state
    from hsinr.nn.modulated import ModulatedSiren

    if checkpoint.exists() and not args.restart:
        saved = basenet.load_checkpoint(checkpoint)
        same = saved.config == config and all(
            saved.settings.get(key) == getattr(settings, key) for key in RESUMABLE
        ) and saved.training.get("scenes") == record["scenes"] and saved.training.get(
            "seed") == record["seed"] and saved.training.get(
            "sampling", DEFAULT_SAMPLING) == record["sampling"] and _same_past_lrs(
            saved.settings, settings, saved.step)  # fmt: skip
        if not same:
            raise InputError(
                f"{checkpoint} holds a run with other scenes or settings; give the same ones "
                "to resume it, or --restart to start over"
            )
        if rank == 0:
            print(f"resuming from {checkpoint} at step {saved.step}", file=sys.stderr)
        record["train_seconds"] = float(saved.training.get("train_seconds", 0.0))
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
    parser.add_argument("--patch", type=int,
                        help="patch side in pixels (32; with --whole-scenes the largest "
                        "scene side)")  # fmt: skip
    parser.add_argument("--whole-scenes", action="store_true",
                        help="the paper's protocol: every step takes every scene once, whole "
                        "(one latent per image; --batch is the scene count)")  # fmt: skip
    parser.add_argument("--pixels", type=int,
                        help="at most this many random pixels of each patch per step "
                        "(default: all)")  # fmt: skip
    parser.add_argument("--flips", action="store_true",
                        help="augment: one of the 8 flips / rotations of each patch")
    parser.add_argument("--spectral", action="store_true",
                        help="augment: random band windows / every second band; with "
                        "--bands, scenes with more bands are cut to windows of that many")
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
    parser.add_argument("--decay-from", type=int, metavar="STEP",
                        help="cosine decay of the outer lr from this step to --steps, down "
                        "to 1%% of it (default: none); may be added when extending a run")
    parser.add_argument("--clip", type=float, default=CLIP_NORM,
                        help=f"outer gradient norm limit ({CLIP_NORM:g})")  # fmt: skip
    parser.add_argument("--first-order", action="store_true",
                        help="do not differentiate through the inner steps")  # fmt: skip
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps (100)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--processes", type=int, default=1,
                        help="data-parallel processes on this machine (1); the same as "
                        "torchrun --nproc_per_node N -m hsinr meta-train ...")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=run_meta_train)
