"""This repository's composition root: its two example declarations, as one team's project would write it.

Python declarations come from `assets/__init__.py`, YAML ones from `defs.yaml`
files under `assets/`; the library builds every lifecycle and the fleet
overview and binds the resources of the selected environment once
(`resources/`, the only place the environment is read).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.project import broken_declarations, check_unique, platform_definitions, yaml_declarations
from resources import environment_executor, resources_for_environment, sensor_interval_s

DEFAULT_OWNERS = ["team:ml-platform"]
ASSETS_FOLDER = Path(__file__).resolve().parent / "assets"


def project_declarations() -> list[ModelDeclaration]:
    """Every declaration of the project, Python first, then YAML; names must be unique."""
    from assets import PYTHON_DECLARATIONS

    return check_unique([*PYTHON_DECLARATIONS, *yaml_declarations(ASSETS_FOLDER)])


def build_definitions(
    declarations: Sequence[ModelDeclaration] | None = None, resources: dict | None = None
) -> dg.Definitions:
    """Assemble everything; tests pass their own declarations and `resources` (temporary folders)."""
    return platform_definitions(
        project_declarations() if declarations is None else declarations,
        resources if resources is not None else resources_for_environment(),
        # Tests that pass their own resources keep the default executor.
        executor=environment_executor() if resources is None else None,
        default_owners=DEFAULT_OWNERS,
        # A YAML declaration that did not load shows as an asset saying what to fix; the others run.
        broken=broken_declarations(ASSETS_FOLDER) if declarations is None else (),
        sensor_interval_s=sensor_interval_s(),
    )


defs = build_definitions()
