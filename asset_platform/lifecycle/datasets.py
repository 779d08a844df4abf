"""Datasets: the model's history as it landed, its contract check, and the validated dataset."""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import CONTRACT_CHECK, DATASET, RAW_DATA, LifecycleNames
from asset_platform.landing import LandingZone
from asset_platform.lifecycle.failures import deterministic_failure, mark_not_retryable
from asset_platform.lifecycle.frames import Frame


def dataset_assets(declaration: ModelDeclaration, names: LifecycleNames) -> list:
    raw_key, upstream = names.key(RAW_DATA), declaration.landing.history_asset
    group = names.group("datasets")

    if upstream is None:

        @dg.asset(key=raw_key, group_name=group, kinds={"parquet", "pandas"}, code_version="1")
        def raw_data(context: dg.AssetExecutionContext, landing: LandingZone) -> dg.MaterializeResult:
            from asset_platform.lifecycle.admission import NothingToTrainOn, admit_training_rows

            try:
                admitted = admit_training_rows(landing.for_model(declaration))
            except NothingToTrainOn as error:
                raise deterministic_failure(context, str(error)) from None
            for line in admitted.quarantined:  # training goes on without them; each note says what to do
                context.log.warning(f"{declaration.name}: quarantined {line}")
            return _raw_result(admitted.frame, admitted.sources, admitted.skipped, admitted.quarantined)

    else:

        @dg.asset(
            key=raw_key,
            group_name=group,
            kinds={"parquet", "pandas"},
            code_version="1",
            ins={"upstream": dg.AssetIn(key=dg.AssetKey(upstream))},
        )
        def raw_data(upstream: Frame) -> dg.MaterializeResult:
            return _raw_result(upstream, {}, [])

    @dg.asset_check(
        asset=raw_key,
        name=CONTRACT_CHECK,
        blocking=True,
        description=f"The history meets {declaration.name}'s data contract; nothing downstream runs otherwise.",
    )
    def matches_contract(context: dg.AssetCheckExecutionContext, raw_data: Frame) -> dg.AssetCheckResult:
        from asset_platform.declaration.contract import contract_schema, normalize_times
        from asset_platform.validation.checks import check_against_schema

        report = check_against_schema(normalize_times(raw_data, declaration), contract_schema(declaration, True))
        if not report.passed:  # the same rows fail the same way: said first, and not retried
            mark_not_retryable(context, f"{declaration.name} history breaks the data contract: {report.summary()}")
        metadata: dict[str, Any] = {
            "rows": dg.MetadataValue.int(report.rows),
            "failing_rows": dg.MetadataValue.int(report.failing_rows),
            "failures": dg.MetadataValue.json(report.failure_counts),
        }
        if not report.passed:
            from asset_platform.access.masking import mask_frame, sensitive_columns

            sample = mask_frame(report.failing_sample, sensitive_columns(declaration))  # no raw PII in metadata
            metadata["failing_sample"] = dg.MetadataValue.md(sample.to_markdown(index=False))
        return dg.AssetCheckResult(
            passed=report.passed, severity=dg.AssetCheckSeverity.ERROR, description=report.summary(), metadata=metadata
        )

    @dg.asset(
        key=names.key(DATASET),
        group_name=group,
        kinds={"parquet", "pandas", "pandera"},
        code_version="1",
        ins={"raw_data": dg.AssetIn(key=raw_key)},
        description=f"{declaration.name}: rows that meet the data contract, typed as the contract says.",
    )
    def dataset(context: dg.AssetExecutionContext, raw_data: Frame) -> Frame:
        # Validated again here, so the guarantee holds when this asset is materialized on its own.
        from asset_platform.declaration.contract import contract_schema, normalize_times
        from asset_platform.validation.checks import check_against_schema

        schema = contract_schema(declaration, with_label=True)
        raw_data = normalize_times(raw_data, declaration)
        report = check_against_schema(raw_data, schema)
        if not report.passed:
            raise deterministic_failure(
                context,
                f"{declaration.name} raw_data breaks the data contract: {report.summary()}",
                {"failures": dg.MetadataValue.json(report.failure_counts)},
            )
        return schema.validate(raw_data)

    return [_described(raw_data, declaration), matches_contract, dataset]


def _raw_result(
    frame: Frame, sources: dict[str, str], skipped: list[str], quarantined: list[str] | tuple[str, ...] = ()
) -> dg.MaterializeResult:
    metadata: dict[str, Any] = {"source_files": dg.MetadataValue.json(sources)}
    if skipped:
        metadata["skipped_batches"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in skipped))
    if quarantined:
        metadata["quarantined_files"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in quarantined))
    return dg.MaterializeResult(value=frame, metadata=metadata)


def _described(asset: dg.AssetsDefinition, declaration: ModelDeclaration) -> dg.AssetsDefinition:
    text = (
        f"{declaration.name}: every history row exactly as it landed, plus labeled production batches; "
        "the md5 of each file read is recorded, where every model's lineage ends."
    )
    return asset.map_asset_specs(lambda spec: spec.replace_attributes(description=text))
