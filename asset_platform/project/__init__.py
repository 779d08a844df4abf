"""A team's project: composing its code location, and finding it from the command line."""

from asset_platform.project.definitions import check_unique, platform_definitions, yaml_declarations

__all__ = ["check_unique", "platform_definitions", "yaml_declarations"]
