"""One sync in a child process of a benchmark script: the script runs itself with ``--child``.

A new process per sync keeps one night's memory and caches out of the next night's figures; the
child writes its measurements as JSON to ``--result`` and the parent reads them back.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def add_child_args(parser: argparse.ArgumentParser) -> None:
    """The hidden options a script's child run is called with."""
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--district-id", help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)


def sync_in_child(script: str, district_id: str, config_dir: Path, warehouse_dir: Path,
                  out: Path, env: Mapping[str, str]) -> tuple[dict | None, float, int]:
    """Run ``script --child`` for one district: (its JSON result or None, wall seconds, exit code)."""
    command = [sys.executable, str(Path(script).resolve()), "--child",
               "--district-id", district_id, "--config-dir", str(config_dir),
               "--warehouse-dir", str(warehouse_dir), "--result", str(out)]
    started = time.perf_counter()
    completed = subprocess.run(command, env=dict(env), cwd=REPO_ROOT, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0 or not out.exists():
        return None, wall, completed.returncode
    return json.loads(out.read_text(encoding="utf-8")), wall, completed.returncode
