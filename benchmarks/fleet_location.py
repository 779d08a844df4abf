"""A code location with a fleet of declared models: the examples copied under 20 names.

Used by `benchmarks/load_time.py` (how load time grows with declarations) and by
the scale test (`dagster definitions validate -m benchmarks.fleet_location`).
"""

from __future__ import annotations

import os

from definitions import build_definitions, project_declarations

FLEET_SIZE = int(os.environ.get("ASSET_PLATFORM_FLEET_SIZE", "20"))


def fleet(size: int = FLEET_SIZE) -> list:
    examples = project_declarations()
    return [
        examples[index % len(examples)].model_copy(
            update={"name": f"{examples[index % len(examples)].name}_{index:02d}"}
        )
        for index in range(size)
    ]


defs = build_definitions(fleet())
