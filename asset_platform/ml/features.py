"""The feature pipeline: fitted on training rows only, then applied to any rows.

Fitting learns, per numeric feature, the median that fills missing (and
infinite) values, and per categorical feature a vocabulary of its most frequent
values. Applying turns contract rows into a float32 matrix every model family
shares: numeric columns, a `<name>__missing` flag where training saw gaps, and
one integer code per categorical column (0..K-1 the vocabulary, K "other", K+1
missing). LightGBM uses the codes as native categoricals, scikit-learn one-hot
encodes them inside its pipeline and PyTorch one-hot encodes them at its input,
so nobody encodes by hand. Everything fitted is JSON, versioned like any asset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

MISSING_SUFFIX = "__missing"
# Categories beyond this many most frequent ones share the "other" code.
MAX_CATEGORIES = 50
# Training values remembered to tell "unseen" from "rare" at scoring time.
_MAX_SEEN = 1000


@dataclass
class FeaturePipeline:
    """What was learned from the training window, and the columns it produces."""

    id_column: str
    time_column: str
    label_column: str
    task: str
    medians: dict[str, float]
    missing_flags: list[str]
    vocabularies: dict[str, list[str]]
    seen: dict[str, list[str]] = field(default_factory=dict)
    cutoff: str = ""
    window_start: str = ""
    # The newest row the split saw: the holdout is [cutoff, holdout_end], however much data arrives later.
    holdout_end: str = ""
    # A bounded training sample (declaration `training.max_rows`): its size and seed, and the window's rows
    # before sampling; `training_rows` draws the same sample again from the same rows.
    sample_rows: int | None = None
    sample_seed: int = 0
    rows_available: int | None = None
    # A multiclass label's declared classes, in order: the label becomes each row's class code (its index
    # here), and a model's per-class scores are in this order. Empty for the other tasks.
    classes: list[str] = field(default_factory=list)

    @property
    def numeric(self) -> list[str]:
        return list(self.medians)

    @property
    def categorical(self) -> list[str]:
        return list(self.vocabularies)

    @property
    def feature_names(self) -> list[str]:
        return [*self.medians, *(f"{name}{MISSING_SUFFIX}" for name in self.missing_flags), *self.vocabularies]

    def category_sizes(self) -> dict[str, int]:
        """Codes per categorical column: the vocabulary, "other" and "missing"."""
        return {name: len(vocabulary) + 2 for name, vocabulary in self.vocabularies.items()}

    def transform(self, rows: pd.DataFrame, with_label: bool = True) -> pd.DataFrame:
        """Contract rows → feature columns (float32) plus the id, time and (optionally) label columns."""
        columns: dict[str, np.ndarray] = {}
        for name, median in self.medians.items():
            values = _numeric(rows, name)
            columns[name] = np.where(np.isfinite(values), values, median)
        for name in self.missing_flags:
            columns[f"{name}{MISSING_SUFFIX}"] = (~np.isfinite(_numeric(rows, name))).astype(np.float64)
        for name, vocabulary in self.vocabularies.items():
            columns[name] = _codes(rows[name], vocabulary).astype(np.float64)
        frame = pd.DataFrame(columns, index=rows.index).astype(np.float32)
        frame[self.id_column] = rows[self.id_column].to_numpy()
        frame[self.time_column] = rows[self.time_column].to_numpy()
        if with_label:
            if self.label_column not in rows.columns:
                raise ValueError(f"rows have no {self.label_column!r} label column: cannot build a training set")
            if self.classes:
                frame[self.label_column] = self.class_codes(rows[self.label_column])
            else:
                dtype = np.float64 if self.task == "regression" else np.int64
                frame[self.label_column] = rows[self.label_column].to_numpy(dtype=dtype)
        return frame.reset_index(drop=True)

    def class_codes(self, labels: pd.Series) -> np.ndarray:
        """A multiclass label's values as class codes (their index in `classes`)."""
        return class_codes(labels, self.classes, self.label_column)

    def unseen_counts(self, rows: pd.DataFrame) -> dict[str, int]:
        """Per categorical column, rows whose value never occurred in training (missing values excluded)."""
        counts = {}
        for name in self.vocabularies:
            known = self.seen.get(name) or self.vocabularies[name]
            values = rows[name]
            present = values.notna().to_numpy()
            counts[name] = int((~values.astype(str).isin(known).to_numpy() & present).sum())
        return counts

    def decode(self, name: str, codes: np.ndarray) -> np.ndarray:
        """Codes of categorical column `name` back to labels ("other" and "missing" for the last two)."""
        labels = np.array([*self.vocabularies[name], "other", "missing"], dtype=object)
        return labels[np.clip(codes.astype(np.int64), 0, len(labels) - 1)]

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        if not self.classes:
            del found["classes"]  # a binary or regression pipeline keeps the bytes it always had
        return {**found, "feature_columns": self.feature_names}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturePipeline:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


