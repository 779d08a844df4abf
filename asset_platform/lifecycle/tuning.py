"""Tuning: one graph-backed asset per model family with a search space, upstream of that family's model.

`<model>/<family>_tuning` runs its family's Optuna study as `workers` worker
steps of one run, fanning into a summary step: the multiprocess executor runs
the workers in parallel locally, the Kubernetes executor as pods, all sharing
the study storage. No Dagster run per trial. The summary materializes the best
params with their evidence; the model asset trains with them.

A drift-triggered retrain reuses the last best params unless the declaration's
`retraining.retune` is set; a training run launched by hand or on a schedule tunes
(on new data a new study, on the same data and code the finished one is reused).
"""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration, ModelFamilySpec
from asset_platform.declaration.names import FEATURE_PIPELINE, TRAINING_SET, LifecycleNames
from asset_platform.lifecycle.frames import Frame
from asset_platform.lifecycle.training import TRAINING_OP_TAGS, TRAINING_POOL
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.tuning.storage import TuningStore

# What the model asset records of the params it trained with.
TUNED_FROM = "tuned_from"


def tuning_assets(declaration: ModelDeclaration, names: LifecycleNames) -> list[dg.AssetsDefinition]:
    return [_tuning_asset(declaration, names, spec) for spec in declaration.models if spec.tuning is not None]


def _tuning_asset(declaration: ModelDeclaration, names: LifecycleNames, spec: ModelFamilySpec) -> dg.AssetsDefinition:
    key = names.tuning_key(spec.asset_name)
    tuning = spec.tuning
    assert tuning is not None
    workers = [_worker_op(declaration, names, spec, key, index) for index in range(tuning.workers)]
    summary = _summary_op(declaration, names, spec, key)

    @dg.graph_asset(
        key=key,
        group_name=names.group("models"),
        kinds={"optuna"},
        code_version="1",
        ins={
            "training_set": dg.AssetIn(key=names.key(TRAINING_SET)),
            "feature_pipeline": dg.AssetIn(key=names.key(FEATURE_PIPELINE)),
        },
        description=f"{declaration.name}: hyperparameter search for {spec.asset_name} ({tuning.trials} Optuna "
        f"trials, {tuning.workers} parallel worker step(s), pruning {'on' if tuning.pruning else 'off'}), "
        f"judged by {declaration.metric_name} on the training set's validation split; the best params, with "
        "their evidence, are what the model trains with.",
        # The tuning page `asset-platform serve` adds beside this UI (asset_platform/app/pages/).
        metadata={
            "asset_platform/family": spec.family,
            "asset_platform/page": dg.MetadataValue.url(f"/platform/models/{declaration.name}/tuning"),
        },
    )
    def tuning_graph(training_set, feature_pipeline):
        finished = [worker(training_set, feature_pipeline) for worker in workers]
        return summary(training_set, feature_pipeline, finished)

    return tuning_graph


def _worker_op(
    declaration: ModelDeclaration, names: LifecycleNames, spec: ModelFamilySpec, key: dg.AssetKey, index: int
) -> dg.OpDefinition:
    tuning = spec.tuning
    assert tuning is not None

    @dg.op(
        name=f"{names.op(key.path[-1])}__worker_{index}",
        ins={"training_set": dg.In(), "feature_pipeline": dg.In()},
        out=dg.Out(dg.Nothing),
        tags=TRAINING_OP_TAGS,
        # A worker trains models trial after trial: it shares the training steps' pool.
        pool=TRAINING_POOL,
        description=f"Tuning worker {index}: runs trials of the shared study until its budget is finished.",
    )
    def worker(
        context: dg.OpExecutionContext, training_set: Frame, feature_pipeline: dict, tuning_store: TuningStore
    ) -> None:
        from asset_platform.tuning.objective import make_objective
        from asset_platform.tuning.storage import open_storage, redacted
        from asset_platform.tuning.study import load_or_create_study
        from asset_platform.tuning.worker import finished_trials, run_worker

        if _last_tuning(context, declaration, names, key) is not None:
            context.log.info("drift retrain with retraining.retune off: reusing the last best params, no trials")
            return
        problem, identity = _problem(declaration, spec, training_set, feature_pipeline)
        url = tuning_store.url_for(context.instance)
        study = load_or_create_study(identity, open_storage(url), spec, worker=index)
        before = finished_trials(study)
        budget = tuning.trials
        ran = run_worker(study, make_objective(problem), budget, tuning.timeout_seconds)
        context.log.info(
            f"study {identity.name} on {redacted(url)}: {before} of {budget} trials were finished before, "
            f"this worker ran {ran}, {finished_trials(study)} are finished now"
        )

    return worker


