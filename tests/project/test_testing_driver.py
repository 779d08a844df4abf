"""`asset_platform.testing`: a team runs its own declaration's closed loop in CI, on its own sample files."""

from __future__ import annotations

import asyncio

import pytest

from asset_platform.testing import BatchFiles, run_declared_loop
from tests.project.samples import loans_declaration, sample_files


def _with_a_running_loop(call):
    """`call()` while an asyncio loop runs in this thread: the one Playwright's sync API left running when a
    browser test ran earlier in the session, else one started here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def cell():
            return call()

        return asyncio.run(cell())
    return call()


def test_a_declared_models_loop_reports_its_detection_delay_and_gate_decisions(tmp_path):
    declaration = loans_declaration()
    history, batches = sample_files(declaration, tmp_path / "samples")
    seen = []

    def loop():
        return run_declared_loop(
            declaration,
            history=history,
            batches=[BatchFiles(production, labels, drifting) for production, labels, drifting in batches],
            home=tmp_path / "home",
            report=seen.append,
        )

    # As in a notebook cell: an asyncio loop runs in this thread, inside which Dagster's automation
    # evaluator may not start its own.
    result = _with_a_running_loop(loop)
    assert result.baseline["decision"] == "promoted"
    assert [day.batch for day in seen] == [production.stem for production, _labels, _drifting in batches]
    # Clean batches pass, the shifted ones are judged drifted and the first one retrains.
    assert [day.drift_status for day in result.days[:2]] == ["pass", "pass"]
    assert result.days[2].drift_status not in ("pass", "-")
    assert result.detection_delay == 0
    assert result.summary["false_retrains"] == 0
    assert result.gate_decisions and result.gate_decisions[0] in ("promoted", "rejected")
    assert all(day.realized_metric == day.realized_metric for day in result.days)  # labels joined: a number


def test_sample_files_that_do_not_exist_are_named_before_anything_runs(tmp_path):
    declaration = loans_declaration()
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        run_declared_loop(declaration, [tmp_path / "missing.parquet"], [], home=tmp_path / "home")
    assert not (tmp_path / "home" / "dvc").exists()
