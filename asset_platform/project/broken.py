"""A declaration that did not load: where it is, why, and how it shows while the other models keep running.

It shows in three places:
- the UI: an asset `broken_declarations/<folder>` in the group `broken_declarations`,
  whose description and metadata (`file`, `line`, `error`) say what to fix. It is
  an external asset (nothing runs it), there as soon as the code location loads;
  it disappears when the file is fixed and the location reloaded;
- the log: one ERROR line per broken file when the code location loads;
- the command line: every command prints it and exits 2 (asset_platform/app/cli.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from asset_platform.declaration.errors import DeclarationError

GROUP = "broken_declarations"
log = logging.getLogger("asset_platform.declarations")


@dataclass(frozen=True)
class BrokenDeclaration:
    """A declaration file (or one document of it) that could not be loaded."""

    file: Path
    line: int
    error: DeclarationError

    def __str__(self) -> str:
        return str(self.error)


# Every broken declaration met in this process, in order: the command line reads back those met
# while loading a project (as `declarations_built_since` does for the ones that loaded).
_MET: list[BrokenDeclaration] = []


def report(broken: Sequence[BrokenDeclaration]) -> None:
    """Log and remember broken declarations (the code location's log, the command line's exit status)."""
    for item in broken:
        log.error("declaration not loaded, its model is not running: %s", item)
        _MET.append(item)


def broken_so_far() -> int:
    return len(_MET)


def broken_since(mark: int) -> list[BrokenDeclaration]:
    """Those met since `mark`, each once (a project may be loaded twice by one command)."""
    unique: dict[tuple[Path, int, str], BrokenDeclaration] = {}
    for item in _MET[mark:]:
        unique.setdefault((item.file, item.line, str(item)), item)
    return list(unique.values())


def marker_assets(broken: Sequence[BrokenDeclaration]) -> list[dg.AssetSpec]:
    """One external asset per broken declaration file, named after its folder, so the UI shows it."""
    specs: dict[dg.AssetKey, dg.AssetSpec] = {}
    files: set[Path] = set()
    for item in broken:
        if item.file in files:  # two broken documents in one file: the first is what to fix first
            continue
        files.add(item.file)
        slug = re.sub(r"\W", "_", item.file.parent.name).lower() or "declaration"
        key = dg.AssetKey([GROUP, slug])
        while key in specs:  # folders of one name in different places
            key = dg.AssetKey([GROUP, f"{key.path[-1]}_{len(specs)}"])
        specs[key] = dg.AssetSpec(
            key=key,
            group_name=GROUP,
            description=f"This declaration did not load, so its model is not running. Fix it and reload the code "
            f"location:\n\n{item}",
            metadata={"file": str(item.file), "line": item.line, "error": item.error.problem},
            kinds={"yaml"},
        )
    return list(specs.values())
