"""The platform in a dg project: one component binds the resources for every declared model.

In a project made with `create-dagster project`, each model is a
`ModelDeclaration` component in the defs folder (a `defs.yaml`, or a
`@dg.component_instance` in Python) and builds its own lifecycle; this component,
scaffolded once (`dg scaffold defs asset_platform.project.Platform platform`),
adds what they share: the resources of the selected environment, the fleet
overview over every declaration of the project, and the environment's executor.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from asset_platform.declaration import ModelDeclaration

_YAML = """\
type: {type_name}

# The platform's shared parts for every ModelDeclaration in this project:
# resources (DVC store, landing folders, registry, notifier), the fleet overview.
attributes:
  # local: everything under the platform home ($ASSET_PLATFORM_HOME, default .platform/ in the project);
  # production: paths, remote and credentials from the environment (see the deployment guide).
  # Unset: $ASSET_PLATFORM_ENV, else local.
  environment: null
"""


class PlatformScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        request.target_path.mkdir(parents=True, exist_ok=True)
        (request.target_path / "defs.yaml").write_text(_YAML.format(type_name=request.type_name))


@dg.scaffold_with(PlatformScaffolder)
class Platform(dg.Component, dg.Model, dg.Resolvable):
    """Resources, fleet overview and executor for every model declared in this project's defs folder."""

    environment: Literal["local", "production"] | None = Field(
        default=None, description="local or production; unset: $ASSET_PLATFORM_ENV, else local."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from asset_platform.lifecycle.overview import build_overview
        from asset_platform.project.definitions import check_unique
        from asset_platform.resources import environment_from, executor_for, resources_for
        from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S, sensor_interval_from

        # This component is the project's composition root: the one place its environment is read.
        environment = self.environment or environment_from()
        declarations = check_unique(context.component_tree.get_all_components(of_type=ModelDeclaration))
        overview = build_overview(declarations, sensor_interval_from() or DEFAULT_SENSOR_INTERVAL_S)
        return dg.Definitions(
            assets=overview.assets,
            jobs=overview.jobs,
            sensors=overview.sensors,
            resources=resources_for(environment),
            executor=executor_for(environment),
        )
