"""Code location `other` for the access tests: a second location for location-scoped grants."""

import dagster as dg


@dg.asset
def other_asset() -> int:
    return 3


other_job = dg.define_asset_job("other_job", selection=[other_asset])

defs = dg.Definitions(assets=[other_asset], jobs=[other_job])
