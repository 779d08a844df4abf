"""The batch's mean |attribution|, wherever it is computed: the same figure, and kept only for its own model."""

from __future__ import annotations

import pytest

from asset_platform.declaration import ModelDeclaration
from asset_platform.fairness.attribution_drift import (
    batch_attribution,
    explain_rows,
    mean_attribution,
    stored_mean_attribution,
    top_reasons,
)
from asset_platform.synthetic.fairness import fairness_columns
from tests.fairness.conftest import Trained

SAMPLE_ROWS = 300


def _declaration(sample_rows: int = SAMPLE_ROWS) -> ModelDeclaration:
    return ModelDeclaration(
        name="explained",
        task="binary_classification",
        id_column="row_id",
        label_column="label",
        time_column="at",
        columns=fairness_columns(),
        models=[{"family": "lightgbm"}],
        explanations={"sample_rows": sample_rows, "top_reasons": 2},
    )


@pytest.mark.parametrize("rows", [SAMPLE_ROWS, 2 * SAMPLE_ROWS])
def test_top_reasons_attributions_give_the_same_mean_as_explaining_the_sample(trained: Trained, rows: int) -> None:
    model, batch = trained.models["champion"], trained.holdout.drop(columns=["label"]).iloc[:rows]
    explained = explain_rows(model, batch)
    # All rows explained (the sample is the batch) or not (a larger batch): the figure is the sample's either way.
    reused = mean_attribution(_declaration(), model, batch, explained)
    assert reused == mean_attribution(_declaration(), model, batch)
    assert (reused == explained.mean_abs()) == (rows <= SAMPLE_ROWS)
    assert top_reasons(model, batch, 2, explained) == top_reasons(model, batch, 2)


def test_a_stored_figure_is_used_only_for_the_model_version_it_came_from() -> None:
    stored = batch_attribution("abcd1234", {"x1": 0.5, "x2": 0.25})
    assert stored_mean_attribution(stored, "abcd1234") == {"x1": 0.5, "x2": 0.25}
    assert stored_mean_attribution(stored, "ffff0000") is None
    assert stored_mean_attribution(None, "abcd1234") is None
    assert stored_mean_attribution({"champion_version": "abcd1234"}, "abcd1234") is None