def class_codes(labels: pd.Series, classes: list[str], label_column: str) -> np.ndarray:
    """A multiclass label's values as class codes, their index in `classes`; a value that is no declared
    class (a missing one included) is refused, named."""
    codes = pd.Categorical(labels.astype(object), categories=classes).codes.astype(np.int64)
    if (codes < 0).any():
        unknown = sorted({str(value) for value in labels[codes < 0].unique()})[:5]
        raise ValueError(
            f"label {label_column!r} holds values that are not its declared classes ({', '.join(classes)}): "
            f"{', '.join(unknown)}"
        )
    return codes


def fit_pipeline(
    train: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    id_column: str,
    time_column: str,
    label_column: str,
    task: str,
    classes: list[str] | None = None,
) -> FeaturePipeline:
    """Learn medians, missing flags and vocabularies from training rows only (`classes`: a multiclass
    label's declared classes, in order)."""
    medians, flags = {}, []
    for name in numeric:
        values = _numeric(train, name)
        finite = values[np.isfinite(values)]
        medians[name] = float(np.median(finite)) if finite.size else 0.0
        if finite.size < values.size:
            flags.append(name)
    vocabularies, seen = {}, {}
    for name in categorical:
        counts = train[name].dropna().astype(str).value_counts()
        vocabularies[name] = counts.index[:MAX_CATEGORIES].tolist()
        seen[name] = counts.index[:_MAX_SEEN].tolist()
    pipeline = FeaturePipeline(id_column, time_column, label_column, task, medians, flags, vocabularies, seen)
    pipeline.classes = list(classes or [])
    return pipeline


class DeclaredColumns(Protocol):
    """What fitting a declared model's pipeline reads of its declaration (a `ModelDeclaration`)."""

    id_column: str
    label_column: str
    task: str

    @property
    def event_time_column(self) -> str: ...

    @property
    def label_classes(self) -> list[str]: ...

    def feature_columns(self) -> tuple[list[str], list[str]]: ...


def fit_declared_pipeline(declaration: DeclaredColumns, rows: pd.DataFrame) -> FeaturePipeline:
    """The feature pipeline of `declaration`'s features and columns, fitted on `rows`."""
    numeric, categorical = declaration.feature_columns()
    return fit_pipeline(
        rows,
        numeric=numeric,
        categorical=categorical,
        id_column=declaration.id_column,
        time_column=declaration.event_time_column,
        label_column=declaration.label_column,
        task=declaration.task,
        classes=declaration.label_classes,
    )


def _numeric(rows: pd.DataFrame, name: str) -> np.ndarray:
    series = rows[name]
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype(np.float64)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    index = {category: code for code, category in enumerate(vocabulary)}
    other, missing = len(vocabulary), len(vocabulary) + 1
    text = values.astype(str).to_numpy()
    codes = np.fromiter((index.get(value, other) for value in text), dtype=np.int64, count=len(text))
    codes[values.isna().to_numpy()] = missing
    return codes


# However rare the positives, the holdout never takes more than this share of the rows from training.
MAX_HOLDOUT_FRACTION = 0.5


