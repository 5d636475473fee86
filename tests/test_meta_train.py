"""Meta-training beyond one process and plain crops (issue 16): whole scenes (the paper's
protocol), pixel subsets, flips / rotations and spectral views drawn from the sampler's
one generator, and data-parallel training with torchrun (gloo, CPU): two processes give
the one-process base up to floating-point order, and a killed two-process run resumes
exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hsinr import basenet
from hsinr.cli import main
from hsinr.nn.meta import PatchSampler, Sampling, patch_coords

STEPS = 60  # long enough that a run can be killed part-way
TINY = ["--scenes", "sample", "--batch", "4", "--patch", "8", "--layers", "2", "--width", "8",
        "--latent", "4", "--inner-steps", "2", "--inner-lr", "5", "--outer-lr", "1e-3",
        "--pixels", "40", "--flips", "--spectral", "--bands", "150", "--quiet"]  # fmt: skip


def scenes() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((12, 10, 30), dtype=np.float32), rng.random((6, 9, 50), dtype=np.float32)]


def test_whole_scenes_are_each_taken_once_at_the_top_left():
    sampler = PatchSampler(scenes(), patch=12, bands=50, sampling=Sampling(whole_scenes=True))
    batch = sampler.sample(99)  # the batch is the scene count
    assert len(batch) == 2 and batch.points is None
    first = batch.targets[0].reshape(12, 12, 50)
    np.testing.assert_array_equal(first[:12, :10, :30].numpy(), scenes()[0])
    assert batch.mask[0].sum() == 12 * 10 * 30 and batch.mask[1].sum() == 6 * 9 * 50
    with pytest.raises(ValueError, match="do not fit"):
        PatchSampler(scenes(), patch=8, bands=50, sampling=Sampling(whole_scenes=True))


def test_pixel_subsets_lie_inside_the_scene_with_their_coordinates():
    values = scenes()[1]
    sampler = PatchSampler([values], patch=12, bands=50,
                           sampling=Sampling(whole_scenes=True, pixels=20))  # fmt: skip
    batch = sampler.sample(1)
    assert batch.targets.shape == (1, 20, 50) and batch.coords.shape == (1, 20, 2)
    grid = patch_coords(12).reshape(12, 12, 2)
    for point, spectrum in zip(batch.coords[0], batch.targets[0], strict=True):
        row, col = torch.nonzero((grid == point).all(dim=-1))[0].tolist()
        assert row < 6 and col < 9  # inside the 6 x 9 scene
        np.testing.assert_array_equal(spectrum.numpy(), values[row, col])
    assert len({tuple(p.tolist()) for p in batch.coords[0]}) == 20  # no pixel twice


def test_flips_and_spectral_views_are_real_views_and_repeat_from_the_seed():
    values = scenes()[0]
    sampling = Sampling(whole_scenes=True, flips=True, spectral=True)
    draws = [PatchSampler([values], 12, 24, seed=3, sampling=sampling) for _ in range(2)]
    seen_bands = set()
    for _ in range(12):
        batch, again = draws[0].sample(1), draws[1].sample(1)
        assert torch.equal(batch.targets, again.targets) and torch.equal(batch.mask, again.mask)
        mask = batch.mask[0].reshape(12, 12, 24)
        rows, cols = int(mask[:, 0, 0].sum()), int(mask[0, :, 0].sum())
        bands = int(mask[0, 0].sum())
        assert {rows, cols} == {12, 10} and 8 <= bands <= 24  # 30 bands cut to the 24 outputs
        seen_bands.add(bands)
        block = batch.targets[0].reshape(12, 12, 24)[:rows, :cols, :bands].numpy()
        found = False
        for turn in range(8):
            view = np.rot90(values, turn % 4, axes=(0, 1))
            view = view[:, ::-1] if turn >= 4 else view
            if view.shape[:2] != block.shape[:2]:
                continue
            for step in (1, 2):
                for start in range(30):
                    window = view[..., start::step][..., :bands]
                    if window.shape[2] == bands and np.array_equal(window, block):
                        found = True
        assert found
    assert len(seen_bands) > 1
    with pytest.raises(ValueError, match="more bands"):
        PatchSampler([values], 12, 24)  # without spectral views, too many bands are refused


def test_default_sampling_draws_as_before():
    """No augmentation: the draws (scene, row, col) are the ones older runs made."""
    values = scenes()[0]
    batch = PatchSampler([values], 8, 30, seed=1).sample(3)
    generator = torch.Generator().manual_seed(1)
    torch.randint(1, (3,), generator=generator)
    for index in range(3):
        row = int(torch.randint(5, (1,), generator=generator))
        col = int(torch.randint(3, (1,), generator=generator))
        expected = values[row : row + 8, col : col + 8].reshape(64, 30)
        np.testing.assert_array_equal(batch.targets[index].numpy(), expected)


# -- data-parallel training (torchrun, gloo) ------------------------------------------------


def torchrun(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            "2", "-m", "hsinr", "meta-train", *TINY, "--out", str(out), "--steps", str(STEPS),
            *extra]  # fmt: skip


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def two_process_base(tmp_path_factory) -> basenet.BaseNetwork:
    out = tmp_path_factory.mktemp("ddp") / "two.hsbase"
    done = subprocess.run(torchrun(out), env=environment(), capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return basenet.load_base(out)


def test_two_processes_train_the_one_process_base(two_process_base, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["meta-train", *TINY, "--out", str(tmp_path / "one.hsbase"),
                     "--steps", str(STEPS)]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    one = basenet.load_base(tmp_path / "one.hsbase")
    assert two_process_base.training["processes"] == 2 and one.training["processes"] == 1
    assert one.config == two_process_base.config
    moved = False
    for name, tensor in one.model.state_dict().items():
        other = two_process_base.model.state_dict()[name]
        torch.testing.assert_close(other, tensor, rtol=1e-4, atol=1e-5)
        moved |= name == "meta.weight" and not torch.equal(other, torch.zeros_like(other))
    assert moved


def test_a_killed_two_process_run_resumes_exactly(two_process_base, tmp_path, monkeypatch,
                                                  capfd):
    """Killed and resumed under ``hsinr meta-train --processes 2`` (hsinr's own launcher,
    the environment torchrun gives), the run gives the torchrun run's base bit for bit."""
    out = tmp_path / "killed.hsbase"
    checkpoint = basenet.checkpoint_path(out)
    command = [sys.executable, "-m", "hsinr", "meta-train", *TINY, "--out", str(out),
               "--steps", str(STEPS), "--processes", "2", "--checkpoint-every", "1"]  # fmt: skip
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and its two workers
        process.wait()
    assert not out.exists()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    reached = basenet.load_checkpoint(checkpoint).step
    assert 0 < reached < STEPS
    capfd.readouterr()
    assert main(command[3:]) == 0  # the launcher in this process, the workers resume
    assert f"resuming from {checkpoint} at step {reached}" in capfd.readouterr().err
    resumed = basenet.load_base(out)
    assert resumed.digest == two_process_base.digest


