"""A declaration with a column of every dtype and every kind of rule: the contract tests' hardest case.

Shared by the compiled contract check's tests (tests/declaration/test_contract_check.py) and the serving
path's (tests/serving/test_compiled_rows.py), so both judge the same contract.
"""

from __future__ import annotations

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration


def every_dtype_declaration(time_column: str | None) -> ModelDeclaration:
    """Timed by `time_column` ("at", "month", ...), or by landing time when None (the "at" column dropped)."""
    columns = [
        Col(name="key", dtype="str"),
        Col(name="at", dtype="datetime"),
        Col(name="ratio", dtype="float", min=0, max=1),
        Col(name="ratio_or_none", dtype="float", min=-1.5, nullable=True),
        Col(name="count", dtype="int", min=1, max=1000),
        Col(name="count_or_none", dtype="int", max=5, nullable=True),
        Col(name="flag", dtype="bool"),
        Col(name="flag_or_none", dtype="bool", nullable=True),
        Col(name="colour", dtype="str", categories=["red", "green", "ünï"]),
        Col(name="colour_or_none", dtype="str", categories=["red", "green"], nullable=True),
        Col(name="note", dtype="str", nullable=True, sensitive=True),
        Col(name="serial", dtype="str", unique=True),
        Col(name="code", dtype="int", unique=True, nullable=True),
        Col(name="day", dtype="date"),
        Col(name="year", dtype="year", nullable=True),
        Col(name="month", dtype="month"),
        Col(name="label", dtype="int"),
    ]
    if time_column is None:
        columns = [column for column in columns if column.name != "at"]
    return ModelDeclaration(
        name={"at": "every_dtype", None: "every_dtype_landed"}.get(time_column, f"every_dtype_by_{time_column}"),
        owners=["team:test"],
        task="binary_classification",
        metric="auc",
        id_column="key",
        label_column="label",
        time_column=time_column,
        columns=columns,
        models=[{"family": "lightgbm"}],
        retraining={"window_days": None},  # a month-timed model cannot split a few days
    )