def time_split(
    rows: pd.DataFrame,
    time_column: str,
    holdout_fraction: float,
    label_column: str | None = None,
    min_positives: int = 0,
    max_holdout_rows: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Split at a time cutoff: everything before trains, everything from it on is holdout.

    With `label_column` and `min_positives` (a classifier's), a holdout that would hold fewer positives
    reaches back in time until it holds them, up to `MAX_HOLDOUT_FRACTION` of the rows: it stays the
    newest rows, so nothing trained on is newer than what it is judged on. With `max_holdout_rows` the
    cutoff moves later until the holdout holds at most that many rows (all rows at the cut's instant stay,
    and never past where the positives it needs begin): still the newest rows, a full time slice.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    times = rows[time_column]
    cutoff = times.quantile(1 - holdout_fraction)
    needed = None
    if label_column is not None and min_positives > 0:
        positive_times = rows.loc[rows[label_column] == 1, time_column]
        # The newest `min_positives` positives start at the min_positives-th newest positive's time.
        needed = positive_times.nlargest(min_positives).min() if len(positive_times) else None
        if int((positive_times >= cutoff).sum()) < min_positives:
            earliest = times.quantile(1 - max(holdout_fraction, MAX_HOLDOUT_FRACTION))
            cutoff = max(min(cutoff, needed if needed is not None else cutoff), earliest)
    if max_holdout_rows is not None and int((times >= cutoff).sum()) > max_holdout_rows:
        capped = times.nlargest(max_holdout_rows).min()
        cutoff = max(cutoff, capped if needed is None else min(capped, needed))
    before = times < cutoff
    return rows[before], rows[~before], cutoff


def sample_by_time(
    rows: pd.DataFrame,
    time_column: str,
    id_column: str,
    max_rows: int | None,
    seed: int = 0,
    class_column: str | None = None,
) -> pd.DataFrame:
    """At most `max_rows` of `rows`: each calendar day (and each class of `class_column`) keeps its share.

    Within a stratum the rows with the smallest seeded hash of their id are kept, so the same rows give the
    same sample whatever their order (a reference profile or a reproduction draws it again from the dataset
    version). Quotas are proportional, rounded by largest remainder so they add up to `max_rows` exactly.
    """
    if max_rows is None or len(rows) <= max_rows:
        return rows
    keys = [rows[time_column].dt.floor("D")]
    if class_column is not None:
        keys.append(rows[class_column])
    stratum = pd.Series(rows.groupby(keys, sort=True, dropna=False).ngroup().to_numpy(), index=rows.index)
    sizes = np.bincount(stratum.to_numpy())
    exact = sizes * (max_rows / len(rows))
    quota = np.floor(exact).astype(np.int64)
    # Largest remainders first; equal remainders in stratum order (older days first).
    order = np.lexsort((np.arange(len(sizes)), -(exact - quota)))
    quota[order[: max_rows - int(quota.sum())]] += 1
    hashed = pd.util.hash_pandas_object(rows[id_column].astype(str), index=False, hash_key=f"{seed:016d}"[-16:])
    rank = pd.Series(hashed.to_numpy(), index=rows.index).groupby(stratum).rank(method="first") - 1
    return rows[rank.to_numpy() < quota[stratum.to_numpy()]]


def training_rows(rows: pd.DataFrame, pipeline: FeaturePipeline) -> pd.DataFrame:
    """The rows a pipeline (and the models trained with it) learned from: its window, before the cutoff."""
    times = rows[pipeline.time_column]
    start = pd.Timestamp(pipeline.window_start) if pipeline.window_start else times.min()
    window = rows[(times >= start) & (times < pd.Timestamp(pipeline.cutoff))]
    classes = pipeline.label_column if pipeline.task != "regression" else None
    return sample_by_time(
        window, pipeline.time_column, pipeline.id_column, pipeline.sample_rows, pipeline.sample_seed, classes
    )


def holdout_rows(rows: pd.DataFrame, pipeline: FeaturePipeline) -> pd.DataFrame:
    """The rows held out from the pipeline's training: from the cutoff to the newest row the split saw."""
    times = rows[pipeline.time_column]
    held_out = times >= pd.Timestamp(pipeline.cutoff)
    if pipeline.holdout_end:
        held_out &= times <= pd.Timestamp(pipeline.holdout_end)
    return rows[held_out]
