"""One trial: sample params from the declared space, train through the platform's own family code, score.

Trials learn on the training set's fit part and are scored on its validation
part (the newest days, the same split the model asset early-stops on); the
promotion gate's holdout is never seen. A family that reports a validation
metric per step (boosting rounds, epochs) can have a poor trial stopped early by
a pruner; one that trains in one call (sklearn) is never pruned. What each
family reports, and how often, is the family's to say (ml/families/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration import ModelFamilySpec
    from asset_platform.declaration.tuning import ParamSpec

STEPS_ATTR = "steps"  # boosting rounds or epochs a trial trained (up to where it was pruned)


@dataclass
class TuningProblem:
    """What every trial of one study trains on and is judged by."""

    model: str
    task: str
    metric: str
    spec: ModelFamilySpec
    feature_pipeline: dict
    fit: pd.DataFrame
    valid: pd.DataFrame
    workers: int = 1

    @classmethod
    def from_training_set(
        cls, model: str, task: str, metric: str, spec: ModelFamilySpec, training_set: pd.DataFrame, pipeline: dict
    ) -> TuningProblem:
        from asset_platform.ml.families import validation_split

        fit, valid = validation_split(training_set, pipeline["time_column"])
        workers = spec.tuning.workers if spec.tuning else 1
        return cls(model, task, metric, spec, pipeline, fit, valid, workers)


def suggest(trial: Any, space: dict[str, ParamSpec]) -> dict[str, Any]:
    """The trial's values for each declared parameter."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec.choices or []))
        elif spec.type == "int":
            step = int(spec.step) if spec.step is not None else 1
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), step=step, log=spec.log)
        else:
            params[name] = trial.suggest_float(name, float(spec.low), float(spec.high), step=spec.step, log=spec.log)
    return params


def trial_spec(problem: TuningProblem, params: dict[str, Any]) -> ModelFamilySpec:
    """The family spec a trial trains: declared params, the trial's values, as the family runs them in parallel."""
    from asset_platform.ml.families.registry import family

    spec = problem.spec
    merged = family(spec.family).trial_params({**spec.params, **params}, problem.workers)
    return spec.model_copy(update={"params": merged})


class _Reporter:
    """Receives the family's per-step validation metrics; reports them to the trial and prunes."""

    def __init__(self, trial: Any, problem: TuningProblem, prune: bool):
        import optuna

        from asset_platform.ml.families.registry import family

        self.trial, self.prune, self.steps = trial, prune, 0
        trained = family(problem.spec.family)
        self.name = trained.reported_metric(problem.metric)
        self.every = trained.report_every
        maximize = trial.study.direction == optuna.study.StudyDirection.MAXIMIZE
        # The pruner compares values in the study's direction; flip a loss reported to a maximized study.
        self.sign = 1.0 if trained.higher_is_better(self.name) == maximize else -1.0

    def __call__(self, step: int, values: dict[str, float]) -> None:
        import optuna

        self.steps = step
        if not self.prune or step % self.every:
            return
        self.trial.report(self.sign * values[self.name], step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")


def check_estimator_params(problem: TuningProblem) -> None:
    """Every searched parameter must be one the family takes (an sklearn estimator's, known once imported)."""
    from asset_platform.ml.families.registry import family

    spec = problem.spec
    if spec.tuning is None:
        return
    known = family(spec.family).tunable_params(spec, problem.task)
    unknown = sorted(set(spec.tuning.search_space) - known) if known is not None else []
    if unknown:
        what = (spec.estimator or "").replace(":", ".") or f"the {spec.family} family"
        raise ValueError(
            f"model {problem.model!r}, {spec.asset_name}: {unknown[0]!r} in tuning.search_space is not a parameter "
            f"of {what}; its parameters are: {', '.join(sorted(known or ()))}"
        )


def make_objective(problem: TuningProblem) -> Any:
    """The objective of one study: train a trial's spec, return its validation metric."""
    from asset_platform.ml.families import TrainingData, train_family
    from asset_platform.ml.families.registry import family
    from asset_platform.ml.features import FeaturePipeline
    from asset_platform.ml.metrics import metric

    check_estimator_params(problem)
    pipeline = FeaturePipeline.from_dict(problem.feature_pipeline)
    labels = problem.valid[pipeline.label_column].to_numpy()
    tuning = problem.spec.tuning
    prune = bool(tuning and tuning.pruning)
    reports = family(problem.spec.family).reports_steps

    def objective(trial: Any) -> float:
        spec = trial_spec(problem, suggest(trial, tuning.search_space if tuning else {}))
        reporter = _Reporter(trial, problem, prune) if reports else None
        data = TrainingData(pipeline, problem.task, problem.fit, problem.valid, report=reporter)
        try:
            fitted = train_family(spec, data)
        finally:
            if reporter is not None:
                trial.set_user_attr(STEPS_ATTR, reporter.steps)
        return metric(problem.metric, labels, fitted.model.predict(problem.valid))

    return objective


def best_fit(problem: TuningProblem, params: dict[str, Any]) -> Any:
    """Retrain `params` exactly as the trial did (for the evidence: validation predictions)."""
    from asset_platform.ml.families import TrainingData, train_family
    from asset_platform.ml.features import FeaturePipeline

    pipeline = FeaturePipeline.from_dict(problem.feature_pipeline)
    return train_family(trial_spec(problem, params), TrainingData(pipeline, problem.task, problem.fit, problem.valid))
