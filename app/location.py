"""The code location as the CLI sees it: the same declarations, resources and DVC workspace.

The CLI must read exactly what the code location writes in the current
environment ($ASSET_PLATFORM_ENV): on Kubernetes the DVC workspace is
$ASSET_PLATFORM_DVC_WORKSPACE, not a folder under $ASSET_PLATFORM_HOME. So it
takes the workspace from the same resource wiring the code location binds,
never from a path of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class CodeLocation:
    declarations: dict[str, ModelDeclaration]
    resources: dict[str, Any]

    @classmethod
    def load(cls) -> CodeLocation:
        from app.definitions import project_declarations
        from resources import resources_for_environment

        return cls({d.name: d for d in project_declarations()}, resources_for_environment())

    @property
    def workspace(self) -> Path:
        return Path(resolved(self.resources["io_manager"].workspace))

    def model(self, name: str | None) -> ModelDeclaration:
        """The declaration named `name`; without a name, the only one (or an error listing them)."""
        listed = ", ".join(sorted(self.declarations)) or "none"
        if name is None:
            if len(self.declarations) == 1:
                return next(iter(self.declarations.values()))
            raise UnknownModelError(f"several models are declared ({listed}): choose one with --model NAME")
        if name not in self.declarations:
            raise UnknownModelError(f"no declared model is named {name!r}; declared models: {listed}")
        return self.declarations[name]

    def names(self, declaration: ModelDeclaration) -> LifecycleNames:
        from asset_platform.lifecycle import lifecycle_names

        return lifecycle_names(declaration)

    def lineup(self, declaration: ModelDeclaration) -> ModelLineup:
        from asset_platform.lifecycle.champion import lineup_for
        from asset_platform.registry.models import ModelRegistry

        return lineup_for(ModelRegistry(workspace=str(self.workspace)), self.names(declaration))

    @cached_property
    def definitions(self) -> dg.Definitions:
        from app.definitions import build_definitions

        return build_definitions(list(self.declarations.values()), self.resources)
