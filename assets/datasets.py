"""Datasets: the events as they landed, and the events that passed the contract."""

import dagster as dg
import pandas as pd

from asset_platform.landing import LandingZone


@dg.asset(group_name="datasets", kinds={"parquet", "pandas"}, code_version="1")
def raw_events(landing: LandingZone) -> dg.MaterializeResult:
    """Every shopping session in the history landing folder, exactly as upstream wrote it.

    One row per session, with the landing file it came from in `source_file`; the
    md5 of each landing file is recorded, where every model's lineage ends.
    """
    events, source_files = landing.read_history()
    return dg.MaterializeResult(value=events, metadata={"source_files": dg.MetadataValue.json(source_files)})


@dg.asset_check(asset=raw_events, blocking=True, description="Raw events meet the event contract (EventSchema).")
def raw_events_match_schema(raw_events: pd.DataFrame) -> dg.AssetCheckResult:
    """Blocking: when any row breaks the contract nothing downstream runs, and nothing is dropped."""
    from asset_platform.validation.checks import check_against_schema
    from asset_platform.validation.events import EventSchema

    report = check_against_schema(raw_events, EventSchema)
    metadata = {
        "rows": dg.MetadataValue.int(report.rows),
        "failing_rows": dg.MetadataValue.int(report.failing_rows),
        "failures": dg.MetadataValue.json(report.failure_counts),
    }
    if not report.passed:
        metadata["failing_sample"] = dg.MetadataValue.md(report.failing_sample.to_markdown(index=False))
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata=metadata,
    )


@dg.asset(group_name="datasets", kinds={"parquet", "pandas", "pandera"}, code_version="1")
def validated_events(raw_events: pd.DataFrame) -> pd.DataFrame:
    """Sessions that meet the event contract, with types coerced to the schema's.

    Runs only after `raw_events_match_schema` passed; validating again here keeps
    the guarantee when this asset is materialized on its own.
    """
    from asset_platform.validation.checks import check_against_schema
    from asset_platform.validation.events import EventSchema

    report = check_against_schema(raw_events, EventSchema)
    if not report.passed:
        raise dg.Failure(
            description=f"raw_events break the event contract: {report.summary()}",
            metadata={"failures": dg.MetadataValue.json(report.failure_counts)},
        )
    return EventSchema.validate(raw_events)
