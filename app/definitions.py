"""The composition root: the one place that assembles the code location.

It collects the project's declarations (Python ones from `assets/__init__.py`,
YAML ones from `defs.yaml` files under `assets/`), builds each one's lifecycle,
binds the resources of the selected environment once for all of them, and
applies cross-cutting defaults (owners) once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.home import REPO_ROOT
from asset_platform.lifecycle import build_lifecycle
from asset_platform.lifecycle.overview import build_overview
from resources import ENVIRONMENT_VAR, resources_for_environment

DEFAULT_OWNERS = ["team:ml-platform"]
ASSETS_FOLDER = REPO_ROOT / "assets"


def yaml_declarations(folder: Path = ASSETS_FOLDER) -> list[ModelDeclaration]:
    """Declarations written as `defs.yaml` components in a dg project's defs folder (default: this
    project's assets/), loaded through Dagster's component tree."""
    if not any(folder.rglob("defs.yaml")):
        return []
    tree = dg.ComponentTree.for_project(folder)
    return list(tree.get_all_components(of_type=ModelDeclaration))


def project_declarations() -> list[ModelDeclaration]:
    """Every declaration of the project, Python first, then YAML; names must be unique."""
    from assets import PYTHON_DECLARATIONS

    return check_unique([*PYTHON_DECLARATIONS, *yaml_declarations()])


def check_unique(declarations: Sequence[ModelDeclaration]) -> list[ModelDeclaration]:
    seen: set[str] = set()
    for declaration in declarations:
        if declaration.name in seen:
            raise DeclarationError(declaration.name, "name", "two declarations use this name; each model needs its own")
        seen.add(declaration.name)
    return list(declarations)


def _with_defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec if spec.owners else spec.replace_attributes(owners=DEFAULT_OWNERS)


def _environment_executor() -> dg.ExecutorDefinition | None:
    """In production each step runs in its own Kubernetes pod; elsewhere Dagster's default executor."""
    if os.environ.get(ENVIRONMENT_VAR, "local") != "production":
        return None
    from resources.production import production_executor

    return production_executor()


def build_definitions(
    declarations: Sequence[ModelDeclaration] | None = None, resources: dict | None = None
) -> dg.Definitions:
    """Assemble everything; tests pass their own declarations and `resources` (temporary folders)."""
    declarations = project_declarations() if declarations is None else check_unique(declarations)
    lifecycles = dg.Definitions.merge(
        *(build_lifecycle(declaration) for declaration in declarations), build_overview(declarations)
    )
    return dg.Definitions(
        assets=dg.map_asset_specs(_with_defaults, list(lifecycles.assets or [])),
        asset_checks=lifecycles.asset_checks,
        jobs=lifecycles.jobs,
        sensors=lifecycles.sensors,
        resources=resources if resources is not None else resources_for_environment(),
        # Tests that pass their own resources keep the default executor.
        executor=_environment_executor() if resources is None else None,
    )


defs = build_definitions()
