"""Performance before labels: estimates of a batch's metric from the model's own output.

Classification (confidence-based estimation, the idea of NannyML's CBPE): a
calibrated classifier's score is the probability that the row is positive, so
the expected confusion matrix at every threshold, and with it the expected ROC
curve and AUC and the expected average precision, follow from the scores alone
(precision at a declared recall is not estimated). The scores are first calibrated
with an isotonic map fitted on the model's holdout, where labels are known,
stored as a small piecewise-linear table.

Multiclass (CBPE one-vs-rest): each class's probability gets its own isotonic map
(the class against the rest, on the holdout), and the calibrated probabilities
are renormalized to sum to 1 per row. Each class's expected one-vs-rest AUC then
follows as in the binary case, and their mean is the estimated macro AUC; the
expected accuracy is the mean calibrated probability of each row's predicted
class, the expected macro F1 comes from each class's expected confusion counts,
and the expected log loss from the calibrated probabilities of every class.

Regression (direct loss estimation, the idea of NannyML's DLE): a small
LightGBM "nuisance" model, fitted on the holdout, predicts each row's squared
and absolute error from the model's features and its prediction; a batch's
estimated RMSE is the root of the mean predicted squared error, its MAE the
mean predicted absolute error. Both nuisance models are stored as LightGBM text.

Either estimator is fitted when the model is trained (`fit_estimator`) and
stored in the model itself, so the estimate of a batch is always made with the
estimator of the model that scored it. Both track performance changes caused by
covariate shift; a concept change that leaves the inputs' distribution alone is
invisible to them and shows only when labels land.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_POINTS = 64


def fit_calibration(scores: np.ndarray, labels: np.ndarray, points: int = _POINTS) -> dict[str, list[float]]:
    """An isotonic map from score to observed positive rate, as (x, y) knots: at most `points` at the scores'
    quantiles and as many at the positives' scores' quantiles.

    With rare positives most of them score in the top per cent or two, which the scores' quantiles leave
    to one straight segment up to the top score's rate (often 1.0), so the stored map could differ from the
    isotonic fit where average precision is decided (by up to 0.04 of it with 1 % positives). On LightGBM
    fraud models (1 %, holdouts of 200-440 positives) the estimate's mean absolute error went from 0.041 to
    0.035 over eight cases; what remains is mostly the isotonic fit's own noise on so few positives.
    """
    from sklearn.isotonic import IsotonicRegression

    scores = np.asarray(scores, dtype=np.float64)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    grid = np.linspace(0, 1, points)
    positives = scores[np.asarray(labels) > 0]
    knots = np.unique(
        np.concatenate([np.quantile(scores, grid), np.quantile(positives, grid) if positives.size else []])
    )
    return {"x": knots.round(6).tolist(), "y": np.asarray(isotonic.predict(knots)).round(6).tolist()}


def calibrate(scores: np.ndarray, calibration: dict[str, Any] | None) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if not calibration or len(calibration.get("x", [])) < 2:
        return np.clip(scores, 0.0, 1.0)
    return np.interp(scores, calibration["x"], calibration["y"])


# Calibrated probabilities are counted at steps of 2^-20: all a binary estimate needs of a batch is then
# 2^20 + 2 counts (8 MB), whatever its size, added chunk by chunk or merged in any order with the same result.
# Rounding moves a row's probability by at most 2^-21 (5e-7), the estimate by about as much. A multiclass
# estimate counts each class's probabilities at steps of 2^-16 (0.5 MB a class, a hundred classes in 50 MB).
PROBABILITY_STEPS = 1 << 20
CLASS_PROBABILITY_STEPS = 1 << 16


def probability_counts(probabilities: np.ndarray, steps: int = PROBABILITY_STEPS) -> np.ndarray:
    """How many of `probabilities` round to each step k / `steps` (k = 0 .. steps), then, in the last slot,
    how many are NaN; counts of two parts of a batch add up to the whole's."""
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    missing = np.isnan(p)
    rounded = np.rint(np.clip(p[~missing], 0.0, 1.0) * steps).astype(np.intp)
    counts = np.bincount(rounded, minlength=steps + 2)
    counts[-1] = int(missing.sum())
    return counts


