"""A finished study as evidence: best value with a bootstrap interval, best params, top trials, importances, plots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from asset_platform.tuning.objective import TuningProblem

TOP_TRIALS = 10
RESAMPLES = 300


def bootstrap_interval(
    metric_name: str, labels: np.ndarray, scores: np.ndarray, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of a metric, resampling validation rows."""
    from asset_platform.ml.metrics import metric

    rng = np.random.default_rng(seed)
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    values = []
    for _ in range(resamples):
        rows = rng.integers(0, len(labels), len(labels))
        values.append(metric(metric_name, labels[rows], scores[rows]))
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def best_trial(study: Any) -> Any:
    """The best COMPLETE trial; a clear error when the study has none."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise RuntimeError(
            f"study {study.study_name!r} has no complete trial (all were pruned or failed): widen the search "
            "space, raise `trials`, or turn pruning off, then materialize the tuning asset again"
        )
    return study.best_trial


def trials_table(study: Any, limit: int | None = TOP_TRIALS) -> str:
    """Markdown table of trials, best first (COMPLETE by value, then the rest by number)."""
    import optuna
    import pandas as pd

    complete = optuna.trial.TrialState.COMPLETE
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials = study.get_trials(deepcopy=False)
    ranked = sorted((t for t in trials if t.state == complete), key=lambda t: -t.value if maximize else t.value) + [
        t for t in trials if t.state != complete
    ]
    best = ranked[0].number if ranked and ranked[0].state == complete else None
    rows = [
        {
            "trial": f"{t.number}{' (best)' if t.number == best else ''}",
            "state": t.state.name,
            "value": None if t.value is None else round(t.value, 5),
            **{name: _short(value) for name, value in t.params.items()},
            "steps": t.user_attrs.get("steps"),
        }
        for t in ranked[:limit]
    ]
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "no trials"


def _short(value: Any) -> Any:
    return round(value, 5) if isinstance(value, float) else value


def importances(study: Any) -> dict[str, float]:
    """optuna.importance (fANOVA) of each parameter; empty while too few trials or nothing varied."""
    import optuna

    try:
        return {name: float(value) for name, value in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):
        return {}


def history_plot(study: Any) -> str:
    """Each complete trial's value and the best so far, by trial number."""
    import optuna

    from asset_platform.reports.plots import png_markdown

    plt = _pyplot()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    numbers = [t.number for t in complete]
    values = [t.value for t in complete]
    best = np.maximum.accumulate(values) if study.direction.name == "MAXIMIZE" else np.minimum.accumulate(values)
    figure, axis = plt.subplots(figsize=(4.2, 2.6))
    axis.scatter(numbers, values, s=8, alpha=0.6, label="trial")
    axis.step(numbers, best, where="post", color="C3", linewidth=1.4, label="best so far")
    axis.set_title("optimization history", fontsize=9)
    axis.set_xlabel("trial", fontsize=8)
    axis.set_ylabel(study.user_attrs.get("metric", "value"), fontsize=8)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return png_markdown(figure, "optimization history")


def slice_plot(study: Any) -> str:
    """Each parameter's values against the trial's score, one small panel per parameter (a slice plot)."""
    import optuna

    from asset_platform.reports.plots import png_markdown

    plt = _pyplot()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    names = sorted({name for trial in complete for name in trial.params})
    figure, axes = plt.subplots(1, max(1, len(names)), figsize=(1.9 * max(1, len(names)), 2.2), sharey=True)
    for axis, name in zip(np.atleast_1d(axes), names, strict=False):
        points = [(trial.params[name], trial.value) for trial in complete if name in trial.params]
        axis.scatter([_plottable(x) for x, _ in points], [y for _, y in points], s=6, alpha=0.6)
        axis.set_xlabel(name, fontsize=7)
        axis.tick_params(labelsize=6)
        axis.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel(study.user_attrs.get("metric", "value"), fontsize=7)
    figure.suptitle("slice plot", fontsize=9)
    return png_markdown(figure, "slice plot")


def _plottable(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def importance_plot(values: dict[str, float]) -> str:
    from asset_platform.reports.plots import png_markdown

    plt = _pyplot()
    names = list(values)[::-1]
    figure, axis = plt.subplots(figsize=(4.2, 0.6 + 0.3 * len(names)))
    axis.barh(names, [values[name] for name in names], color="C0")
    axis.set_title("parameter importance (fANOVA)", fontsize=9)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3, axis="x")
    return png_markdown(figure, "parameter importance")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def summarize(study: Any, problem: TuningProblem, storage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the tuning asset's value, its metadata as plain values keyed by name; `md:` values are markdown)."""
    import optuna

    from asset_platform.ml.features import FeaturePipeline
    from asset_platform.tuning.objective import best_fit

    best = best_trial(study)
    pipeline = FeaturePipeline.from_dict(problem.feature_pipeline)
    scores = best_fit(problem, best.params).model.predict(problem.valid)
    seed = problem.spec.tuning.seed if problem.spec.tuning else 0
    low, high = bootstrap_interval(problem.metric, problem.valid[pipeline.label_column].to_numpy(), scores, seed=seed)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    value = {
        "study": study.study_name,
        "trial": best.number,
        "best_params": dict(best.params),
        "best_value": float(best.value),
        "metric": problem.metric,
        "direction": study.direction.name.lower(),
    }
    weights = importances(study)
    metadata: dict[str, Any] = {
        "study": study.study_name,
        "storage": storage,
        "best_trial": best.number,
        "best_value": float(best.value),
        "best_value_ci_low": low,
        "best_value_ci_high": high,
        "best_params": dict(best.params),
        "metric": f"{problem.metric} on the training set's validation split ({study.direction.name.lower()})",
        "trials_complete": states.count(optuna.trial.TrialState.COMPLETE),
        "trials_pruned": states.count(optuna.trial.TrialState.PRUNED),
        "trials_failed": states.count(optuna.trial.TrialState.FAIL),
        "top_trials": "md:" + trials_table(study),
        "param_importance": weights,
        "optimization_history": "md:" + history_plot(study),
        "slice_plot": "md:" + slice_plot(study),
        "data_version": study.user_attrs.get("data_version", ""),
        "code_version": study.user_attrs.get("code_version", ""),
    }
    if weights:
        metadata["importance_plot"] = "md:" + importance_plot(weights)
    return value, metadata
