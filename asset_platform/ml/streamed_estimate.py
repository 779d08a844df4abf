"""A batch's label-free estimate, fed chunk by chunk: memory bounded by a chunk, the same figures however the
batch was cut.

What each estimator (ml/estimation.py) needs of a whole batch is small and adds up:

* binary (CBPE): the count of calibrated probabilities at each step of 2^-20 (`probability_counts`, 8 MB);
* multiclass: those counts per class (at steps of 2^-16), the count of each predicted class, and exact sums
  of each class's expected true positives and expected rows, of the expected accuracy and of the log loss;
* regression (DLE): exact sums of each loss model's predicted loss and of its square.

Sums are exact (asset_platform/exact_sums.py), so a chunk size changes no figure. The interval simulates label
draws on the rows `simulated_positions` picks by position before the first chunk arrives (all rows of a batch
of up to `MAX_SIMULATED_ROWS`), which is the sample the whole batch held in memory would give.

A 50M-row batch held its scores whole before (8 bytes a row), and sorting them for the estimate took five more
arrays of that size: 3.9 GB at the peak of the `local` engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from asset_platform.exact_sums import ExactSums, exact_float
from asset_platform.ml import estimation


class StreamedEstimate:
    """Every estimate `estimator` makes for a batch of `rows` rows, given its predictions `add`ed in row order."""

    def __init__(self, estimator: Mapping[str, Any] | None, rows: int) -> None:
        self.estimator = dict(estimator or {})
        self.method = self.estimator.get("method", "cbpe") if self.estimator else None
        self.rows = rows
        self.seen = 0
        self._positions = estimation.simulated_positions(rows) if self.method in ("cbpe", "cbpe_multiclass") else None
        self._sampled: list[np.ndarray] = []
        if self.method == "cbpe":
            self._counts = np.zeros(estimation.PROBABILITY_STEPS + 2, dtype=np.int64)
        elif self.method == "cbpe_multiclass":
            classes = len(self.estimator["calibrations"])
            self._counts = np.zeros((classes, estimation.CLASS_PROBABILITY_STEPS + 2), dtype=np.int64)
            self._predicted = np.zeros(classes, dtype=np.int64)
            # Slots: each class's expected true positives, then its expected rows; the accuracy; the log loss.
            self._sums = ExactSums(2 * classes + 2)
            self._nonfinite = 0
        elif self.method is not None:
            import lightgbm

            # Parsed once per batch, not once per chunk.
            self._loss_models = {
                metric: lightgbm.Booster(model_str=text) for metric, text in self.estimator["loss_models"].items()
            }
            self._sums = ExactSums(2 * len(self._loss_models))  # per metric: the loss, then its square
            self._nonfinite = 0

    @classmethod
    def of(
        cls, estimator: Mapping[str, Any] | None, predictions: np.ndarray, features: np.ndarray | None = None
    ) -> StreamedEstimate:
        """The estimate of a batch held whole: `predictions` (and the model's `features` for regression)."""
        found = cls(estimator, len(predictions))
        found.add(predictions, features)
        return found

    def add(self, predictions: np.ndarray, features: np.ndarray | None = None) -> None:
        """The next rows' predictions (a multiclass model's per-class scores), and for a regression estimator the
        model's feature matrix of the same rows."""
        predictions = np.asarray(predictions, dtype=np.float64)
        start = self.seen
        self.seen += len(predictions)
        if self.seen > self.rows:
            raise ValueError(f"{self.seen} rows added to the estimate of a batch of {self.rows}")
        if self.method == "cbpe":
            probabilities = estimation.calibrate(predictions, self.estimator.get("calibration"))
            self._counts += estimation.probability_counts(probabilities)
            self._keep(start, probabilities)
        elif self.method == "cbpe_multiclass":
            self._add_multiclass(start, predictions)
        elif self.method is not None:
            self._add_losses(predictions, features)

    def _keep(self, start: int, values: np.ndarray) -> None:
        """Keep the rows of this chunk (its first at `start`) that the interval simulates."""
        if self._positions is None:
            self._sampled.append(values)
            return
        low, high = np.searchsorted(self._positions, [start, start + len(values)])
        if high > low:
            self._sampled.append(values[self._positions[low:high] - start])

    def _add_multiclass(self, start: int, probabilities: np.ndarray) -> None:
        classes = self._counts.shape[0]
        if probabilities.ndim != 2 or probabilities.shape[1] != classes:
            raise ValueError(
                f"the estimator was fitted on {classes} classes, the batch's scores have shape "
                f"{probabilities.shape}: estimate with the model that was stored with it"
            )
        self._keep(start, probabilities)
        if not len(probabilities):
            return
        expected = estimation.calibrate_classes(probabilities, self.estimator["calibrations"])
        for code in range(classes):
            self._counts[code] += estimation.probability_counts(expected[:, code], estimation.CLASS_PROBABILITY_STEPS)
        predicted = probabilities.argmax(axis=1)
        self._predicted += np.bincount(predicted, minlength=classes)
        chosen = expected[np.arange(len(predicted)), predicted]
        log_loss = -(expected * np.log(np.clip(probabilities, 1e-7, 1.0))).sum(axis=1)
        finite = np.isfinite(chosen) & np.isfinite(log_loss) & np.isfinite(expected).all(axis=1)
        self._nonfinite += int((~finite).sum())
        rows = int(finite.sum())
        self._sums.add(predicted[finite], chosen[finite])
        self._sums.add(classes + np.tile(np.arange(classes), rows), expected[finite].ravel())
        self._sums.add(np.full(rows, 2 * classes), chosen[finite])
        self._sums.add(np.full(rows, 2 * classes + 1), log_loss[finite])

    def _add_losses(self, predictions: np.ndarray, features: np.ndarray | None) -> None:
        if features is None:
            raise ValueError("a regression estimate needs the batch's feature matrix beside its predictions")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.estimator["features"]:
            raise ValueError(
                f"the loss estimator was fitted on {self.estimator['features']} features, the batch has "
                f"{features.shape[1] if features.ndim == 2 else features.ndim}: estimate with the model that was "
                "stored with it"
            )
        if not len(features):
            return
        inputs = estimation.nuisance_inputs(features, predictions)
        for index, model in enumerate(self._loss_models.values()):
            loss = np.clip(model.predict(inputs), 0.0, None)  # a loss is never < 0
            finite = np.isfinite(loss) & (loss < 1e150)  # its square must stay finite too
            self._nonfinite += int((~finite).sum())
            self._sums.add(np.full(int(finite.sum()), 2 * index), loss[finite])
            self._sums.add(np.full(int(finite.sum()), 2 * index + 1), loss[finite] ** 2)

    def estimates(self) -> dict[str, float]:
        """Every metric the estimator estimates, by name (NaN where this batch allows none; {} for none)."""
        if self.method == "cbpe":
            return {
                "auc": estimation.auc_of_counts(self._counts),
                "average_precision": estimation.average_precision_of_counts(self._counts),
            }
        if self.method == "cbpe_multiclass":
            return self._multiclass_estimates()
        if self.method is None or self.seen == 0:
            return {}
        nan = float("nan")
        sums = [exact_float(total) for total in self._sums.totals()]
        return {
            metric: nan if self._nonfinite else float(estimation.LOSS_METRICS[metric][0](sums[2 * index] / self.seen))
            for index, metric in enumerate(self._loss_models)
        }

    def _multiclass_estimates(self) -> dict[str, float]:
        if self.seen < 2:
            return {}
        classes = self._counts.shape[0]
        aucs = [estimation.auc_of_counts(self._counts[code]) for code in range(classes)]
        defined = [value for value in aucs if value == value]
        sums = np.asarray([exact_float(total) for total in self._sums.totals()])
        true_positives, actual = sums[:classes], sums[classes : 2 * classes]
        present = (self._predicted + actual) > 0
        f1 = 2 * true_positives[present] / (self._predicted[present] + actual[present])
        nan = float("nan")
        if self._nonfinite:
            return {"macro_auc": nan, "accuracy": nan, "macro_f1": nan, "log_loss": nan}
        return {
            "macro_auc": float(np.mean(defined)) if defined else nan,
            "accuracy": float(sums[2 * classes] / self.seen),
            "macro_f1": float(f1.mean()) if present.any() else nan,
            "log_loss": float(sums[2 * classes + 1] / self.seen),
        }

    def estimate(self, metric: str) -> float | None:
        """The estimate of `metric`, or None where there is none."""
        value = self.estimates().get(metric)
        return None if value is None or value != value else value

    def interval(self, metric: str, level: float = 0.95) -> tuple[float, float] | None:
        """Where the batch's realized `metric` should fall, with probability `level`, if the estimator is right
        (see `estimation.estimate_interval`); None where there is no estimate."""
        center = self.estimate(metric)
        if center is None:
            return None
        tail = (1.0 - level) / 2.0
        if self.method in ("cbpe", "cbpe_multiclass"):
            sample = np.concatenate(self._sampled)
            if self.method == "cbpe":
                return estimation.classifier_interval(metric, sample, self.rows, center, tail)
            return estimation.multiclass_interval(
                metric, self.estimator["calibrations"], sample, self.rows, center, tail
            )
        index = list(self._loss_models).index(metric)
        totals = self._sums.totals()
        return estimation.loss_interval(
            metric, self.seen, exact_float(totals[2 * index]), exact_float(totals[2 * index + 1]), tail
        )
