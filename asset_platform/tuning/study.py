"""A study's identity (what it tunes) and its creation: the same data and code always name the same study.

The name joins the model, the model asset, the training data's version and the
code's version (the search space and budget, the family's fixed settings, the
metric and this package's version). A re-run therefore resumes the study it
finds, and a finished study is reused rather than tuned again; new data or a new
search space names a new study.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration import ModelFamilySpec

# Bumped when the objective changes meaning (split, reported metric), so old studies are not resumed.
OBJECTIVE_VERSION = 1


@dataclass(frozen=True)
class StudyIdentity:
    """Who a study belongs to and the versions that name it."""

    model: str
    model_asset: str
    data_version: str
    code_version: str
    metric: str

    @property
    def name(self) -> str:
        return f"{self.model}.{self.model_asset}.data-{self.data_version[:12]}.code-{self.code_version[:12]}"

    @property
    def direction(self) -> str:
        from asset_platform.ml.metrics import METRIC_DIRECTION

        return "maximize" if METRIC_DIRECTION[self.metric] > 0 else "minimize"


def data_version(training_set: pd.DataFrame, feature_pipeline: dict) -> str:
    """A content hash of the training set (values, column names) and the feature pipeline it was built with."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps(list(map(str, training_set.columns))).encode())
    digest.update(pd.util.hash_pandas_object(training_set, index=False).to_numpy().tobytes())
    digest.update(json.dumps(feature_pipeline, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def code_version(spec: ModelFamilySpec, task: str, metric: str) -> str:
    """A hash of everything but the data that decides what the study finds."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("asset-platform")
    except PackageNotFoundError:  # pragma: no cover - a source checkout without the package installed
        package = "source"
    recorded = {
        "family": spec.model_dump(mode="json"),
        "task": task,
        "metric": metric,
        "package": package,
        "objective": OBJECTIVE_VERSION,
    }
    return hashlib.sha256(json.dumps(recorded, sort_keys=True, default=str).encode()).hexdigest()


def study_identity(
    model: str, spec: ModelFamilySpec, task: str, metric: str, training_set: pd.DataFrame, feature_pipeline: dict
) -> StudyIdentity:
    return StudyIdentity(
        model, spec.asset_name, data_version(training_set, feature_pipeline), code_version(spec, task, metric), metric
    )


def load_or_create_study(identity: StudyIdentity, storage: Any, spec: ModelFamilySpec, worker: int = 0) -> Any:
    """The study named by `identity` in `storage`, created if new; sampler and pruner are per process.

    Each worker seeds its sampler differently (and differently on each resume), or parallel
    workers would propose the same parameters.
    """
    import optuna

    tuning = spec.tuning
    assert tuning is not None, f"{spec.asset_name} has no tuning part"
    study = optuna.create_study(
        study_name=identity.name,
        storage=storage,
        direction=identity.direction,
        load_if_exists=True,
        pruner=make_pruner(spec),
    )
    done = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=tuning.seed + 7919 * worker + done)
    for key, value in (
        ("model", identity.model),
        ("model_asset", identity.model_asset),
        ("metric", identity.metric),
        ("data_version", identity.data_version),
        ("code_version", identity.code_version),
        ("budget", tuning.trials),
    ):
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    return study


def make_pruner(spec: ModelFamilySpec) -> Any:
    """Median or Hyperband on the intermediate scores; none where the family reports none or pruning is off."""
    import optuna

    from asset_platform.ml.families.registry import family

    tuning = spec.tuning
    trained = family(spec.family)
    if tuning is None or not tuning.pruning or not trained.reports_steps:
        return optuna.pruners.NopPruner()
    # Each family warms up over a comparable share of its training (rounds reported every few, epochs each).
    warmup = trained.pruning_warmup
    if tuning.pruner == "hyperband" and trained.step_budget is not None:
        key, default = trained.step_budget
        maximum = int(spec.params.get(key, default))
        return optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=max(maximum, warmup + 1))
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
