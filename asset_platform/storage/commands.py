"""`asset-platform storage ...` subcommands (filled in by the storage work)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add the storage subcommands to the `asset-platform` parser."""
