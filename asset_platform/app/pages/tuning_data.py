"""What the tuning page reads: a model's Optuna studies in the TuningStore, and which model version each trial produced.

The studies are those `asset-platform tune show` lists (the newest study of each tuned model asset,
`app/tune_commands.py` `model_studies`), read from the storage the model's `tuning_store` resource names.
A model version records the study and trial whose params it trained with (`lifecycle/training.py`
`model_result`: `tuning/study`, `tuning/trial`), so a trial links to the version it produced.
Read-only: a storage that does not exist yet is reported, never created.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from asset_platform.declaration.names import LifecycleNames
from asset_platform.tuning.storage import TuningStore, resolve_url

# A model version's metadata naming the study and trial it trained with (lifecycle/training.py).
STUDY_ENTRY, TRIAL_ENTRY = "tuning/study", "tuning/trial"
DATA_VERSION_TAG = "dagster/data_version"
# Model materializations read for the trial → version links: bounded like the model page's.
_EVENTS = 500


@dataclass(frozen=True)
class Produced:
    """A model version trained with a trial's params: its data version, model asset and run."""

    version: str
    asset: str
    run_id: str


@dataclass(frozen=True)
class Trial:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    value: float | None
    params: dict[str, Any]
    produced: tuple[Produced, ...] = ()


@dataclass(frozen=True)
class Param:
    """A searched parameter as its distribution declares it: numeric (maybe log) or categorical."""

    name: str
    log: bool = False
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class TuningStudy:
    name: str
    model_asset: str
    metric: str
    direction: str  # maximize or minimize
    budget: int | None
    params: tuple[Param, ...]
    trials: tuple[Trial, ...]
    importances: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""  # why there are no importances, when there are none

    @property
    def complete(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)]

    @property
    def best(self) -> Trial | None:
        complete = self.complete
        if not complete:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(complete, key=lambda t: t.value)


def study_storage_url(store: TuningStore, instance: Any) -> str | None:
    """The URL the tuning steps write (TuningStore's rules), or None where no study was ever written.

    Unlike `TuningStore.url_for` it creates nothing: a home without a tuning folder has no studies.
    """
    from asset_platform.app.location import resolved

    configured = resolved(store.url) if store.url is not None else None
    home = Path(resolved(store.home)) if store.home else None
    if home is not None and not (home / "tuning").is_dir():
        home = None  # resolve_url would create the folder; without it only the instance's PostgreSQL is left
    try:
        url = resolve_url(configured, instance, home)
    except ValueError:
        return None
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return url


def open_read_only(url: str) -> Any:
    """An Optuna storage on `url` that creates no table (no heartbeats: it runs no trial)."""
    import optuna

    return optuna.storages.RDBStorage(url, skip_table_creation=True)


def read_studies(storage: Any, model: str, produced: dict[tuple[str, int], list[Produced]]) -> list[TuningStudy]:
    """The newest study of each of `model`'s tuned model assets, with each trial's produced versions."""
    import optuna

    from asset_platform.app.tune_commands import model_studies

    studies = []
    for summary in model_studies(storage, model):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        studies.append(tuning_study(study, produced))
    return studies


def tuning_study(study: Any, produced: dict[tuple[str, int], list[Produced]]) -> TuningStudy:
    """One Optuna study as the page shows it."""
    frozen = study.get_trials(deepcopy=False)
    distributions: dict[str, Any] = {}
    for trial in frozen:
        distributions.update(trial.distributions)
    trials = tuple(
        Trial(
            number=t.number,
            state=t.state.name,
            value=t.value,
            params=dict(t.params),
            produced=tuple(produced.get((study.study_name, t.number), ())),
        )
        for t in frozen
    )
    importances, note = param_importances(study)
    budget = study.user_attrs.get("budget")
    return TuningStudy(
        name=study.study_name,
        model_asset=str(study.user_attrs.get("model_asset", "")),
        metric=str(study.user_attrs.get("metric", "value")),
        direction=study.direction.name.lower(),
        budget=int(budget) if isinstance(budget, int | float) else None,
        params=tuple(_param(name, d) for name, d in sorted(distributions.items())),
        trials=trials,
        importances=importances,
        importance_note=note,
    )


def param_importances(study: Any) -> tuple[dict[str, float], str]:
    """Each parameter's importance for the objective, and why there is none when there is none.

    Mean decrease in impurity of a seeded random forest over the complete trials: fANOVA took 1.3 s on
    200 trials of three parameters here, too slow for a page; this takes 0.06 s and ranks alike.
    """
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}, f"{len(complete)} complete trial(s): importances need two or more"
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    try:
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as error:
        return {}, f"not computable: {error}"
    return {name: float(value) for name, value in found.items()}, ""


def produced_versions(instance: dg.DagsterInstance, names: LifecycleNames) -> dict[tuple[str, int], list[Produced]]:
    """(study, trial) → the model versions trained with that trial's params, newest first."""
    found: dict[tuple[str, int], list[Produced]] = {}
    for key in names.model_keys:
        for record in instance.fetch_materializations(key, limit=_EVENTS).records:
            materialization = record.asset_materialization
            study, trial = materialization.metadata.get(STUDY_ENTRY), materialization.metadata.get(TRIAL_ENTRY)
            version = materialization.tags.get(DATA_VERSION_TAG, "")
            if study is None or trial is None or not version:
                continue
            produced = Produced(version, key.to_user_string(), record.run_id)
            listed = found.setdefault((str(study.value), int(trial.value)), [])
            if produced.version not in {p.version for p in listed}:
                listed.append(produced)
    return found


def tuned_assets(declaration: Any) -> list[str]:
    """The model assets whose family declares a search space."""
    return [spec.asset_name for spec in declaration.models if spec.tuning is not None]


def _param(name: str, distribution: Any) -> Param:
    choices = getattr(distribution, "choices", None)
    return Param(name, bool(getattr(distribution, "log", False)), tuple(choices) if choices is not None else None)


def last_materialization(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None