def _descending(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(probability, rows) of each step present, highest first; None where a row is NaN or fewer than two."""
    counts = np.asarray(counts)
    if counts[-1] or counts[:-1].sum() < 2:
        return None
    present = np.flatnonzero(counts[:-1])[::-1]
    return present / (len(counts) - 2), counts[present].astype(np.float64)


def estimated_auc(probabilities: np.ndarray) -> float:
    """The AUC expected if each row is positive with its (calibrated) probability."""
    return auc_of_counts(probability_counts(probabilities))


def auc_of_counts(counts: np.ndarray) -> float:
    """`estimated_auc` from `probability_counts`. Rows of one probability add the same (p, 1 - p) step to the
    expected ROC curve each, so a step of several rows is one straight segment: grouping them changes nothing."""
    groups = _descending(counts)
    if groups is None:
        return float("nan")
    p, rows = groups
    positives, negatives = np.cumsum(rows * p), np.cumsum(rows * (1.0 - p))
    if positives[-1] <= 0 or negatives[-1] <= 0:
        return float("nan")
    tpr = np.concatenate([[0.0], positives / positives[-1]])
    fpr = np.concatenate([[0.0], negatives / negatives[-1]])
    return float(np.trapezoid(tpr, fpr))


def estimated_average_precision(probabilities: np.ndarray) -> float:
    """The average precision expected if each row is positive with its (calibrated) probability: at each
    row, highest score first, the expected positives so far over the rows so far, weighted by the share of
    the expected positives that row adds."""
    return average_precision_of_counts(probability_counts(probabilities))


def average_precision_of_counts(counts: np.ndarray) -> float:
    """`estimated_average_precision` from `probability_counts`, row by row within a step in closed form: after
    R rows holding P expected positives, the step's c rows of probability p add
    p * sum_k (P + k p) / (R + k) = p * (c p + (P - p R) * (H(R + c) - H(R))), k = 1 .. c, H harmonic numbers."""
    groups = _descending(counts)
    if groups is None:
        return float("nan")
    p, rows = groups
    positives = np.cumsum(rows * p)
    if positives[-1] <= 0:
        return float("nan")
    rows_before = np.cumsum(rows) - rows
    positives_before = positives - rows * p
    added = p * (rows * p + (positives_before - p * rows_before) * _harmonic_span(rows_before, rows))
    return float(added.sum() / positives[-1])


def _harmonic_span(before: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """H(before + rows) - H(before) = digamma(before + rows + 1) - digamma(before + 1), without the cancellation
    of two nearly equal digammas where `before` is large (their asymptotic series, error below 1e-24 there)."""
    from scipy.special import digamma

    x, y = before + 1.0, before + rows + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        series = (
            np.log1p(rows / x)
            + rows / (2 * x * y)
            + rows * (x + y) / (12 * x * x * y * y)
            - rows * (x + y) * (x * x + y * y) / (120 * x**4 * y**4)
        )
    return np.where(before >= 1e4, series, digamma(y) - digamma(x))


def _classifier_estimates(probabilities: np.ndarray) -> dict[str, float]:
    counts = probability_counts(probabilities)
    return {"auc": auc_of_counts(counts), "average_precision": average_precision_of_counts(counts)}


# The error each regression metric averages (LOSS_METRICS: how a batch's mean of it becomes the metric).
_LOSSES = {"rmse": lambda e: e * e, "mae": np.abs}
# Small and heavily regularized: it learns where the model errs, from a few thousand holdout rows.
_NUISANCE_PARAMS = {
    "objective": "regression",
    "learning_rate": 0.1,
    "num_leaves": 8,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "seed": 0,
    "verbose": -1,
}
_NUISANCE_ROUNDS = 60
# Fewer holdout rows than this give a nuisance model too noisy to be worth an estimate.
MIN_ROWS = 50


def fit_estimator(task: str, features: np.ndarray, predictions: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The label-free estimator of a model, fitted on its holdout: `features` is the model's own
    feature matrix of the holdout rows, `predictions` its output on them, `labels` their truth.

    Returns {} when the holdout is too small to fit one (fewer than `MIN_ROWS` rows, or one class).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if len(labels) < MIN_ROWS:
        return {}
    if task == "multiclass":
        return _fit_multiclass(predictions, labels.astype(np.int64))
    if task == "binary_classification":
        if len(np.unique(labels)) < 2:
            return {}
        calibration = fit_calibration(predictions, labels)
        return {
            "method": "cbpe",
            "calibration": calibration,
            "holdout": {m: round(v, 6) for m, v in _classifier_estimates(calibrate(predictions, calibration)).items()},
        }
    return _fit_loss_models(np.asarray(features, dtype=np.float32), predictions, labels)


def _fit_multiclass(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """One isotonic map per class (that class against the rest); {} when the holdout holds one class only."""
    if len(np.unique(labels)) < 2:
        return {}
    calibrations = [
        fit_calibration(probabilities[:, code], (labels == code).astype(np.float64))
        if (labels == code).any() and (labels != code).any()
        else {}  # a class the holdout never (or always) holds keeps its probabilities as they are
        for code in range(probabilities.shape[1])
    ]
    estimator: dict[str, Any] = {"method": "cbpe_multiclass", "calibrations": calibrations}
    estimator["holdout"] = {m: round(v, 6) for m, v in estimate_all(estimator, probabilities).items()}
    return estimator


def calibrate_classes(probabilities: np.ndarray, calibrations: list[dict[str, Any]]) -> np.ndarray:
    """Each class's probability through its own map, renormalized so each row sums to 1."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    calibrated = np.column_stack(
        [calibrate(probabilities[:, code], calibrations[code]) for code in range(probabilities.shape[1])]
    )
    totals = calibrated.sum(axis=1, keepdims=True)
    # A row every map sent to 0 (all its classes below any seen on the holdout) keeps the model's own.
    return np.where(totals > 0, calibrated / np.where(totals > 0, totals, 1.0), probabilities)