# -- the outer lr's cosine decay ------------------------------------------------------------


def test_a_decay_added_when_extending_a_run_gives_the_run_decaying_from_the_start(tmp_path, capsys):
    """``--decay-from`` at or after the steps taken may be added to a finished run: the
    extended base equals one run with the decay from the start; a decay that would change
    the lrs of steps already taken is refused."""
    short = ["--steps", "20", "--layers", "1"]
    extended, straight = tmp_path / "extended.hsbase", tmp_path / "straight.hsbase"
    decayed = ["--steps", "40", "--decay-from", "20", "--layers", "1"]
    assert main(["meta-train", *TINY, "--out", str(extended), *short]) == 0
    assert main(["meta-train", *TINY, "--out", str(extended), *decayed]) == 0
    assert main(["meta-train", *TINY, "--out", str(straight), *decayed]) == 0
    assert basenet.load_base(extended).digest == basenet.load_base(straight).digest
    constant = tmp_path / "constant.hsbase"
    assert main(["meta-train", *TINY, "--out", str(constant), "--steps", "40",
                 "--layers", "1"]) == 0  # fmt: skip
    assert basenet.load_base(constant).digest != basenet.load_base(straight).digest
    moved = ["meta-train", *TINY, "--out", str(straight), "--steps", "60", "--decay-from",
             "20", "--layers", "1"]  # fmt: skip
    assert main(moved) != 0  # steps 21-39 took the lrs of a decay ending at step 39
    assert "--restart" in capsys.readouterr().err
