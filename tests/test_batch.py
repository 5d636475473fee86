"""Batches of scenes (``hsinr compress-batch``) and benchmarks on a Dask cluster."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest

from hsinr import Cube, batch, bench, codecs, datasets, io
from hsinr.cli import main
from hsinr.errors import InputError

OPTIONS = {"bpppb": 0.2}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Four small real scenes in three formats, and a file that is not a cube."""
    folder = tmp_path_factory.mktemp("scenes")
    sample = datasets.sample()
    for index, name in enumerate(["a.npy", "b.hdr", "c.tif", "d.npy"]):
        part = sample.data[index * 8 : index * 8 + 32, :, ::3]
        io.save(Cube(np.ascontiguousarray(part), name=name.split(".")[0]), folder / name)
    (folder / "broken.npy").write_bytes(b"not a cube at all")
    return folder


def test_inputs_are_files_folders_patterns_and_lists(scenes, tmp_path):
    listed = tmp_path / "scenes.txt"
    listed.write_text(f"# two of them\n{scenes / 'a.npy'}\n\n{scenes / 'c.tif'}  # a TIFF\n")
    by_folder = batch.expand([str(scenes)])
    assert [p.name for p in by_folder] == ["a.npy", "b.hdr", "broken.npy", "c.tif", "d.npy"]
    by_pattern = batch.expand([str(scenes / "*.npy")])
    assert [p.name for p in by_pattern] == ["a.npy", "broken.npy", "d.npy"]
    by_lists = batch.expand([str(listed), "@" + str(listed)])
    assert [p.name for p in by_lists] == ["a.npy", "c.tif"]
    for bad, message in [(str(scenes / "*.xyz"), "no file matches"),
                         (str(scenes / "missing.npy"), "no such file")]:  # fmt: skip
        with pytest.raises(InputError, match=message):
            batch.expand([bad])


def test_a_batch_records_failures_goes_on_and_resumes(scenes, tmp_path):
    out = tmp_path / "out"
    sources = batch.expand([str(scenes)])
    records = batch.compress_batch(sources, out, "latent", OPTIONS, cluster=False,
                                   progress=False)  # fmt: skip
    failed = [r for r in records if r["error"]]
    assert len(records) == 5 and len(failed) == 1
    assert failed[0]["error"].startswith("broken.npy: ")
    for source in sources:
        if source.name != "broken.npy":
            cube = io.load(source)
            data = (out / f"{source.stem}.hsinr").read_bytes()
            assert data == codecs.encode("latent", cube, OPTIONS, codecs.Run(progress=False)).data
    # a re-run does only what is left (the broken one again), and redoes a damaged output
    damaged = out / "c.hsinr"
    damaged.write_bytes(damaged.read_bytes()[:-3])
    again = batch.compress_batch(sources, out, "latent", OPTIONS, cluster=False, progress=False)
    redone = sorted(r["input"].rsplit("/", 1)[1] for r in again if not r.get("skipped"))
    assert redone == ["broken.npy", "c.tif"]
    assert len(batch.read_log(out)) == 5 + 2
    # other options are other outputs
    other = batch.compress_batch(sources[:1], out, "latent", {"bpppb": 0.3}, cluster=False,
                                 progress=False)  # fmt: skip
    assert not other[0].get("skipped")


def test_outputs_of_a_two_worker_local_cluster_equal_serial_ones(scenes, tmp_path):
    sources = [p for p in batch.expand([str(scenes)]) if p.name != "broken.npy"]
    serial = tmp_path / "serial"
    cluster = tmp_path / "cluster"
    for options in (OPTIONS, {"bpppb": 0.5}):
        codec = "latent" if options is OPTIONS else "pca-dct"
        batch.compress_batch(sources, serial / codec, codec, options, cluster=False,
                             progress=False)  # fmt: skip
        records = batch.compress_batch(sources, cluster / codec, codec, options, workers=2,
                                       progress=False)  # fmt: skip
        assert not [r for r in records if r["error"]]
        for source in sources:
            name = f"{source.stem}.hsinr"
            assert (cluster / codec / name).read_bytes() == (serial / codec / name).read_bytes()


def test_the_command_line_batch(scenes, tmp_path, capsys):
    out = tmp_path / "cli"
    status = main(["compress-batch", str(scenes / "a.npy"), str(scenes / "broken.npy"),
                   "--out", str(out), "--codec", "latent", "--bpppb", "0.2", "--serial",
                   "--quiet"])  # fmt: skip
    text = capsys.readouterr().out
    assert status == 1 and "1 compressed, 0 already done, 1 failed" in text
    assert "failed: broken.npy:" in text
    assert main(["compress-batch", str(scenes / "a.npy"), "--out", str(out), "--codec",
                 "latent", "--bpppb", "0.2", "--serial", "--quiet"]) == 0  # fmt: skip
    assert "0 compressed, 1 already done" in capsys.readouterr().out
    rows = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    assert {row["output"].rsplit("/", 1)[1] for row in rows} == {"a.hsinr", "broken.hsinr"}


def test_without_dask_the_cluster_commands_say_how_to_get_it(scenes, tmp_path, monkeypatch,
                                                              capsys):  # fmt: skip
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    assert main(["compress-batch", str(scenes / "a.npy"), "--out", str(tmp_path),
                 "--codec", "latent", "--bpppb", "0.2", "--quiet"]) == 1  # fmt: skip
    assert "pip install 'hsinr[distributed]'" in capsys.readouterr().err


def test_a_benchmark_on_a_local_cluster_records_every_job(tmp_path):
    rows = bench.run(["pavia_university"], ["pca-dct", "jpeg"], [0.2, 0.5], tmp_path,
                     progress=False, cluster=True, workers=2)  # fmt: skip
    assert len(rows) == 4 and not [r for r in rows if r["error"]]
    serial = bench.run(["pavia_university"], ["pca-dct"], [0.2], tmp_path / "serial",
                       progress=False)  # fmt: skip
    on_cluster = next(r for r in rows if r["codec"] == "pca-dct" and r["target_bpppb"] == 0.2)
    assert on_cluster["bytes"] == serial[0]["bytes"] and on_cluster["psnr"] == serial[0]["psnr"]
