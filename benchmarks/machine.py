"""What a benchmark ran on, in one line, for its results file."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: str = "cpu") -> str:
    """CPU model and cores, the GPU when ``device`` is CUDA, torch and Python versions."""
    import torch

    text = f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        text = (f"{props.name} ({props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}),"
                f" host {text}")  # fmt: skip
    return f"{text}; torch {torch.__version__}, Python {platform.python_version()}"


def commit(tree: Path | None = None) -> str:
    """The short commit of this checkout (or of ``tree``), ``+`` if its package (``src``)
    has changes not yet committed."""
    where = tree or Path(__file__).parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=where, check=False).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", ":/src"],
                           capture_output=True, text=True, cwd=where,
                           check=False).stdout.strip()  # fmt: skip
    return (head or "unknown") + ("+" if dirty else "")
