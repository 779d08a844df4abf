"""The ticket generator's drifts beyond covariate, concept and prior (the closed-loop benchmark runs every
scenario on every model): a category mix the teams follow, and data-quality faults that leave the teams alone."""

from __future__ import annotations

import datetime as dt

import pytest

from asset_platform.declaration.contract import contract_schema
from asset_platform.synthetic.tickets import LABEL_COLUMN, generate_tickets
from asset_platform.validation.checks import check_against_schema
from tests.ml.tickets import tickets_declaration

DAY = dt.date(2026, 7, 3)


@pytest.fixture(scope="module")
def clean():
    return generate_tickets(3000, DAY, 1)


@pytest.fixture(scope="module")
def schema():
    return contract_schema(tickets_declaration(models=[{"family": "sklearn"}]), with_label=True)


def test_quality_faults_break_the_contract_and_leave_every_team_alone(clean, schema) -> None:
    assert check_against_schema(clean, schema).failing_rows == 0
    for fault in ("nulls", "out_of_range", "missing_column"):
        broken = generate_tickets(3000, DAY, 1, fault)
        assert broken[LABEL_COLUMN].equals(clean[LABEL_COLUMN]), fault
        assert check_against_schema(broken, schema).failing_rows > 0, fault
    assert "channel" not in generate_tickets(3000, DAY, 1, "missing_column")


def test_a_category_mix_moves_channel_and_plan_and_the_teams_follow_them(clean) -> None:
    mixed = generate_tickets(3000, DAY, 1, "category_mix")
    assert mixed["channel"].isin(["phone", "web"]).mean() > clean["channel"].isin(["phone", "web"]).mean() + 0.3
    assert (mixed["plan"] != "free").mean() > (clean["plan"] != "free").mean() + 0.2
    assert mixed[["region", "message_words", "prior_tickets"]].equals(
        clean[["region", "message_words", "prior_tickets"]]
    )
    # Fewer free plans: fewer sales tickets, as the clean logic says.
    assert (mixed[LABEL_COLUMN] == "sales").mean() < (clean[LABEL_COLUMN] == "sales").mean()
