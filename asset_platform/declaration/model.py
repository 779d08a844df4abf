"""The declaration of one governed model, checked when the code location loads.

Everything is plain data, so a declaration reads the same in Python and in YAML
and is recorded as it was with every model it trains. Objects a Python user may
pass (a pandera `DataFrameModel`, an estimator class, a trainer function) are
stored as their import path and imported where they are used, never at load:
the code location must load fast with many declarations.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import dagster as dg
from pydantic import Field, ValidationError, field_validator, model_validator

from asset_platform.declaration.base import Spec as _Spec
from asset_platform.declaration.errors import DeclarationError
from asset_platform.declaration.explain import explain
from asset_platform.declaration.fairness import ExplanationSpec, FairnessSpec
from asset_platform.declaration.schema import ClosedSets
from asset_platform.declaration.tuning import TuningSpec
from asset_platform.ml.families.registry import FAMILY_NAMES

Task = Literal["binary_classification", "multiclass", "regression"]
# Every metric a model may be judged by; which of them fit the task is checked with the declaration.
# log_loss serves both classification tasks (the multiclass one is the mean -log of the true class's probability).
Metric = Literal[
    "auc", "average_precision", "precision_at_recall", "log_loss", "brier", "macro_auc", "accuracy", "macro_f1",
    "rmse", "mae",
]  # fmt: skip
DType = Literal["float", "int", "str", "bool", "datetime", "date", "year", "month"]
# Dtypes that say when a row happened: an instant, a calendar day, or a period (a year as an int such as
# 2024, a year-month as a string such as "2024-03"). Each is read as the UTC instant it starts at.
TIME_DTYPES = ("datetime", "date", "year", "month")
# The time column of a declaration without one: every row of a landed file is timed by the file's landing.
LANDED_AT = "_landed_at"
# The columns `serve-model` adds to each request's rows it captures as a production batch (what it answered,
# which version, how fast: asset_platform/serving/capture.py). Bookkeeping, not contract data: a strict contract
# lets them pass (contract.py), and no declaration may name a column so. A multiclass model's answer is its
# predicted class (`_served_class`) with that class's probability as the score.
SERVED_COLUMNS = (
    "_served_score",
    "_served_version",
    "_served_latency_ms",
    "_served_at",
    "_served_request",
    "_served_class",
)

# The metric each task is judged by, and which of them the gate and monitoring understand.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary_classification": ("auc", "average_precision", "precision_at_recall", "log_loss", "brier"),
    # macro_auc: the one-vs-rest AUC of each class, averaged with equal weight (a rare class counts as much as
    # a common one); macro_f1 likewise of each class's F1 at the predicted (most probable) class.
    "multiclass": ("macro_auc", "log_loss", "accuracy", "macro_f1"),
    "regression": ("rmse", "mae"),
}
DEFAULT_METRIC = {"binary_classification": "auc", "multiclass": "macro_auc", "regression": "rmse"}
# A multiclass label has at least this many classes: two are a binary label, declared as one (int 0/1 or bool).
MIN_CLASSES = 3
# The registered model families (ml/families/registry.py), a closed set the YAML schema lists: a family
# registered there is declarable here without editing this file.
MODEL_FAMILIES = FAMILY_NAMES
FamilyName = Literal[MODEL_FAMILIES]  # type: ignore[valid-type]  # a Literal built from the registry's names
# A declaration's name is the asset key prefix and starts job and sensor names,
# which Dagster allows to hold only letters, digits and underscores.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*[.:][A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ColumnSpec(_Spec):
    """One column of the data contract."""

    name: str = Field(description="Column name as it appears in the landed files.")
    dtype: DType = Field(
        description="float, int, str, bool, datetime (timezone-aware UTC), date (a calendar day), year (an int "
        "such as 2024) or month (a string such as '2024-03')."
    )
    nullable: bool = Field(default=False, description="May the column hold missing values?")
    min: float | None = Field(default=None, description="Smallest valid value (inclusive).")
    max: float | None = Field(default=None, description="Largest valid value (inclusive).")
    categories: list[str] | None = Field(
        default=None, description="The only valid values (a closed list). Leave empty for open categories."
    )
    unique: bool = Field(default=False, description="Values must be unique (the id column always is).")
    sensitive: bool = Field(
        default=False,
        description="Personal or confidential (PII): no raw value appears in metadata, previews, drift reports, "
        "notifications or logs.",
    )


class LandingSpec(_Spec):
    """Where the model's files land: history for training, production batches, their delayed labels."""

    folder: str | None = Field(
        default=None, description="Landing folder (absolute, or relative to the landing root); default: <name>/."
    )
    history: str = Field(default="history", description="Subfolder of labeled history files.")
    production: str = Field(default="production", description="Subfolder where production batches arrive.")
    labels: str = Field(
        default="labels", description="Subfolder of delayed label files, named like the batch they label."
    )
    pattern: str = Field(default="*.parquet", description="Glob of data files in each subfolder.")
    settle_seconds: float = Field(
        default=5,
        ge=0,
        description="A file is taken only once unchanged for this long (for writers that write in place; a "
        "Parquet file ending with its footer is taken at once), and never while its size or modification time "
        "changed since the previous scan. 0: files are complete when they appear (written under a name starting "
        "with '.' and renamed).",
    )
    orphan_labels_hours: float = Field(
        default=24,
        gt=0,
        description="A labels file whose batch never landed (no file in production/, no partition) is moved to "
        "quarantine, named, once it is this old; until then it waits for its batch.",
    )
    history_asset: list[str] | None = Field(
        default=None, description="Train on this upstream asset (a key path) instead of history files."
    )


