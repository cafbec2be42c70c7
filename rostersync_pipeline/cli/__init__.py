"""The ``rostersync`` command line: one module per group of commands (sync, review, identity)."""

from rostersync_pipeline.cli.main import main

__all__ = ["main"]
