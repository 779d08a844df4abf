"""What one production batch showed, as one typed object with one verdict.

A batch is judged on several kinds of evidence that arrive at different times:
its features' drift and data quality (the drift step, `policy.assess_batch`),
the champion's label-free estimate of its metric (the predictions step), and,
once labels land, the realized metric's degradation and the labels' own shift
(the performance step). `BatchEvidence` holds all of them; `verdict()` is the
batch's status that the drift asset's check, the retrain sensor, `should_retrain`
and the demo loop all read, so no consumer re-derives it from dict keys.

The metadata key names are the ones the UI has always shown (and that existing
event logs hold); `from_metadata` and `from_record` read what older runs and
older sensor cursors recorded too: a key that is missing means "not measured".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import dagster as dg

Status = Literal["pass", "warn", "error"]

# Metadata keys of the drift asset's materialization (shown in the UI; kept as they were).
STATUS = "status"  # the verdict, as text
ASSESSMENT = "assessment"  # the evidence as a JSON record (`to_record`)
# Metadata keys of the performance asset's materialization (written there as f"performance/{name}").
METRIC = "metric"
PERFORMANCE_PREFIX = "performance/"
DEGRADATION = "performance/degradation"
LABEL_SHIFT = "performance/label_shift_effect"

# Names that stand for a signal other than a feature in `drifted`: the lists the UI shows mix them in.
ESTIMATE_SIGNAL = "estimated_performance"
PERFORMANCE_SIGNAL = "performance"
LABEL_SHIFT_SIGNAL = "label_shift"
SIGNALS = (ESTIMATE_SIGNAL, PERFORMANCE_SIGNAL, LABEL_SHIFT_SIGNAL)

# The record keys without which a history entry cannot be judged at all.
_REQUIRED = ("batch_key", "n_rows", "drift_detected")


@dataclass(frozen=True)
class BatchEvidence:
    """Everything one batch showed; `None` for a measure means it was not measured (yet).

    `feature_status` and `feature_drift` are the drift policy's judgment of the
    features alone; the estimate, the realized degradation and the label shift each
    count as drift when their value exceeds their limit (a `None` limit: not used).
    Nothing counts as drift on a batch that was not `judged` (too small, empty, or its
    drift assessment has not arrived), so labels alone never confirm drift on a batch
    that was never checked for data quality.
    """

    batch_key: str
    n_rows: int = 0
    judged: bool = False
    feature_status: Status = "warn"
    feature_drift: bool = False
    drift_share: float = 0.0
    drifted_features: tuple[str, ...] = ()
    quality_issues: tuple[str, ...] = ()
    max_psi: float | None = None
    estimated_metric: float | None = None
    # Where the realized metric should fall (95 %) if the estimator is right (ml/estimation.py).
    estimate_low: float | None = None
    estimate_high: float | None = None
    estimate_reference: float | None = None
    estimated_drop: float | None = None
    max_estimated_drop: float | None = None
    realized_metric: float | None = None
    degradation: float | None = None
    max_drop: float | None = None
    label_shift: float | None = None
    max_label_shift: float | None = None
    reference_version: str = ""
    reference_champion_version: str = ""
    batch_start: str | None = None

    def signals(self) -> tuple[str, ...]:
        """The non-feature evidence that exceeds its limit on a judged batch."""
        if not self.judged:
            return ()
        found = (
            (ESTIMATE_SIGNAL, self.estimated_drop, self.max_estimated_drop),
            (PERFORMANCE_SIGNAL, self.degradation, self.max_drop),
            (LABEL_SHIFT_SIGNAL, self.label_shift, self.max_label_shift),
        )
        return tuple(name for name, value, limit in found if _exceeds(value, limit))

    @property
    def drift_detected(self) -> bool:
        return self.judged and (self.feature_drift or bool(self.signals()))

    @property
    def drifted(self) -> tuple[str, ...]:
        """Drifted features and exceeded signals, sorted where a signal is among them (as the UI lists them)."""
        signals = self.signals()
        return tuple(sorted({*self.drifted_features, *signals})) if signals else self.drifted_features

    def verdict(self) -> Status:
        """error: a data-quality problem, or drift of any kind; otherwise the features' own status."""
        if self.quality_issues or self.drift_detected:
            return "error"
        return self.feature_status

    def with_drift(self, assessed: BatchEvidence, reference_version: str) -> BatchEvidence:
        """This batch with a (new) drift assessment, keeping the label evidence that arrived before it."""
        return replace(
            assessed,
            reference_version=reference_version,
            realized_metric=self.realized_metric,
            degradation=self.degradation,
            max_drop=self.max_drop,
            label_shift=self.label_shift,
            max_label_shift=self.max_label_shift,
        )

    def with_labels(
        self,
        degradation: float,
        max_drop: float,
        label_shift: float | None = None,
        max_label_shift: float | None = None,
        realized_metric: float | None = None,
    ) -> BatchEvidence:
        """This batch with what its labels showed, and the limits they are judged against."""
        return replace(
            self,
            degradation=degradation,
            max_drop=max_drop,
            label_shift=label_shift,
            max_label_shift=max_label_shift,
            realized_metric=realized_metric if realized_metric is not None else self.realized_metric,
        )

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form, for the drift asset's metadata and the retrain sensor's cursor.

        The keys older runs wrote keep their meaning (`status` the verdict, `drift_detected`
        any drift, `drifted_features` with the signals mixed in); `feature_drift` holds the
        features' own judgment apart. Measures not taken are left out.
        """
        record: dict[str, Any] = {
            "batch_key": self.batch_key,
            "status": self.verdict(),
            "n_rows": self.n_rows,
            "judged": self.judged,
            "drift_share": round(self.drift_share, 4),
            "drift_detected": self.drift_detected,
            "drifted_features": list(self.drifted),
            "quality_issues": list(self.quality_issues),
            "feature_drift": {
                "status": self.feature_status,
                "detected": self.feature_drift,
                "features": list(self.drifted_features),
            },
        }
        optional = {
            "max_psi": self.max_psi,
            "estimated_metric": self.estimated_metric,
            "estimate_low": self.estimate_low,
            "estimate_high": self.estimate_high,
            "estimate_reference": self.estimate_reference,
            "estimated_drop": self.estimated_drop,
            "max_estimated_drop": self.max_estimated_drop,
            "realized_metric": self.realized_metric,
            "degradation": self.degradation,
            "max_drop": self.max_drop,
            "label_shift": self.label_shift,
            "max_label_shift": self.max_label_shift,
            "reference_version": self.reference_version or None,
            "reference_champion_version": self.reference_champion_version or None,
            "batch_start": self.batch_start,
        }
        record.update({name: value for name, value in optional.items() if value is not None})
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BatchEvidence:
        """Read `to_record()` back, or a record an older run or sensor cursor wrote."""
        missing = [name for name in _REQUIRED if name not in record]
        if missing:
            raise ValueError(
                f"history record {dict(record)!r} lacks {missing}; store BatchEvidence.to_record() "
                "(or BatchAssessment.to_record())"
            )
        features = record.get("feature_drift")
        if isinstance(features, Mapping):
            status, detected, drifted = features["status"], features["detected"], features["features"]
        else:
            # Older records folded every signal into `drift_detected`, `status` and `drifted_features`;
            # kept folded there, so the verdict they recorded stands.
            listed = record.get("drifted_features", ())
            status = record.get("status", "warn")
            detected, drifted = bool(record["drift_detected"]), [name for name in listed if name not in SIGNALS]
        return cls(
            batch_key=str(record["batch_key"]),
            n_rows=int(record["n_rows"]),
            judged=bool(record.get("judged", True)),
            feature_status=status,
            feature_drift=bool(detected),
            drift_share=float(record.get("drift_share", 0.0)),
            drifted_features=tuple(drifted),
            quality_issues=tuple(record.get("quality_issues", ())),
            max_psi=_float(record.get("max_psi")),
            estimated_metric=_float(record.get("estimated_metric")),
            estimate_low=_float(record.get("estimate_low")),
            estimate_high=_float(record.get("estimate_high")),
            estimate_reference=_float(record.get("estimate_reference")),
            estimated_drop=_float(record.get("estimated_drop")),
            max_estimated_drop=_float(record.get("max_estimated_drop")),
            realized_metric=_float(record.get("realized_metric")),
            degradation=_float(record.get("degradation")),
            max_drop=_float(record.get("max_drop")),
            label_shift=_float(record.get("label_shift")),
            max_label_shift=_float(record.get("max_label_shift")),
            reference_version=str(record.get("reference_version") or ""),
            reference_champion_version=str(record.get("reference_champion_version") or ""),
            batch_start=record.get("batch_start"),
        )

    def to_metadata(self) -> dict[str, Any]:
        """The drift asset's metadata entries for this evidence: the verdict and the record."""
        return {STATUS: self.verdict(), ASSESSMENT: dg.MetadataValue.json(self.to_record())}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], batch_key: str = "") -> BatchEvidence:
        """What a drift or a performance materialization recorded (Dagster metadata values or plain ones).

        A drift materialization carries the record; a performance one the realized metric, its
        degradation and the label shift, read without limits (the sensor adds the declaration's).
        """
        values = {
            name: value.value if isinstance(value, dg.MetadataValue) else value for name, value in metadata.items()
        }
        record = values.get(ASSESSMENT)
        evidence = cls.from_record(record) if isinstance(record, Mapping) else cls(batch_key=batch_key)
        metric = values.get(METRIC)
        realized = _float(values.get(f"{PERFORMANCE_PREFIX}{metric}")) if metric else None
        if realized is None and DEGRADATION not in values:
            return evidence
        return replace(
            evidence,
            realized_metric=realized if realized is not None else evidence.realized_metric,
            degradation=_float(values.get(DEGRADATION)),
            label_shift=_float(values.get(LABEL_SHIFT)),
        )


def as_evidence(item: Any) -> BatchEvidence:
    """A history entry as evidence: evidence itself, a `BatchAssessment`, or a record dict."""
    if isinstance(item, BatchEvidence):
        return item
    if isinstance(item, Mapping):
        return BatchEvidence.from_record(item)
    from asset_platform.drift.policy import BatchAssessment  # policy imports this module

    if isinstance(item, BatchAssessment):
        return item.evidence()
    raise TypeError(f"not batch evidence: {item!r}")


def _exceeds(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, dg.MetadataValue) else value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
