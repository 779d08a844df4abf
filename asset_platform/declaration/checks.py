"""Cross-field checks of a declaration: what pydantic's field types cannot see."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asset_platform.declaration.errors import DeclarationError
from asset_platform.declaration.fairness import check_fairness
from asset_platform.declaration.tuning import check_tuning

if TYPE_CHECKING:
    from asset_platform.declaration.model import ColumnSpec, ModelDeclaration


def check_declaration(declaration: ModelDeclaration) -> None:
    """Raise `DeclarationError` for the first inconsistency, naming the field."""
    from asset_platform.declaration.model import MODEL_FAMILIES, TASK_METRICS, valid_import_path, valid_name
    from asset_platform.ml.families.registry import family as registered_family

    name = declaration.name
    if not valid_name(name):
        raise DeclarationError(
            name, "name", "use 1-40 lowercase letters, digits and underscores, starting with a letter"
        )
    if (declaration.columns is None) == (declaration.schema_class is None):
        raise DeclarationError(name, "columns", "give the data contract once: either `columns` or `schema_class`")
    if declaration.schema_class is not None and not valid_import_path(declaration.schema_class):
        raise DeclarationError(name, "schema_class", f"{declaration.schema_class!r} is not an import path")
    allowed = TASK_METRICS[declaration.task]
    for field, metric in (("metric", declaration.metric), ("gate.metric", declaration.gate.metric)):
        if metric is not None and metric not in allowed:
            raise DeclarationError(
                name, field, f"{metric!r} is not a {declaration.task} metric; use one of {', '.join(allowed)}"
            )
    _check_metric_recall(declaration)
    _check_columns(declaration, declaration.contract_columns())
    seen: set[str] = set()
    for index, family in enumerate(declaration.models):
        where = f"models.{index}"
        if family.family not in MODEL_FAMILIES:  # pragma: no cover - the Literal type refuses it first
            raise DeclarationError(name, f"{where}.family", f"unknown model family {family.family!r}")
        if family.asset_name in seen:
            raise DeclarationError(name, f"{where}.name", f"two models are named {family.asset_name!r}")
        if not valid_name(family.asset_name):
            raise DeclarationError(name, f"{where}.name", f"{family.asset_name!r} is not a valid asset name")
        seen.add(family.asset_name)
        for field, problem in registered_family(family.family).declaration_problems(family):
            raise DeclarationError(name, f"{where}.{field}", problem)
        for field in ("estimator", "trainer"):
            value = getattr(family, field)
            if value is not None and not valid_import_path(value):
                raise DeclarationError(name, f"{where}.{field}", f"{value!r} is not an import path (module.Name)")
    _check_drift_overrides(declaration)
    _check_multiclass_parts(declaration)
    _check_shadow_margin(declaration)
    check_tuning(declaration)
    check_fairness(declaration)


def _check_metric_recall(declaration: ModelDeclaration) -> None:
    """`metric_recall` goes with `precision_at_recall`, and only with it."""
    name = declaration.name
    uses = [
        f
        for f, m in (("metric", declaration.metric), ("gate.metric", declaration.gate.metric))
        if m == "precision_at_recall"
    ]
    if uses and declaration.metric_recall is None:
        raise DeclarationError(
            name,
            "metric_recall",
            f"{uses[0]} precision_at_recall needs the recall it is read at, e.g. metric_recall: 0.8",
        )
    if not uses and declaration.metric_recall is not None:
        raise DeclarationError(
            name,
            "metric_recall",
            "only precision_at_recall reads a recall; declare metric: precision_at_recall or drop it",
        )
    if declaration.metric_name == "precision_at_recall" and declaration.monitoring.use_estimated_performance:
        raise DeclarationError(
            name,
            "monitoring.use_estimated_performance",
            "no label-free estimate of precision_at_recall is made (only of auc, average_precision, rmse, mae); "
            "turn it off or judge by metric: average_precision",
        )
    if declaration.metric_name == "precision_at_recall":
        # A study's pruning and its bootstrap summary judge trials by a metric of labels and scores alone.
        for index, family in enumerate(declaration.models):
            if family.tuning is not None:
                raise DeclarationError(
                    name,
                    f"models.{index}.tuning",
                    "a study cannot be judged by precision_at_recall; tune with metric: average_precision "
                    "and gate on precision_at_recall (gate.metric)",
                )


def _check_columns(declaration: ModelDeclaration, columns: list[ColumnSpec]) -> None:
    from asset_platform.declaration.model import TIME_DTYPES

    name = declaration.name
    specs = {column.name: column for column in columns}
    if len(specs) != len(columns):
        raise DeclarationError(name, "columns", "a column is listed twice")
    listed = ", ".join(specs) or "none"
    for field in ("id_column", "label_column", "time_column"):
        column = getattr(declaration, field)
        if column is None and field == "time_column":
            continue  # rows are timed by their file's landing
        if column not in specs:
            raise DeclarationError(name, field, f"{column!r} is not a column of the contract (columns: {listed})")
    _check_time(declaration, specs)
    label = specs[declaration.label_column]
    if declaration.task == "regression" and label.dtype not in ("float", "int"):
        raise DeclarationError(name, "label_column", f"a regression label must be numeric, not {label.dtype}")
    if declaration.task == "binary_classification" and label.dtype not in ("int", "bool"):
        raise DeclarationError(name, "label_column", f"a binary label must be int (0/1) or bool, not {label.dtype}")
    if declaration.task == "multiclass":
        _check_classes(declaration, label)
    special = {declaration.id_column, declaration.label_column, declaration.time_column}
    for feature in declaration.features or []:
        if feature not in specs:
            raise DeclarationError(name, "features", f"feature {feature!r} is not a column of the contract ({listed})")
        if feature in special:
            raise DeclarationError(name, "features", f"{feature!r} is the id, label or time column, not a feature")
        if specs[feature].dtype in TIME_DTYPES:
            raise DeclarationError(
                name, "features", f"{feature!r} is a {specs[feature].dtype}; derive a number from it first"
            )
    numeric, categorical = declaration.feature_columns()
    if not numeric and not categorical:
        raise DeclarationError(name, "features", "the contract has no feature columns besides id, label and time")
    for segment in declaration.segments:
        if segment not in categorical:
            raise DeclarationError(name, "segments", f"segment {segment!r} is not a categorical feature")


def _check_classes(declaration: ModelDeclaration, label: ColumnSpec) -> None:
    """A multiclass label is a str column whose `categories` are its classes, at least `MIN_CLASSES`."""
    from asset_platform.declaration.model import MIN_CLASSES
    from asset_platform.declaration.names import score_column

    name, column = declaration.name, label.name
    if declaration.schema_class is not None:
        raise DeclarationError(
            name,
            "schema_class",
            f"a multiclass label's classes are read from the contract's categories, which a pandera class does not "
            f"declare here: give the contract as `columns`, with the classes of {column!r} as its `categories`",
        )
    if label.dtype != "str":
        raise DeclarationError(
            name,
            "label_column",
            f"a multiclass label is a str column with its classes as categories, not {label.dtype}",
        )
    where = f"columns.{column}.categories"
    if not label.categories:
        raise DeclarationError(
            name, where, f"declare the classes of the multiclass label {column!r} as its categories (a closed list)"
        )
    if len(set(label.categories)) != len(label.categories):
        raise DeclarationError(name, where, f"a class of {column!r} is listed twice")
    columns: dict[str, str] = {}
    for category in label.categories:
        taken = columns.setdefault(score_column(category), category)
        if taken != category:
            raise DeclarationError(
                name,
                where,
                f"classes {taken!r} and {category!r} would share the score column {score_column(category)!r}",
            )
    if len(label.categories) < MIN_CLASSES:
        listed = ", ".join(map(repr, label.categories))
        raise DeclarationError(
            name,
            where,
            f"a multiclass label needs at least {MIN_CLASSES} classes, {column!r} declares {len(label.categories)} "
            f"({listed}); a label of two classes is binary_classification (an int 0/1 or bool column)",
        )


def _check_multiclass_parts(declaration: ModelDeclaration) -> None:
    """The parts of a declaration that do not handle a multiclass model yet are refused, named, at load."""
    if declaration.task != "multiclass":
        return
    # A study reads one score per row for its per-step binary metric.
    unsupported = [
        (f"models.{index}.tuning", family.tuning is not None, "hyperparameter tuning")
        for index, family in enumerate(declaration.models)
    ]
    for field, declared, what in unsupported:
        if declared:
            raise DeclarationError(
                declaration.name, field, f"{what}: not made for a multiclass model yet; leave it off"
            )


def _check_shadow_margin(declaration: ModelDeclaration) -> None:
    """A shadow margin below the largest per-row loss difference: at or beyond it no evidence could decide."""
    from asset_platform.ml.metrics import PAIRED_LOSS, PAIRED_LOSS_BOUNDS

    loss = PAIRED_LOSS[declaration.task]
    largest = PAIRED_LOSS_BOUNDS[loss][1]
    if declaration.shadow.margin >= largest:
        raise DeclarationError(
            declaration.name,
            "shadow.margin",
            f"{declaration.shadow.margin} is not below {largest:g}, the largest difference of the per-row "
            f"{loss.replace('_', ' ')} loss a {declaration.task} shadow compares by; declare a margin below it",
        )


# The shortest retraining window (days) that holds two periods of a period time column: one period alone
# has a single instant, which no time split can divide into training and holdout.
_TWO_PERIODS_DAYS = {"year": 732, "month": 62}


def _check_time(declaration: ModelDeclaration, specs: dict[str, ColumnSpec]) -> None:
    from asset_platform.declaration.model import LANDED_AT, SERVED_COLUMNS, TIME_DTYPES

    name, time = declaration.name, declaration.time_column
    if LANDED_AT in specs:
        raise DeclarationError(name, "columns", f"{LANDED_AT!r} is reserved for the landing time; rename the column")
    served = [column for column in SERVED_COLUMNS if column in specs]
    if served:
        raise DeclarationError(
            name, "columns", f"{', '.join(map(repr, served))}: reserved for what serve-model captures; rename"
        )
    if time is None:
        if declaration.landing.history_asset is not None:
            raise DeclarationError(
                name,
                "time_column",
                "without a time column rows are timed by their file's landing, and landing.history_asset has no "
                "files: declare a time column (datetime, date, year or month)",
            )
        return
    dtype = specs[time].dtype
    if dtype not in TIME_DTYPES:
        raise DeclarationError(
            name,
            "time_column",
            f"{time!r} has dtype {dtype}; a time column is a datetime, a date, a year (int, e.g. 2024) or a month "
            "('2024-03'): give it one of those dtypes, or leave time_column out to time rows by their file's landing",
        )
    window, minimum = declaration.retraining.window_days, _TWO_PERIODS_DAYS.get(dtype)
    if window is not None and minimum is not None and window < minimum:
        raise DeclarationError(
            name,
            "retraining.window_days",
            f"{window:g} days hold a single {dtype} of {time!r}, which no time split can divide: use at least "
            f"{minimum} (two {dtype}s) or null (all history)",
        )


def _check_drift_overrides(declaration: ModelDeclaration) -> None:
    from pydantic import ValidationError

    from asset_platform.drift.policy import DriftPolicy

    unknown = sorted(set(declaration.monitoring.drift) - set(DriftPolicy.model_fields))
    if unknown:
        known = ", ".join(sorted(DriftPolicy.model_fields))
        raise DeclarationError(
            declaration.name, f"monitoring.drift.{unknown[0]}", f"not a drift policy field; the fields are: {known}"
        )
    try:
        DriftPolicy(**declaration.monitoring.drift)
    except ValidationError as error:
        first = error.errors()[0]
        field = "monitoring.drift." + ".".join(str(part) for part in first["loc"])
        raise DeclarationError(declaration.name, field, first["msg"]) from None
