"""Rate-distortion benchmarks: every codec on every scene, side by side, in one run.

>>> from hsinr import bench
>>> # rows = bench.run(["jasper_ridge"], ["jpeg", "pca-dct"], [0.1, 0.2], Path("out"))
"""

from hsinr.bench.report import write_all
from hsinr.bench.run import Job, environment, latest, parse_spec, read_log, run, typed_options

__all__ = [
    "Job", "environment", "latest", "parse_spec", "read_log", "run", "typed_options", "write_all",
]