class ModelFamilySpec(_Spec):
    """One model family to train and compare; the best on the holdout is the challenger."""

    family: FamilyName = Field(description=f"The model family: one of {', '.join(MODEL_FAMILIES)}.")
    name: str | None = Field(default=None, description="Asset name; default <family>_model.")
    params: dict[str, Any] = Field(default_factory=dict, description="Hyperparameters (the family's config).")
    estimator: str | None = Field(
        default=None,
        description="sklearn: the estimator class's import path, e.g. sklearn.ensemble.HistGradientBoostingClassifier.",
    )
    trainer: str | None = Field(
        default=None, description="custom: import path of a trainer function (module:function)."
    )
    trusted_types: list[str] = Field(
        default_factory=list, description="custom: types the stored estimator may contain (skops load)."
    )
    tuning: TuningSpec | None = Field(
        default=None, description="Hyperparameter search (Optuna); absent: train with `params` as given."
    )

    @field_validator("estimator", "trainer", mode="before")
    @classmethod
    def _object_to_path(cls, value: Any) -> Any:
        return import_path_of(value)

    @property
    def asset_name(self) -> str:
        return self.name or f"{self.family}_model"


class GateSpec(_Spec):
    """How a challenger must beat the champion: a paired bootstrap interval on the same holdout."""

    metric: Metric | None = Field(default=None, description="Metric the gate compares; default the model's metric.")
    margin: float = Field(default=0.0, ge=0, description="Improvement the interval's lower bound must exceed.")
    resamples: int = Field(default=300, ge=50, le=20_000, description="Paired bootstrap resamples.")
    # With rare positives a holdout may hold a handful of them; an interval resampled from a handful is
    # noise, so below these counts the gate records "insufficient" instead of promoting or rejecting.
    min_positives: int = Field(
        default=20,
        ge=1,
        description="Classifiers: the gate decides only on a holdout with at least this many positive labels "
        "(multiclass: rows of every class; else it records 'insufficient' and keeps the champion); the time "
        "split widens a binary holdout back in time to reach it where it can.",
    )
    min_negatives: int = Field(
        default=20, ge=1, description="Classifiers: likewise, the negative labels the holdout must hold."
    )


class FollowUpSpec(_Spec):
    """Retraining again after a drift-triggered retrain, while the model has not recovered.

    A first retrain learns from the first two or three drifted batches. While the realized metric of the
    batches labeled since then stays below its pre-drift level (by more than the pre-drift batches' own
    spread, at most the declared drop alarm), the loop retrains again on the whole post-drift window, which
    has grown meanwhile, each time through the gate. It stops when the metric is back in band on the mean
    of at least six labeled batches (on fewer, the loop keeps watching), when a follow-up's challenger is
    rejected by the gate (the window stopped improving), or after `max_follow_ups`. Stable data never
    starts one.
    """

    max_follow_ups: int = Field(default=2, ge=0, description="Retrains after the drift-triggered one (0: none).")
    min_new_rows: int = Field(
        default=2000, ge=1, description="Rows of batches labeled since the last retrain needed before another."
    )
    cooldown_batches: int = Field(
        default=2, ge=1, description="Labeled batches since the last retrain before another (their mean is judged)."
    )


