"""The benchmark harness: all outputs on a tiny run, resuming, recording failures."""

import csv
import json

import pytest

from hsinr import InputError, bench
from hsinr.cli import main
from hsinr.cli.bench import parse_options


def test_a_tiny_run_writes_every_output_and_resumes(tmp_path, capsys):
    argv = ["bench", "--scenes", "pavia_university", "--codecs", "pca-dct", "jpeg2000",
            "--bpppb", "0.2", "0.8", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    for name in ("results.csv", "results.json", "results.md", "rd_pavia_university.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "results.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 and all(not row["error"] for row in rows)
    assert {row["codec"] for row in rows} == {"pca-dct", "jpeg2000"}
    assert all("openjpeg" in row["versions"] and row["device"] == "cpu" for row in rows)
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["environment"]["versions"]["constriction"]
    pca = [r for r in document["results"] if r["codec"] == "pca-dct"]
    assert pca[0]["psnr"] < pca[1]["psnr"]  # more rate, more quality
    assert "## pavia_university (50 x 50 x 103)" in (tmp_path / "results.md").read_text()

    logged = (tmp_path / "results.jsonl").read_text().count("\n")
    assert main(argv) == 0  # everything done already: nothing is run again
    assert (tmp_path / "results.jsonl").read_text().count("\n") == logged
    capsys.readouterr()


def test_a_failing_job_is_recorded_and_the_rest_go_on(tmp_path):
    rows = bench.run(
        ["pavia_university"], ["jpeg", "pca-dct"], [0.5], tmp_path,
        options={"pca-dct": {"components": 500}}, progress=False,  # the crop has 103 bands
    )  # fmt: skip
    by_codec = {row["codec"]: row for row in rows}
    assert "--components must be at most the cube's 103 bands" in by_codec["pca-dct"]["error"]
    assert by_codec["jpeg"]["error"] == ""
    assert by_codec["jpeg"]["within_budget"] is False  # its per-band floor is over 0.5 here
    bench.write_all(tmp_path, rows, bench.environment("cpu"), "test")
    with open(tmp_path / "results.csv") as stream:
        assert {row["codec"]: row["within_budget"] for row in csv.DictReader(stream)} == {
            "jpeg": "False", "pca-dct": ""}  # fmt: skip
    assert "(over budget)" in (tmp_path / "results.md").read_text()
    # a later run without the option runs only what is new, and keeps the failed record
    again = bench.run(["pavia_university"], ["jpeg", "pca-dct"], [0.5], tmp_path, progress=False)
    assert {row["codec"]: row["error"] for row in again} == {"jpeg": "", "pca-dct": ""}
    assert len(bench.read_log(tmp_path)) == 3


def test_an_unknown_option_or_value_stops_the_run_before_any_job(tmp_path):
    with pytest.raises(InputError, match="codec jpeg takes no option quality"):
        bench.run(["pavia_university"], ["jpeg"], [0.5], tmp_path,
                  options={"jpeg": {"quality": 5}}, progress=False)  # fmt: skip
    with pytest.raises(InputError, match="--iters expects an integer"):
        bench.run(["pavia_university"], ["latent:iterations=lots"], [0.5], tmp_path,
                  progress=False)  # fmt: skip
    assert not (tmp_path / "results.jsonl").exists()


def test_a_torn_last_line_is_skipped(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"key": "a", "error": ""}\n{"key": "b", "err')
    assert [row["key"] for row in bench.read_log(tmp_path)] == ["a"]


def test_option_parsing():
    assert parse_options(["siren.iterations=500", "siren.arch=6x32", "pca-dct.components=4"]) == {
        "siren": {"iterations": 500, "arch": "6x32"},
        "pca-dct": {"components": 4},
    }
    with pytest.raises(InputError, match=r"not CODEC\.KEY=VALUE"):
        parse_options(["siren-iterations"])
    with pytest.raises(InputError, match="unknown codec"):
        parse_options(["zip.level=9"])


def test_variants_of_one_codec_run_side_by_side(tmp_path):
    rows = bench.run(
        ["pavia_university"], ["pca-dct", "pca-dct:components=2"], [0.5], tmp_path,
        progress=False,
    )  # fmt: skip
    by_codec = {row["codec"]: row for row in rows}
    assert set(by_codec) == {"pca-dct", "pca-dct:components=2"}
    assert by_codec["pca-dct:components=2"]["details"]["components"] == 2
    assert by_codec["pca-dct"]["psnr"] > by_codec["pca-dct:components=2"]["psnr"]
    with pytest.raises(InputError, match="unknown codec"):
        bench.parse_spec("zip:level=9")
    with pytest.raises(InputError, match="not KEY=VALUE"):
        bench.parse_spec("siren:bits")
