"""A declared model as a dg component: the same fields as `asset_platform.declaration.ModelDeclaration`.

`type: asset_platform.project.ModelDeclaration` in a defs folder's `defs.yaml` (or a
`@dg.component_instance` returning one) declares a model; as a component it builds
its own lifecycle, its sensors looking as often as $ASSET_PLATFORM_SENSOR_INTERVAL_S
says (this is where a dg project's declarations read it). The plain declaration
stays in `asset_platform.declaration` and never imports the lifecycle builder: the
component lives here, in the package that composes the two.
"""

from __future__ import annotations

import dagster as dg

from asset_platform.declaration import ModelDeclaration as Declaration
from asset_platform.declaration.scaffold import ModelDeclarationScaffolder


@dg.scaffold_with(ModelDeclarationScaffolder)
class ModelDeclaration(Declaration, dg.Component):
    """A governed model declared in a dg project's defs folder; builds its own lifecycle."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """A YAML declaration on its own (`dg list defs`); the Platform component adds what models share."""
        from asset_platform.lifecycle.build import build_lifecycle
        from asset_platform.sensors import sensor_interval_from

        return build_lifecycle(self, sensor_interval_from())
