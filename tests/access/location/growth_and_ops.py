"""Code location `teams` for the access tests: one tiny model asset per team, a job and a sensor."""

import dagster as dg


@dg.asset(owners=["team:growth"])
def growth_model() -> int:
    return 1


@dg.asset(owners=["team:ops"])
def ops_model() -> int:
    return 2


# Jobs carry their model's owners, as the lifecycle's do: Dagster checks a named job's own owners.
growth_job = dg.define_asset_job("growth_job", selection=[growth_model], owners=["team:growth"])
ops_job = dg.define_asset_job("ops_job", selection=[ops_model], owners=["team:ops"])
# Like a model's set_champion job: launching it needs the editor role on the asset's owners.
growth_promote = dg.define_asset_job(
    "growth_promote",
    selection=[growth_model],
    tags={"asset_platform/required_role": "editor"},
    owners=["team:growth"],
)


@dg.sensor(job=growth_job, owners=["team:growth"])
def growth_sensor(context: dg.SensorEvaluationContext):
    return dg.SkipReason("a test sensor never requests runs")


@dg.sensor(job=ops_job, owners=["team:ops"])
def ops_sensor(context: dg.SensorEvaluationContext):
    return dg.SkipReason("a test sensor never requests runs")


defs = dg.Definitions(
    assets=[growth_model, ops_model], jobs=[growth_job, ops_job, growth_promote], sensors=[growth_sensor, ops_sensor]
)
