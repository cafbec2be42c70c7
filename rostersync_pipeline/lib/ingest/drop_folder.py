"""A district's drop folder (its SFTP landing directory): the bundles waiting in it."""

from __future__ import annotations

from pathlib import Path


def bundles_in(folder: Path) -> list[Path]:
    """Bundles in a drop folder: .zip files and directories, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if (p.suffix.lower() == ".zip" and p.is_file()) or p.is_dir()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
