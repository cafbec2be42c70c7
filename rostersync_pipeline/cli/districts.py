"""What every district command checks first: the district is configured, and (for commands
that only read) that it has a warehouse already. Read-only commands never create files."""

from __future__ import annotations

import argparse
from pathlib import Path

from rostersync_pipeline.config import district_config_paths
from rostersync_pipeline.lib.storage.warehouse import district_db_path


class CliError(RuntimeError):
    """A mistake the person at the terminal can fix; printed as one or two lines."""


def require_configured(args: argparse.Namespace) -> None:
    """Refuse an unknown district, listing the configured ones."""
    config_dir = Path(args.config_dir)
    known = [p.stem for p in district_config_paths(config_dir)] if config_dir.is_dir() else []
    if args.district_id in known:
        return
    listed = ", ".join(known) if known else "none"
    raise CliError(f"unknown district {args.district_id!r}: no {args.district_id}.yaml in "
                   f"{config_dir} (configured: {listed}); pass --config-dir or set "
                   "ROSTERSYNC_CONFIG_DIR")


def require_warehouse(args: argparse.Namespace) -> None:
    """Refuse a read of a district that has never been synced (nothing is created)."""
    require_configured(args)
    path = district_db_path(args.warehouse, args.district_id)
    if not path.exists():
        raise CliError(f"district {args.district_id} has no warehouse yet ({path}); run "
                       f"`rostersync sync {args.district_id}` first, or pass --warehouse")
