"""The command line: `precision-lint` (click).  The commands live in :mod:`precision_lint.cli.commands`."""

from .commands import cli, main

__all__ = ["cli", "main"]
