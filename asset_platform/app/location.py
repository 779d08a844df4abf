"""The code location as the CLI sees it: the same declarations, resources and DVC workspace.

The CLI must read exactly what the code location writes in the current
environment ($ASSET_PLATFORM_ENV): on Kubernetes the DVC workspace is
$ASSET_PLATFORM_DVC_WORKSPACE, not a folder under $ASSET_PLATFORM_HOME. So it
takes the workspace from the same resource wiring the code location binds,
never from a path of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.lifecycle import LifecycleNames
    from asset_platform.registry.models import ModelLineup


class UnknownModelError(LookupError):
    """A --model name that no declaration has."""


def resolved(value: Any) -> Any:
    """A resource field's value, reading a `dagster.EnvVar` from the environment (an error names the variable)."""
    import dagster as dg

    if isinstance(value, dg.EnvVar):
        result = value.get_value()
        if result is None:
            raise LookupError(f"${value.env_var_name} is not set: the code location needs it in this environment")
        return result
    return value


# The project the command line works on: set once from -m/-w/-d/--location by `cli.main`, else found
# from the current folder as Dagster finds it (asset_platform/project/locate.py).
_selected: dict[str, Any] = {}


def select_project(
    module: str | None = None,
    workspace: str | None = None,
    working_directory: str | None = None,
    location: str | None = None,
) -> None:
    """Remember which project the commands of this process work on (the CLI's global options)."""
    _selected.clear()
    _selected.update(module=module, workspace=workspace, working_directory=working_directory, location=location)


def project_target():
    """The selected project, or the one found from the current folder upwards."""
    from asset_platform.project.locate import find_project

    target = find_project(
        module=_selected.get("module"),
        workspace=Path(_selected["workspace"]) if _selected.get("workspace") else None,
        working_directory=Path(_selected["working_directory"]) if _selected.get("working_directory") else None,
    )
    return target.select(_selected.get("location"))


@dataclass
class CodeLocation:
    declarations: dict[str, ModelDeclaration]
    # The resources the commands read: those of the model chosen by `model()` (each model's own
    # code location's, when a workspace has several), else the first location's.
    resources: dict[str, Any]
    model_resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> CodeLocation:
        """The declared models of the project (every code location of it) and the resources it binds."""
        from asset_platform.project.locate import load_project

        project = load_project(project_target())
        return cls(project.declarations, project.resources, project.model_resources)

    @property
    def workspace(self) -> Path:
        return Path(resolved(self.resources["io_manager"].workspace))

    def model(self, name: str | None) -> ModelDeclaration:
        """The declaration named `name`; without a name, the only one (or an error listing them)."""
        listed = ", ".join(sorted(self.declarations)) or "none"
        if name is None:
            if len(self.declarations) == 1:
                name = next(iter(self.declarations))
                self.resources = self.model_resources.get(name, self.resources)
                return self.declarations[name]
            raise UnknownModelError(f"several models are declared ({listed}): choose one with --model NAME")
        if name not in self.declarations:
            raise UnknownModelError(f"no declared model is named {name!r}; declared models: {listed}")
        self.resources = self.model_resources.get(name, self.resources)
        return self.declarations[name]

    def names(self, declaration: ModelDeclaration) -> LifecycleNames:
        from asset_platform.lifecycle import lifecycle_names

        return lifecycle_names(declaration)

    def lineup(self, declaration: ModelDeclaration) -> ModelLineup:
        from asset_platform.registry.models import ModelRegistry, lineup_for

        return lineup_for(ModelRegistry(workspace=str(self.workspace)), self.names(declaration))

    @cached_property
    def definitions(self) -> dg.Definitions:
        from asset_platform.project import platform_definitions

        return platform_definitions(list(self.declarations.values()), self.resources)
