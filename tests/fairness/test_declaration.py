"""The fairness part of a declaration: bad attributes and metrics fail at load, naming the field."""

from __future__ import annotations

import json
import math

import pytest

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.declaration.fairness import rule_metric
from asset_platform.notify import RetrainingOutcome, to_payload
from asset_platform.synthetic.fairness import fairness_columns


def audited(**fairness) -> ModelDeclaration:
    columns = [*fairness_columns(), {"name": "age_band", "dtype": "int", "min": 0, "max": 5}]
    columns.append({"name": "hour", "dtype": "int", "min": 0, "max": 23})
    return ModelDeclaration(
        name="audited",
        task="binary_classification",
        id_column="row_id",
        label_column="label",
        time_column="at",
        columns=columns,
        models=[{"family": "lightgbm"}],
        fairness=fairness,
    )


def _error(**fairness) -> str:
    with pytest.raises(DeclarationError) as caught:
        audited(**fairness)
    return str(caught.value)


def test_good_attributes_and_the_default_rule_metric() -> None:
    declaration = audited(attributes=["region", "segment_flag", "age_band"], tolerance=0.02)
    assert rule_metric(declaration) == "auc"
    assert rule_metric(audited(attributes=["region"], metric="tpr")) == "tpr"


@pytest.mark.parametrize(
    ("fairness", "expected"),
    [
        ({"attributes": ["gender"]}, "'gender' is not a column of the contract"),
        ({"attributes": ["label"]}, "'label' is the label"),
        ({"attributes": ["row_id"]}, "'row_id' is the id column"),
        ({"attributes": ["x1"]}, "'x1' has dtype float; audit by a str or bool column"),
        ({"attributes": ["hour"]}, "at most 20 values between its declared min and max"),
        ({"attributes": ["region", "region"]}, "an attribute is listed twice"),
    ],
)
def test_bad_attributes_name_the_field(fairness: dict, expected: str) -> None:
    message = _error(**fairness)
    assert "declaration 'audited', field 'fairness.attributes'" in message and expected in message


def test_a_metric_of_the_other_task_is_refused() -> None:
    assert "field 'fairness.metric': 'rmse' is not a binary_classification metric" in _error(
        attributes=["region"], metric="rmse"
    )


def test_a_tolerance_without_attributes_is_refused() -> None:
    assert "field 'fairness.tolerance': a tolerance needs `fairness.attributes`" in _error(tolerance=0.1)


def test_a_negative_tolerance_is_refused() -> None:
    assert "fairness.tolerance" in _error(attributes=["region"], tolerance=-0.1)


def test_the_notification_carries_the_fairness_verdict_as_json() -> None:
    verdict = {
        "attribute": "region",
        "metric": "auc",
        "challenger_gap": {"value": 0.3, "worst_group": "region=west"},
        "champion_gap": {"value": math.nan, "worst_group": ""},
        "increase": 0.25,
        "ci_low": 0.2,
        "ci_high": 0.31,
        "tolerance": 0.03,
        "blocked": True,
        "judged": True,
        "insufficient": [],
    }
    event = RetrainingOutcome(
        asset="audited/champion",
        promoted=False,
        metric="auc",
        challenger_value=0.8,
        champion_value=0.79,
        improvement=0.01,
        improvement_ci=(0.001, 0.02),
        reason="rejected by the fairness rule",
        fairness={"blocked": True, "attributes": [verdict]},
    )
    payload = json.loads(json.dumps(to_payload(event), allow_nan=False))
    assert payload["details"]["fairness"]["attributes"][0]["champion_gap"]["value"] is None
    assert "region blocked, auc gap 0.3000 (worst region=west)" in payload["text"]
    assert "CI 0.2000 to 0.3100, tolerance 0.03" in payload["text"]


def test_a_sensitive_attribute_is_audited_by_hashed_groups_only() -> None:
    import pandas as pd

    from asset_platform.fairness.audit import attribute_groups

    columns = [{**c, "sensitive": True} if c["name"] == "region" else c for c in fairness_columns()]
    fields = audited(attributes=["region", "segment_flag"]).model_dump(exclude_none=True)
    declaration = ModelDeclaration(**{**fields, "columns": columns})
    rows = pd.DataFrame({"region": ["west", "east", None], "segment_flag": [True, False, True]})
    groups = attribute_groups(declaration, rows)
    assert groups["region"][0].startswith("#") and "west" not in "".join(groups["region"][:2])
    assert groups["region"][2] == "missing"
    assert list(groups["segment_flag"]) == ["True", "False", "True"]
