"""Which label-free estimator judges a batch: always the one of the model that scored it.

The estimator (a calibration for classification, loss models for regression) is
fitted on a model's holdout when the model is trained and stored in it
(`TrainedModel.extra["estimation"]`), so it changes with the champion in the
same step that changes the champion. It used to live in the reference profile
only, a separate asset rebuilt after the champion changes: a batch scored by a
newly promoted champion before that rebuild (a score run beside the retraining
run, a champion materialized on its own, a retraining run that failed after its
gate) had the new model's scores read through the old champion's calibration.

Models stored before the estimator travelled with them fall back to the
reference profile's, but only when the profile was built for that very model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asset_platform.ml.streamed_estimate import StreamedEstimate


@dataclass(frozen=True)
class BatchEstimate:
    """A batch's label-free estimate of the metric, and whose estimator made it."""

    value: float | None
    # The same estimator's figure on its own holdout: what a batch's estimate is judged against.
    reference: float | None
    # The model version whose estimator was used ("" when none was).
    estimator_version: str
    # Why there is no estimate, when there is none.
    note: str = ""
    # (low, high): where the batch's realized metric should fall (95 %) if the estimator is right.
    interval: tuple[float, float] | None = None


def estimator_of(model: Any, version: str, reference_profile: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(estimator, its model version, a note when none fits) for `model`, stored as `version`."""
    own = model.extra.get("estimation")
    if own is not None:
        return own, version, "" if own else "the model's holdout was too small to fit an estimator"
    profiled = reference_profile.get("champion_version", "")
    fallback = reference_profile.get("estimation") or {}
    if profiled == version and ("calibration" in fallback or "loss_models" in fallback):
        return fallback, version, ""
    note = (
        f"model {version[:12]} carries no estimator and the reference profile was built for "
        f"{profiled[:12] or 'no model'}; rebuild the reference profile to get estimates"
    )
    return {}, "", note


def estimate_batch(metric: str, streamed: StreamedEstimate, estimator_version: str, note: str) -> BatchEstimate:
    """The estimate of `metric` for a batch whose scores fed `streamed`, made with the estimator `estimator_of`
    found (`estimator_version`, or `note` saying why there is none)."""
    from asset_platform.ml.estimation import holdout_estimate

    if streamed.method is None:
        return BatchEstimate(None, None, "", note)
    value = streamed.estimate(metric)
    if value is None:
        return BatchEstimate(None, None, estimator_version, f"no label-free estimate of {metric} for this batch")
    reference = holdout_estimate(streamed.estimator, metric)
    return BatchEstimate(value, reference, estimator_version, interval=streamed.interval(metric))