class RetrainingSpec(_Spec):
    """What training learns from."""

    holdout_fraction: float = Field(default=0.2, gt=0, lt=1, description="Newest share held out (baseline).")
    window_days: float | None = Field(
        default=4.0, gt=0, description="Retraining learns from the newest N days of labeled data (None: all)."
    )
    retrain_holdout_fraction: float = Field(default=0.25, gt=0, lt=1, description="Holdout share when retraining.")
    from_evidence: bool = Field(
        default=True,
        description="A drift-triggered retrain learns only from the first drifted batch on, when that holds "
        "at least `min_rows` labeled rows (else it falls back to `window_days`).",
    )
    min_rows: int = Field(default=2000, ge=100, description="Rows needed to learn from the evidence alone.")
    retune: bool = Field(
        default=False,
        description="A drift-triggered retrain re-tunes hyperparameters (default: reuse the last best params; "
        "a manual or scheduled training run re-tunes).",
    )
    follow_up: FollowUpSpec = Field(
        default_factory=FollowUpSpec, description="Retrains after a drift-triggered one, until the model recovers."
    )


class TrainingSpec(_Spec):
    """How much of the learning window a training run reads: all of it, or a bounded sample."""

    max_rows: int | None = Field(
        default=None,
        ge=100,
        description="Train on at most this many rows of the window: a sample that keeps each day's (and, for a "
        "classifier, each class's) share, chosen by a seeded hash of the id, so the same rows always give the same "
        "sample. None: every row. Models record rows used of rows available.",
    )
    max_holdout_rows: int | None = Field(
        default=None,
        ge=100,
        description="The holdout the gate judges on stays a full time slice: at most its newest N rows (rows at "
        "the cut's instant all stay), never fewer than the gate's min_positives need. None: the whole slice.",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the training sample's hash.")


class FreshnessSpec(_Spec):
    """How often production data and labels are expected; a late one fails a check and is notified once."""

    data_hours: float | None = Field(
        default=None,
        gt=0,
        description="A production batch is expected at least every N hours: longer since the last batch landed "
        "fails the `data_fresh` check on <name>/batches (and its Dagster freshness policy), notified once. "
        "None: not checked.",
    )
    labels_hours: float | None = Field(
        default=None,
        gt=0,
        description="The labels of a scored batch are expected within N hours of its scoring: a batch scored "
        "longer ago whose labels have not landed fails the `labels_fresh` check on <name>/predictions, named, "
        "notified once. None: not checked.",
    )

    @property
    def declared(self) -> bool:
        return self.data_hours is not None or self.labels_hours is not None


class MonitoringSpec(_Spec):
    """How production is watched: drift policy overrides and the realized-metric alarm."""

    drift: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the drift policy (DriftPolicy fields)."
    )
    max_metric_drop: float | None = Field(
        default=None,
        ge=0,
        description="Realized metric this much worse than the champion's holdout metric marks a batch drifted: "
        "absolute for AUC, average_precision and precision_at_recall (default 0.05), relative for error metrics "
        "(default 0.15 = 15 % worse).",
    )
    max_label_shift: float | None = Field(
        default=0.2,
        ge=0,
        description="Labels that moved this much from the champion's training data (prior shift) mark a batch "
        "drifted once they land: Cohen's h between the positive rates (classification) or the mean's shift in "
        "the training labels' standard deviations (regression). 0.2 is Cohen's 'small effect'; None: off.",
    )
    use_estimated_performance: bool = Field(
        default=False,
        description="Classification: a label-free estimate of the metric (from calibrated scores) this much worse "
        "than on the holdout marks a batch drifted before its labels arrive.",
    )
    freshness: FreshnessSpec = Field(
        default_factory=FreshnessSpec,
        description="Freshness of the production data and of the labels (unset: not checked).",
    )


