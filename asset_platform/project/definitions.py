"""Compose a project's code location from its declarations: every lifecycle, the fleet overview, resources once.

A team's project calls `platform_definitions` from its definitions module (or
adds the `Platform` component to a dg defs folder, which does the same from
YAML); this repository's own `definitions.py` is one such caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.project.broken import BrokenDeclaration, marker_assets, report

# What the last `yaml_declarations(folder)` could not load, per folder (see `broken_declarations`).
_BROKEN_IN: dict[Path, list[BrokenDeclaration]] = {}


def yaml_declarations(folder: Path) -> list[ModelDeclaration]:
    """Declarations written as `defs.yaml` components under a dg defs folder (other component types skip).

    Each file loads on its own: a file that does not load is logged, kept for
    `broken_declarations(folder)` and the command line, and the others load.
    """
    from asset_platform.project.yaml_files import load_declaration_file

    declarations, broken = [], []
    for path in sorted(Path(folder).rglob("defs.yaml")):
        loaded, failed = load_declaration_file(path)
        declarations += loaded
        broken += failed
    report(broken)
    _BROKEN_IN[Path(folder).resolve()] = broken
    return declarations


def broken_declarations(folder: Path) -> list[BrokenDeclaration]:
    """The declarations of `folder` that the last `yaml_declarations(folder)` could not load."""
    return list(_BROKEN_IN.get(Path(folder).resolve(), []))


def check_unique(declarations: Sequence[ModelDeclaration]) -> list[ModelDeclaration]:
    """The declarations, or an error naming the first name used twice (each model needs its own)."""
    seen: set[str] = set()
    for declaration in declarations:
        if declaration.name in seen:
            raise DeclarationError(declaration.name, "name", "two declarations use this name; each model needs its own")
        seen.add(declaration.name)
    return list(declarations)


def platform_definitions(
    declarations: Sequence[ModelDeclaration],
    resources: dict[str, Any],
    *,
    executor: dg.ExecutorDefinition | None = None,
    default_owners: Sequence[str] = (),
    broken: Sequence[BrokenDeclaration] = (),
    sensor_interval_s: int | None = None,
) -> dg.Definitions:
    """Every declaration's lifecycle and the fleet overview, with `resources` bound once for all of them.

    `resources` is `asset_platform.resources.resources_for(environment)` in a
    project, or the test's own; `default_owners` go to every asset without owners; each of `broken`
    (declarations that did not load, `broken_declarations(folder)`) shows as an asset saying what to fix;
    `sensor_interval_s` is how often every sensor looks (default 30 s: a landed file waits at most that
    long for its run).
    """
    from asset_platform.lifecycle import build_lifecycle
    from asset_platform.lifecycle.overview import build_overview
    from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
    from asset_platform.sensors.run_recovery import build_run_recovery_sensor

    declarations = check_unique(declarations)
    interval = sensor_interval_s or DEFAULT_SENSOR_INTERVAL_S
    lifecycles = dg.Definitions.merge(
        *(build_lifecycle(declaration, interval) for declaration in declarations),
        build_overview(declarations, interval),
    )
    assets = list(lifecycles.assets or [])
    if default_owners:
        owners = list(default_owners)
        assets = dg.map_asset_specs(
            lambda spec: spec if spec.owners else spec.replace_attributes(owners=owners), assets
        )
    return dg.Definitions(
        assets=[*assets, *marker_assets(broken)],
        asset_checks=lifecycles.asset_checks,
        jobs=lifecycles.jobs,
        # One per code location: the daemon that evaluates sensors fails runs of dead workers itself.
        sensors=[*(lifecycles.sensors or []), build_run_recovery_sensor(interval)],
        resources=resources,
        executor=executor,
    )
