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
    if args.district_id in configured(config_dir):
        return
    raise CliError(f"unknown district {args.district_id!r}: no {args.district_id}.yaml in "
                   f"{config_dir} (configured: {', '.join(configured(config_dir)) or 'none'}); "
                   "pass --config-dir or set ROSTERSYNC_CONFIG_DIR")


def require_warehouse(args: argparse.Namespace) -> None:
    """Refuse a read of a district that has no warehouse (nothing is created): an unknown
    district lists the configured ones, a configured one that never synced says so."""
    path = district_db_path(args.warehouse, args.district_id)
    if path.exists():
        return
    require_configured(args)
    raise CliError(f"district {args.district_id} has no warehouse yet ({path}); run "
                   f"`rostersync sync {args.district_id}` first, or pass --warehouse")


def configured(config_dir: Path) -> list[str]:
    return [p.stem for p in district_config_paths(config_dir)] if config_dir.is_dir() else []