class ShadowSpec(_Spec):
    """A shadow period in production before a challenger that passed the gate takes over (off by default)."""

    enabled: bool = Field(
        default=False,
        description="A challenger that passes the offline gate becomes the shadow challenger, scores every "
        "production batch beside the champion, and is promoted or retired on the labeled batches' evidence.",
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        description="Per-row loss by which the challenger may be worse and still count as no worse (below 1; "
        "below 2 for a multiclass model, whose Brier score sums over the classes).",
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="Error level of the anytime-valid interval.")
    max_batches: int = Field(default=30, ge=1, description="Retire the challenger as inconclusive after this many.")
    loss_scale: float = Field(
        default=1.0,
        gt=0,
        description="Regression: squared errors are divided by loss_scale**2 and clipped at 1 (Brier is used for "
        "classification, already in [0, 1]; a multiclass model's, summed over the classes, in [0, 2]).",
    )


class ServingSpec(_Spec):
    """Online serving (`asset-platform serve-model`): a canary release of the challenger in shadow (off by default)."""

    canary_fraction: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="The share of requests the challenger in shadow answers (a gray release), assigned by a hash "
        "of each request's id so an id always meets the same version; 0: the champion answers every request.",
    )
    max_error_rate_increase: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="The canary is withdrawn when its share of failed requests exceeds the champion's by more "
        "than this (0.01: one point); a request it fails is answered by the champion.",
    )
    max_p99_ratio: float = Field(
        default=1.5,
        ge=1,
        description="The canary is withdrawn when its p99 request latency exceeds this multiple of the champion's.",
    )
    min_requests: int = Field(
        default=200,
        ge=1,
        description="Requests each version must have answered before the canary is judged.",
    )


