"""Writing a benchmark's results: CSV, JSON, a Markdown table and rate-distortion plots
(and, when tasks ran, their columns and a table of them per scene)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hsinr.bench import tasks as bench_tasks
from hsinr.io._atomic import atomic_outputs

CSV_FIELDS = [
    "scene", "shape", "codec", "options", "target_bpppb", "bpppb", "within_budget", "bytes",
    "psnr", "mpsnr", "sam", "ssim", "mse", "encode_s", "decode_s", "device", "threads", "versions",
    "error",
]  # fmt: skip
DEFINITIONS = (
    "PSNR = 10 log10(R^2 / MSE) over all values, R = max - min of the original cube; MPSNR = "
    "mean of per-band PSNR; SAM in degrees; SSIM = mean over bands; bpppb = 8 x file bytes / "
    "(rows x cols x bands), every byte of the file counted. Times are wall-clock seconds."
)


def _ordered(rows: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    return sorted(rows, key=lambda r: (str(r["scene"]), str(r["codec"]), float(r["target_bpppb"])))


def _versions_text(versions: Mapping[str, str]) -> str:
    return "; ".join(f"{name} {version}" for name, version in versions.items())


def _task_names(rows) -> list[str]:
    """The tasks any row ran, in :data:`hsinr.bench.tasks.TASKS` order."""
    ran = {task for row in rows for task in (row.get("tasks") or {})}
    return [task for task in bench_tasks.TASKS if task in ran]


def csv_fields(rows) -> list[str]:
    """:data:`CSV_FIELDS`, with the columns of the tasks that ran (and their notes) before
    ``error``."""
    extra = [column for task in _task_names(rows) for column in bench_tasks.COLUMNS[task]]
    if not extra:
        return list(CSV_FIELDS)
    return [*CSV_FIELDS[:-1], *extra, "task_notes", CSV_FIELDS[-1]]


def write_csv(path: Path, rows, env) -> None:
    with atomic_outputs(path) as (temp,), open(temp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, csv_fields(rows), extrasaction="ignore")
        writer.writeheader()
        for row in _ordered(rows):
            writer.writerow({
                **row,
                "shape": "x".join(map(str, row["shape"])),
                "options": json.dumps(row.get("options", {})),
                "versions": _versions_text(env["versions"]),
            })  # fmt: skip


def write_json(path: Path, rows, env, command: str) -> None:
    definitions = DEFINITIONS + (" " + bench_tasks.DEFINITIONS if _task_names(rows) else "")
    document = {"command": command, "environment": env, "definitions": definitions,
                "results": _ordered(rows)}  # fmt: skip
    with atomic_outputs(path) as (temp,):
        temp.write_text(json.dumps(document, indent=2) + "\n")


def write_plots(folder: Path, rows) -> list[Path]:
    """One PSNR-against-achieved-bpppb plot per scene, every codec on it."""
    written = []
    for scene in sorted({str(r["scene"]) for r in rows}):
        figure, axis = plt.subplots(figsize=(6, 4))
        for codec in sorted({str(r["codec"]) for r in rows if r["scene"] == scene}):
            points = sorted(
                (float(r["bpppb"]), float(r["psnr"]))
                for r in rows
                if r["scene"] == scene and r["codec"] == codec and not r.get("error")
                and math.isfinite(float(r["psnr"]))
            )  # fmt: skip
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=codec)
        axis.set(xlabel="achieved bpppb", ylabel="PSNR (dB)", title=f"{scene}: rate-distortion")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        figure.tight_layout()
        path = folder / f"rd_{scene}.png"
        with atomic_outputs(path) as (temp,):
            figure.savefig(temp, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def markdown(rows, env, command: str) -> str:
    """A table per scene in the style of the papers' Table II: PSNR (dB) at achieved bpppb."""
    lines = [
        "# Rate-distortion benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {env['machine']}, {env['cpus']} CPUs, device {env['device']}, "
        f"{env['threads']} torch threads; {_versions_text(env['versions'])}.",
        "",
        DEFINITIONS,
        "",
    ]
    targets = sorted({float(r["target_bpppb"]) for r in rows})
    for scene in sorted({str(r["scene"]) for r in rows}):
        shape = next(r["shape"] for r in rows if r["scene"] == scene)
        lines += [
            f"## {scene} ({' x '.join(map(str, shape))})",
            "",
            "PSNR dB at achieved bpppb (MPSNR / SAM deg), encode s / decode s:",
            "",
            "| codec | " + " | ".join(f"target {t:g}" for t in targets) + " |",
            "|---" * (len(targets) + 1) + "|",
        ]
        for codec in sorted({str(r["codec"]) for r in rows if r["scene"] == scene}):
            cells = []
            for target in targets:
                match = [r for r in rows if r["scene"] == scene and r["codec"] == codec
                         and float(r["target_bpppb"]) == target]  # fmt: skip
                if not match:
                    cells.append("")
                elif match[0].get("error"):
                    cells.append(f"failed: {str(match[0]['error'])[:80]}")
                else:
                    r = match[0]
                    over = " (over budget)" if r.get("within_budget") is False else ""
                    cells.append(
                        f"**{r['psnr']:.2f}** @ {r['bpppb']:.4f}{over} ({r['mpsnr']:.2f} / "
                        f"{r['sam']:.2f}), {r['encode_s']:.1f} / {r['decode_s']:.2f}"
                    )
            options = next((r.get("options") for r in rows if r["codec"] == codec), {})
            label = codec + (f" {json.dumps(options)}" if options else "")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        lines += _task_lines([r for r in rows if r["scene"] == scene], targets)
    if _task_names(rows):
        lines += ["Tasks: " + bench_tasks.DEFINITIONS, ""]
    lines.append("A rate marked (over budget) is the smallest file the codec can write for "
                 "this scene (e.g. per-band headers), above the target; the achieved rate is "
                 "the one reported.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _number(value, digits: int) -> str:
    return "" if value is None or value == "" else f"{float(value):.{digits}f}"


def _task_lines(rows, targets) -> list[str]:
    """One scene's task table: OA / kappa and abundance RMSE per codec and target, the
    original's OA / kappa once, and why a task was not run, once."""
    names = _task_names(rows)
    done = [r for r in rows if not r.get("error") and r.get("tasks")]
    if not names or not done:
        return []
    lines = []
    notes = sorted({str(r.get("task_notes")) for r in done if r.get("task_notes")})
    classified = [r for r in done if r.get("oa_original") is not None]
    if classified:
        first = classified[0]
        details = first.get("task_details") or {}
        lines.append(
            f"Classifier on the original: OA **{first['oa_original']:.4f}**, kappa "
            f"**{first['kappa_original']:.4f}** ({details.get('classes')} classes, "
            f"{details.get('train_pixels')} training / {details.get('test_pixels')} test "
            "pixels)."
        )
    unmixed = next((r for r in done if r.get("abundance_rmse") is not None), None)
    if unmixed is not None:
        details = unmixed.get("task_details") or {}
        lines.append(f"Unmixing: {unmixed['tasks']['unmix']['endmembers']} endmembers (VCA "
                     f"on the original), {details.get('unmixed_pixels')} pixels.")  # fmt: skip
    lines += [f"Not run: {note}." for note in notes]
    if not (classified or unmixed):
        return [*lines, ""]
    shown = []
    if classified:
        shown.append("OA / kappa (difference in OA from the original)")
    if unmixed is not None:
        shown.append("abundance RMSE")
    lines += [
        "",
        "Tasks on the decoded cube: " + "; ".join(shown) + ":",
        "",
        "| codec | " + " | ".join(f"target {t:g}" for t in targets) + " |",
        "|---" * (len(targets) + 1) + "|",
    ]
    for codec in sorted({str(r["codec"]) for r in done}):
        cells = []
        for target in targets:
            match = [r for r in done
                     if r["codec"] == codec and float(r["target_bpppb"]) == target]  # fmt: skip
            parts = []
            if match and match[0].get("oa") is not None:
                r = match[0]
                parts.append(f"{r['oa']:.4f} / {r['kappa']:.4f} "
                             f"({r['oa'] - r['oa_original']:+.4f})")  # fmt: skip
            if match and match[0].get("abundance_rmse") is not None:
                parts.append(f"RMSE {_number(match[0]['abundance_rmse'], 4)}")
            cells.append("; ".join(parts))
        lines.append(f"| {codec} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_all(folder: Path, rows, env, command: str) -> None:
    """results.csv, results.json, results.md and rd_<scene>.png in ``folder``."""
    write_csv(folder / "results.csv", rows, env)
    write_json(folder / "results.json", rows, env, command)
    with atomic_outputs(folder / "results.md") as (temp,):
        temp.write_text(markdown(rows, env, command))
    write_plots(folder, rows)