def _fit_loss_models(features: np.ndarray, predictions: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    import lightgbm

    inputs = nuisance_inputs(features, predictions)
    errors = labels - predictions
    models = {}
    for metric, loss in _LOSSES.items():
        data = lightgbm.Dataset(inputs, loss(errors), params={"verbose": -1})
        booster = lightgbm.train(_NUISANCE_PARAMS, data, num_boost_round=_NUISANCE_ROUNDS)
        models[metric] = booster.model_to_string()
    estimator: dict[str, Any] = {"method": "dle", "features": int(features.shape[1]), "loss_models": models}
    # The holdout's own estimate, the figure a batch's estimate is compared with (an L2 booster keeps the
    # mean of what it fits, so this is close to the realized holdout metric).
    estimator["holdout"] = {m: round(v, 6) for m, v in estimate_all(estimator, predictions, features).items()}
    return estimator


def nuisance_inputs(features: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """What a regression estimator's loss models read per row: the model's features, then its prediction."""
    return np.column_stack([np.asarray(features, dtype=np.float32), np.asarray(predictions, dtype=np.float32)])


def estimate_all(estimator: dict[str, Any], predictions: np.ndarray, features: np.ndarray | None = None) -> dict:
    """Every metric `estimator` can estimate for a batch, by name ({} when it estimates none)."""
    from asset_platform.ml.streamed_estimate import StreamedEstimate

    return StreamedEstimate.of(estimator, predictions, features).estimates()


def estimate(
    metric: str, estimator: dict[str, Any] | None, predictions: np.ndarray, features: np.ndarray | None = None
) -> float | None:
    """The label-free estimate of `metric` for a batch, or None where `estimator` makes none."""
    from asset_platform.ml.streamed_estimate import StreamedEstimate

    return StreamedEstimate.of(estimator or {}, predictions, features).estimate(metric)


def estimate_interval(
    metric: str,
    estimator: dict[str, Any] | None,
    predictions: np.ndarray,
    features: np.ndarray | None = None,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Where the batch's realized `metric` should fall, with probability `level`, if the estimator is
    right: the spread the batch's own labels will add to the estimate (a small batch's realized metric
    varies more). None where the estimator makes no estimate of `metric`.

    Classification: labels drawn row by row as Bernoulli(calibrated score), `_DRAWS` times with a fixed
    seed, and the metric's quantiles over the draws. Regression: each row's error taken as normal with
    the loss models' predicted spread (E[e^2] = s^2, E|e| = s*sqrt(2/pi)), so the batch's mean loss is
    approximately normal with the summed per-row variances; the interval is that mean's, mapped to the
    metric (the root for RMSE).
    """
    from asset_platform.ml.streamed_estimate import StreamedEstimate

    return StreamedEstimate.of(estimator or {}, predictions, features).interval(metric, level)


# Simulated label draws behind a classification estimate's interval: the 2.5 % and 97.5 % quantiles
# of 200 draws move by about 1 % of the interval's width between seeds.
_DRAWS = 200
_DRAW_CHUNK = 10  # draws simulated at once: memory is _DRAW_CHUNK x rows floats
# Above this many rows the draws are simulated on a seeded sample of this size and their spread around the
# sample's mean shrunk by sqrt(sample / rows) (the metric's sampling error falls as 1/sqrt(rows)): memory and
# time stay bounded (a 20M-row batch simulated whole held 1.8 GB for 81 s).
MAX_SIMULATED_ROWS = 100_000


def simulated_positions(rows: int) -> np.ndarray | None:
    """The positions of a batch of `rows` rows whose draws the interval simulates, ascending (None: every row)."""
    if rows <= MAX_SIMULATED_ROWS:
        return None
    return np.sort(np.random.default_rng(0).choice(rows, MAX_SIMULATED_ROWS, replace=False))


def classifier_interval(
    metric: str, sample: np.ndarray, rows: int, center: float, tail: float
) -> tuple[float, float] | None:
    """A binary estimate's interval from the calibrated probabilities of the rows `simulated_positions` chose
    (all of a batch of up to `MAX_SIMULATED_ROWS`): the draws' quantiles, or for a bigger batch the sample's
    spread narrowed to the batch's size around the whole batch's estimate `center`."""
    draws = _simulated_metrics(metric, sample)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return None
    if rows <= MAX_SIMULATED_ROWS:
        return tuple(float(q) for q in np.quantile(draws, [tail, 1.0 - tail]))
    spread = np.sqrt(MAX_SIMULATED_ROWS / rows) * (np.quantile(draws, [tail, 1.0 - tail]) - draws.mean())
    return float(center + spread[0]), float(center + spread[1])


def multiclass_interval(
    metric: str, calibrations: list[dict[str, Any]], sample: np.ndarray, rows: int, center: float, tail: float
) -> tuple[float, float] | None:
    """A multiclass estimate's interval: each sampled row's class drawn from its calibrated probabilities
    `_DRAWS` times (`sample`: the model's probabilities of the rows `simulated_positions` chose), and `metric`'s
    quantiles over the draws, their spread narrowed to the batch's size, around the estimate `center`."""
    from asset_platform.ml.metrics import metric as realized

    expected = calibrate_classes(sample, calibrations)
    cumulative = np.cumsum(expected, axis=1)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(_DRAWS):
        labels = np.minimum((rng.random(len(expected))[:, None] > cumulative).sum(axis=1), expected.shape[1] - 1)
        draws.append(realized(metric, labels, sample))
    values = np.asarray(draws)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    spread = np.sqrt(min(1.0, MAX_SIMULATED_ROWS / rows)) * (np.quantile(values, [tail, 1.0 - tail]) - values.mean())
    return float(center + spread[0]), float(center + spread[1])


def _simulated_metrics(metric: str, probabilities: np.ndarray) -> np.ndarray:
    """`metric` (auc or average_precision) on `_DRAWS` label sets drawn from `probabilities`."""
    from scipy.stats import rankdata

    p = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(0)
    found = []
    if metric == "auc":
        ranks = rankdata(p)  # mid-ranks: tied scores count half, as the AUC's definition does
    else:
        order = np.argsort(-p, kind="stable")
        p = p[order]
        position = np.arange(1, p.size + 1, dtype=np.float64)
    for start in range(0, _DRAWS, _DRAW_CHUNK):
        labels = rng.random((min(_DRAW_CHUNK, _DRAWS - start), p.size)) < p
        positives = labels.sum(axis=1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if metric == "auc":
                negatives = p.size - positives
                found.append((labels @ ranks - positives * (positives + 1) / 2) / (positives * negatives))
            else:
                precision = np.cumsum(labels, axis=1) / position
                found.append((labels * precision).sum(axis=1) / positives)
    return np.concatenate(found)


# How a regression batch's mean loss becomes its metric, and the variance of one row's loss in units of its
# predicted mean squared, for normal errors: Var(e^2) = 2 s^4 = 2 (E[e^2])^2; Var|e| = s^2 (1 - 2/pi).
LOSS_METRICS = {"rmse": (np.sqrt, 2.0), "mae": (lambda m: m, np.pi / 2 - 1.0)}


def loss_interval(metric: str, rows: int, loss_sum: float, square_sum: float, tail: float) -> tuple[float, float]:
    """A regression estimate's interval from the batch's sums of a loss model's predicted loss and its square."""
    from scipy.stats import norm

    aggregate, per_row = LOSS_METRICS[metric]
    mean = loss_sum / rows
    spread = float(np.sqrt(per_row * square_sum) / rows)
    low, high = (max(mean + z * spread, 0.0) for z in norm.ppf([tail, 1.0 - tail]))
    return float(aggregate(low)), float(aggregate(high))


def holdout_estimate(estimator: dict[str, Any] | None, metric: str) -> float | None:
    """The estimator's estimate of `metric` on the holdout it was fitted on: what a batch's is judged against."""
    if not estimator:
        return None
    if "holdout" in estimator:
        return estimator["holdout"].get(metric)
    return estimator.get("holdout_estimate") if metric == "auc" else None  # stored before regression estimates