class ModelDeclaration(ClosedSets, dg.Model, dg.Resolvable):
    """A governed model: its data, contract, task, model families, gate and monitoring, declared once.

    Plain data: `asset_platform.lifecycle.build_lifecycle` turns it into definitions. In a dg project's
    defs folder the same fields are the component `asset_platform.project.ModelDeclaration`, which builds
    its own lifecycle (a component must, and only the composing package may import the builder).
    """

    name: str = Field(description="Lowercase identifier: the asset key prefix and the start of job names.")
    description: str = ""
    owners: list[str] = Field(default_factory=list, description="Dagster owners (team:..., or e-mail addresses).")
    task: Task = Field(
        description="binary_classification (an int 0/1 or bool label), multiclass (a str label whose contract "
        "column lists its classes, at least 3, as `categories`) or regression (a numeric label)."
    )
    metric: Metric | None = Field(
        default=None,
        description="auc, average_precision, precision_at_recall, log_loss, brier (binary classification); "
        "macro_auc, log_loss, accuracy, macro_f1 (multiclass); rmse, mae (regression).",
    )
    metric_recall: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="precision_at_recall only: the recall the precision is read at (0.8: the best precision "
        "of any threshold that finds 80 % of the positives).",
    )
    id_column: str
    label_column: str
    time_column: str | None = Field(
        default=None,
        description="When each row happened: a datetime, date, year or month column. Absent: every row is timed "
        "by its file's landing (modification) time.",
    )
    columns: list[ColumnSpec] | None = Field(default=None, description="The data contract as a column list.")
    schema_class: str | None = Field(
        default=None, description="Or: import path of a pandera DataFrameModel (module:Class)."
    )
    features: list[str] | None = Field(
        default=None, description="Feature columns; default every contract column but id, label and time."
    )
    landing: LandingSpec = Field(default_factory=LandingSpec)
    models: list[ModelFamilySpec] = Field(min_length=1)
    gate: GateSpec = Field(default_factory=GateSpec)
    retraining: RetrainingSpec = Field(default_factory=RetrainingSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    shadow: ShadowSpec = Field(default_factory=ShadowSpec)
    serving: ServingSpec = Field(
        default_factory=ServingSpec, description="Online serving: the canary release (serve-model)."
    )
    fairness: FairnessSpec = Field(default_factory=FairnessSpec)
    explanations: ExplanationSpec = Field(default_factory=ExplanationSpec)
    segments: list[str] = Field(default_factory=list, description="Categorical columns evaluation reports by.")
    max_future_skew_hours: float = Field(
        default=24.0, ge=0, description="Rows timed further than this past the wall clock are invalid."
    )
    max_past_skew_days: float | None = Field(
        default=365.0,
        gt=0,
        description="A production batch with rows timed (a period: ended) further than this before the newest "
        "data the champion learned from (the end of its training window; not the wall clock, so data on fixed "
        "dates never ages into quarantine) is quarantined when it arrives. No bound before a first champion, "
        "nor with None. History and re-read labeled batches are not bounded.",
    )

    @field_validator("schema_class", mode="before")
    @classmethod
    def _schema_to_path(cls, value: Any) -> Any:
        return import_path_of(value)

    @model_validator(mode="before")
    @classmethod
    def _multiclass_explanations_on_request(cls, data: Any) -> Any:
        # A multiclass model's attributions explain every class's margin (ml/explain.py): K times the figures
        # of one margin, and a network's integrated gradients K backward passes. So they are asked for
        # (`explanations.enabled: true`) rather than made for every multiclass model by default.
        if not isinstance(data, dict) or data.get("task") != "multiclass":
            return data
        explanations = data.get("explanations")
        if explanations is None:
            return {**data, "explanations": {"enabled": False}}
        if isinstance(explanations, dict) and "enabled" not in explanations:
            return {**data, "explanations": {**explanations, "enabled": False}}
        if isinstance(explanations, ExplanationSpec) and "enabled" not in explanations.model_fields_set:
            return {**data, "explanations": explanations.model_copy(update={"enabled": False})}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _errors_name_the_declaration(cls, data: Any, handler: Any) -> Any:
        # pydantic reports a field path but not which declaration it belongs to; with
        # many declarations in one code location the name is what a user needs first.
        try:
            return handler(data)
        except ValidationError as error:
            name = data.get("name", "?") if isinstance(data, dict) else getattr(data, "name", "?")
            first = error.errors()[0]
            if isinstance(first.get("ctx", {}).get("error"), DeclarationError):
                raise first["ctx"]["error"] from None
            field, detail = explain(error, cls)
            raise DeclarationError(str(name), field, detail) from None

    @model_validator(mode="after")
    def _consistent(self) -> ModelDeclaration:
        from asset_platform.declaration.checks import check_declaration

        check_declaration(self)
        return self

    # -- derived facts, used by the builder ------------------------------------------

    @property
    def metric_name(self) -> str:
        return self.metric or DEFAULT_METRIC[self.task]

    @property
    def gate_metric(self) -> str:
        return self.gate.metric or self.metric_name

    @property
    def metric_drop_alarm(self) -> float:
        """The declared `monitoring.max_metric_drop`, or its default: 0.05 below for AUC and the other
        higher-is-better metrics (their drop is absolute), 15 % worse for error metrics."""
        from asset_platform.ml.metrics import METRIC_DIRECTION

        if self.monitoring.max_metric_drop is not None:
            return self.monitoring.max_metric_drop
        return 0.05 if METRIC_DIRECTION[self.metric_name] > 0 else 0.15

    @property
    def label_classes(self) -> list[str]:
        """A multiclass label's classes, in their declared order (the order of its per-class scores); [] for
        the other tasks."""
        if self.task != "multiclass":
            return []
        label = next(column for column in self.contract_columns() if column.name == self.label_column)
        return list(label.categories or [])

    @property
    def event_time_column(self) -> str:
        """The column rows are timed by: the declared time column, or the landing time stamped on each file's rows."""
        return self.time_column or LANDED_AT

    def contract_columns(self) -> list[ColumnSpec]:
        """The contract as column specs, read from the pandera class where one is named."""
        if self.columns is not None:
            return list(self.columns)
        from asset_platform.declaration.contract import columns_from_pandera

        return columns_from_pandera(self.name, self.schema_class or "")

    def feature_columns(self) -> tuple[list[str], list[str]]:
        """(numeric, categorical) feature names, in contract order."""
        specs = {column.name: column for column in self.contract_columns()}
        chosen = self.features or [
            name for name in specs if name not in (self.id_column, self.label_column, self.time_column)
        ]
        numeric = [name for name in chosen if specs[name].dtype in ("float", "int")]
        categorical = [name for name in chosen if specs[name].dtype in ("str", "bool")]
        return numeric, categorical


def import_path_of(value: Any) -> Any:
    """A class or function as `module.QualName`; strings pass through (checked later)."""
    if value is None or isinstance(value, str):
        return value
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(f"{value!r} has no import path: define it at the top level of a module")
    return f"{module}:{qualname}"


def valid_import_path(value: str) -> bool:
    return bool(_IMPORT_PATH.match(value))


def valid_name(value: str) -> bool:
    return bool(_NAME.match(value))
