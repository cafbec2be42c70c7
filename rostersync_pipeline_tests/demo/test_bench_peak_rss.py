"""The benchmark's peak RSS is the child sync's own: a parent holding memory when it spawns the
child does not raise the child's figure (Linux keeps the spawning process's ``ru_maxrss``
across exec, which floored every 1M figure at the bundle generator's peak)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    held = bytearray(400 * 1024 * 1024)  # the parent's RSS when it spawns the child
    held[::4096] = b"x" * len(held[::4096])
    child = subprocess.run(
        [sys.executable, "-c", "from bench_sync import _peak_rss_mib; print(_peak_rss_mib())"],
        cwd=BENCHMARKS, capture_output=True, text=True, check=True)
    assert float(child.stdout) < 300, child.stdout
    del held