def _summary_op(
    declaration: ModelDeclaration, names: LifecycleNames, spec: ModelFamilySpec, key: dg.AssetKey
) -> dg.OpDefinition:
    @dg.op(
        name=f"{names.op(key.path[-1])}__summary",
        ins={"training_set": dg.In(), "feature_pipeline": dg.In(), "workers": dg.In(dg.Nothing)},
        description="Summarizes the study: best params with a bootstrap interval, top trials, importances, plots.",
    )
    def summary(
        context: dg.OpExecutionContext, training_set: Frame, feature_pipeline: dict, tuning_store: TuningStore
    ) -> dg.Output:
        import optuna

        from asset_platform.tuning.storage import open_storage, redacted
        from asset_platform.tuning.summary import summarize

        last = _last_tuning(context, declaration, names, key)
        if last is not None:
            value, metadata = last
            return dg.Output(value, metadata=_metadata({**metadata, "reused": True}))
        problem, identity = _problem(declaration, spec, training_set, feature_pipeline)
        url = tuning_store.url_for(context.instance)
        study = optuna.load_study(study_name=identity.name, storage=open_storage(url))
        value, metadata = summarize(study, problem, redacted(url))
        return dg.Output(value, metadata=_metadata({**metadata, "reused": False}))

    return summary


def _problem(declaration: ModelDeclaration, spec: ModelFamilySpec, training_set: Any, feature_pipeline: dict):
    from asset_platform.tuning.objective import TuningProblem
    from asset_platform.tuning.study import study_identity

    args = (declaration.name, declaration.task, declaration.metric_name, spec)
    problem = TuningProblem.from_training_set(*args, training_set, feature_pipeline)
    identity = study_identity(
        declaration.name, spec, declaration.task, declaration.metric_name, training_set, feature_pipeline
    )
    return problem, identity


def reuses_last_params(declaration: ModelDeclaration, names: LifecycleNames, tags: dict[str, str]) -> bool:
    """A drift-triggered retrain reuses the last best params unless the declaration asks to re-tune."""
    return not declaration.retraining.retune and tags.get(TRIGGER_TAG) == f"sensor:{names.drift_retrain_sensor}"


def _last_tuning(
    context: dg.OpExecutionContext, declaration: ModelDeclaration, names: LifecycleNames, key: dg.AssetKey
) -> tuple[dict, dict] | None:
    """(value, metadata) of the last tuning to reuse in this run, or None to tune (also when none exists yet)."""
    if not reuses_last_params(declaration, names, dict(context.run.tags)):
        return None
    records = context.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    if not records:
        return None
    metadata = {name: entry.value for name, entry in records[0].asset_materialization.metadata.items()}
    if "best_params" not in metadata:
        return None
    value = {
        "study": metadata["study"],
        "trial": int(metadata["best_trial"]),
        "best_params": dict(metadata["best_params"]),
        "best_value": float(metadata["best_value"]),
        "metric": declaration.metric_name,
    }
    kept = ("study", "storage", "best_trial", "best_value", "best_value_ci_low", "best_value_ci_high", "best_params")
    return value, {name: metadata[name] for name in kept if name in metadata}


def _metadata(values: dict[str, Any]) -> dict[str, dg.MetadataValue]:
    """Plain summary values as typed Dagster metadata (`md:` strings are markdown)."""
    typed: dict[str, dg.MetadataValue] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            typed[name] = dg.MetadataValue.bool(value)
        elif isinstance(value, int):
            typed[name] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            typed[name] = dg.MetadataValue.float(value)
        elif isinstance(value, dict | list):
            typed[name] = dg.MetadataValue.json(value)
        elif isinstance(value, str) and value.startswith("md:"):
            typed[name] = dg.MetadataValue.md(value[3:])
        else:
            typed[name] = dg.MetadataValue.text(str(value))
    return typed
