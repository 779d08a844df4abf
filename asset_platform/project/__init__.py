"""A team's project: composing its code location, and finding it from the command line."""

from asset_platform.project.component import Platform
from asset_platform.project.definitions import (
    broken_declarations,
    check_unique,
    platform_definitions,
    yaml_declarations,
)
from asset_platform.project.model_component import ModelDeclaration

__all__ = [
    "ModelDeclaration",
    "Platform",
    "broken_declarations",
    "check_unique",
    "platform_definitions",
    "yaml_declarations",
]
