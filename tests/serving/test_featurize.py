"""The compiled featurizer of a request's few rows gives `FeaturePipeline.transform`'s matrix, value for value.

Over the example declarations (ecommerce, deliveries, the tests' loans): rows as generated, rows as the
request contract yields them from a V2 request, and hostile values (unknown, empty and look-alike
categories, missing as None or NaN, infinities). Where a column's type is not one the plan takes, it
declines (None) and the runtime scores through pandas.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlserver.types import InferenceRequest

from asset_platform.ml.features import fit_declared_pipeline
from asset_platform.project.yaml_files import load_declaration_file
from asset_platform.serving.featurize import FAST_ROWS, RowFeaturizer
from asset_platform.serving.rows import RequestContract
from asset_platform.synthetic import demo_dataset
from tests import REPO_ROOT
from tests.declaration.loans import generate_loans, loans_declaration
from tests.serving.client import v2_inputs

DAY = dt.date(2026, 7, 4)


def _declaration(name: str):
    if name == "loans":
        return loans_declaration(), lambda rows, seed: generate_loans(rows, DAY, seed=seed)
    if name == "ecommerce":
        from assets.ecommerce import ecommerce as declaration
    else:
        [declaration], _broken = load_declaration_file(Path(REPO_ROOT) / "assets" / name / "defs.yaml")
    data = demo_dataset(name)
    return declaration, lambda rows, seed: data.generate(rows, DAY, seed, None, 1.0)


def _hostile(rows: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    rows = rows.copy()
    for offset, name in enumerate(categorical):
        column = rows[name].astype(object)
        for index, value in zip(
            range(offset, len(rows), 3), ("", "nan", "None", "ünïcode", None, np.nan, " x "), strict=False
        ):
            column.iloc[index] = value
        rows[name] = column
    for offset, name in enumerate(numeric):
        if pd.api.types.is_float_dtype(rows[name]):
            column = rows[name].copy()
            for index, value in zip(range(offset, len(rows), 4), (np.inf, -np.inf, np.nan, -0.0, 1e300), strict=False):
                column.iloc[index] = value
            rows[name] = column
    return rows


def _expected(pipeline, rows: pd.DataFrame, names: list[str]) -> np.ndarray:
    return pipeline.transform(rows, with_label=False)[names].to_numpy(dtype=np.float32)


@pytest.mark.parametrize("name", ["ecommerce", "deliveries", "loans"])
def test_the_plan_gives_the_pipelines_matrix_or_declines(name: str) -> None:
    declaration, generate = _declaration(name)
    training = generate(600, 1)
    pipeline = fit_declared_pipeline(declaration, training)
    featurizer = RowFeaturizer(pipeline, pipeline.feature_names)
    numeric, categorical = declaration.feature_columns()
    for rows in (generate(40, 2), _hostile(generate(40, 3), categorical, numeric)):
        for size in (1, 7, FAST_ROWS):
            part = rows.head(size)
            matrix = featurizer.matrix(part)
            if matrix is not None:
                np.testing.assert_array_equal(matrix, _expected(pipeline, part, pipeline.feature_names))


@pytest.mark.parametrize("name", ["ecommerce", "deliveries", "loans"])
def test_rows_from_a_request_take_the_plan_and_give_the_pipelines_matrix(name: str) -> None:
    declaration, generate = _declaration(name)
    pipeline = fit_declared_pipeline(declaration, generate(600, 1))
    featurizer = RowFeaturizer(pipeline, pipeline.feature_names)
    contract = RequestContract(declaration, 1000)
    numeric, categorical = declaration.feature_columns()
    sent = generate(30, 4).drop(columns=[declaration.label_column])
    # Unknown and look-alike categories, and missing ones where the contract allows (JSON has no NaN: null).
    sent = _hostile(sent, [c for c in categorical if c in sent.columns], [])
    nullable = {column.name for column in declaration.contract_columns() if column.nullable}
    inputs = v2_inputs(sent)
    for tensor in inputs:
        if tensor["datatype"] == "BYTES" and tensor["name"] in categorical:
            missing = None if tensor["name"] in nullable else "missing-looking"
            tensor["data"] = [missing if value in ("None", "nan") else value for value in tensor["data"]]
    rows = contract.rows(InferenceRequest.model_validate({"inputs": inputs}))
    for size in (1, 5, 30):
        part = rows.head(size)
        matrix = featurizer.matrix(part)
        assert matrix is not None, f"{name}: the contract's rows should take the plan"
        np.testing.assert_array_equal(matrix, _expected(pipeline, part, pipeline.feature_names))


def test_more_rows_than_the_plan_takes_and_foreign_types_go_the_pandas_way() -> None:
    declaration, generate = _declaration("loans")
    pipeline = fit_declared_pipeline(declaration, generate(600, 1))
    featurizer = RowFeaturizer(pipeline, pipeline.feature_names)
    rows = generate(FAST_ROWS + 1, 2)
    assert featurizer.matrix(rows) is None
    _numeric, categorical = declaration.feature_columns()
    assert featurizer.matrix(rows.head(3).assign(**{categorical[0]: [1, 2, 3]})) is None
    with pytest.raises(ValueError, match="not the pipeline's"):
        RowFeaturizer(pipeline, [*pipeline.feature_names, "extra"])
