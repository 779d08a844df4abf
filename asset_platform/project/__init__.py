"""A team's project: composing its code location, and finding it from the command line."""

from asset_platform.project.component import Platform
from asset_platform.project.definitions import (
    broken_declarations,
    check_unique,
    platform_definitions,
    yaml_declarations,
)

__all__ = ["Platform", "broken_declarations", "check_unique", "platform_definitions", "yaml_declarations"]
