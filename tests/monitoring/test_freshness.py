"""Freshness of data and labels: declared, checked from the event log, reported on the checks tab, notified once.

The clock is passed, not waited for: the sensor's evaluation (`evaluate_freshness`)
takes `now`, so "seven hours after scoring" is one call on a real instance.
"""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import pytest

from asset_platform.app.location import CodeLocation
from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.declaration.names import BATCHES, PREDICTIONS
from asset_platform.lifecycle.freshness import DATA_CHECK, LABELS_CHECK, evaluate_freshness
from asset_platform.lifecycle.overview import model_state
from asset_platform.notify import Notifier
from asset_platform.resources.local import local_resources
from asset_platform.synthetic.landing import write_labels
from asset_platform.testing import LoopState, start_loop, tick
from tests.monitoring.loop import MODEL, copy_home, day_of, land, open_instance
from tests.notify.conftest import _no_proxy, http_server  # noqa: F401 - the repo's recording webhook server

HOUR = 3600.0


def _ecommerce(**freshness: Any) -> ModelDeclaration:
    """The example declaration with `monitoring.freshness` set, validated as a user's would be."""
    data = CodeLocation.load().declarations[MODEL].model_dump(exclude_unset=True)
    data["monitoring"] = {**data.get("monitoring", {}), "freshness": freshness}
    return ModelDeclaration.model_validate(data)


@pytest.mark.parametrize(
    ("field", "value"), [("data_hours", 0), ("labels_hours", -2), ("labels_hours", "soon"), ("data_hours", -0.5)]
)
def test_bad_freshness_values_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(DeclarationError) as error:
        _ecommerce(**{field: value})
    assert f"monitoring.freshness.{field}" in str(error.value)


def test_unset_freshness_builds_no_sensor_and_set_freshness_builds_checks(tmp_path) -> None:
    from asset_platform.project import platform_definitions

    plain = platform_definitions([_ecommerce()], local_resources())
    assert not any(sensor.name.endswith("_freshness_sensor") for sensor in plain.sensors)
    declared = _ecommerce(data_hours=24, labels_hours=6)
    defs = platform_definitions([declared], local_resources())
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.asset_check_keys}
    assert {f"{MODEL}/batches:{DATA_CHECK}", f"{MODEL}/predictions:{LABELS_CHECK}"} <= keys
    assert defs.resolve_sensor_def(f"{MODEL}_freshness_sensor")
    assert graph.get(dg.AssetKey([MODEL, BATCHES])).freshness_policy is not None


def _at(state: LoopState, declaration: ModelDeclaration, notifier: Notifier, now: float) -> dg.SensorResult:
    """One freshness sensor tick at `now`, recorded as the daemon records it (cursor, check evaluations)."""
    name = state.names.freshness_sensor
    result = evaluate_freshness(
        declaration, state.names, state.instance, state.landing, notifier, state.cursors.get(name), now
    )
    state.cursors[name] = result.cursor
    for event in result.asset_events:
        state.instance.report_runless_asset_event(event)
    return result


def _latest(state: LoopState, asset: str, check: str):
    record = state.instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(state.names.key(asset), check))
    return record.event.asset_check_evaluation if record and record.event else None


def test_labels_that_stop_arriving_fail_the_check_notify_once_and_pass_once_landed(
    trained_home,
    tmp_path,
    http_server,  # noqa: F811 - the fixture imported above
) -> None:
    declaration = _ecommerce(data_hours=24, labels_hours=6)
    home = copy_home(trained_home, tmp_path / "platform")
    notifier = Notifier(webhook_url=f"{http_server.url}/hook", max_attempts=1)
    with open_instance(home) as instance:
        state = start_loop(declaration, {**local_resources(home), "notifier": notifier}, instance)
        path, labels = land(state, 0, None)
        batch = path.stem
        assert all(run.success for run in tick(state, state.names.batch_sensor))
        scored_at = time.time()

        # The sensor itself, at the real clock: just scored, so both checks pass and are on the checks tab.
        tick(state, state.names.freshness_sensor)
        assert _latest(state, PREDICTIONS, LABELS_CHECK).passed
        assert _latest(state, BATCHES, DATA_CHECK).passed
        assert (
            "1 scored batch(es) within that window still wait" in _latest(state, PREDICTIONS, LABELS_CHECK).description
        )
        assert model_state(instance, declaration, state.names)[0]["oldest_unlabeled"].startswith(batch)

        # Seven hours later, no labels: the check fails naming the batch, and one notification goes out.
        result = _at(state, declaration, notifier, scored_at + 7 * HOUR)
        failed = _latest(state, PREDICTIONS, LABELS_CHECK)
        assert not failed.passed and batch in failed.description and "Labels stopped arriving" in failed.description
        assert failed.metadata["late_batches"].value == [batch]
        assert LABELS_CHECK in result.skip_reason.skip_message
        stale = [r.json() for r in http_server.requests if r.json()["event"] == "stale"]
        assert len(stale) == 1
        assert stale[0]["details"]["check"] == LABELS_CHECK and stale[0]["details"]["batch_keys"] == [batch]
        assert stale[0]["asset"] == f"{MODEL}/predictions" and stale[0]["severity"] == "warning"

        # Later ticks while it still fails: no second notification, nothing new on the checks tab.
        assert not _at(state, declaration, notifier, scored_at + 8 * HOUR).asset_events
        assert len([r for r in http_server.requests if r.json()["event"] == "stale"]) == 1

        # A day and more without a batch: the data check fails too, notified once on its own.
        _at(state, declaration, notifier, scored_at + 25 * HOUR)
        assert not _latest(state, BATCHES, DATA_CHECK).passed
        kinds = [r.json()["details"]["check"] for r in http_server.requests if r.json()["event"] == "stale"]
        assert kinds == [LABELS_CHECK, DATA_CHECK]

        # The labels land and their performance is computed: the labels check passes again.
        write_labels(state.landing.labels, day_of(0), labels, MODEL)
        assert all(run.success for run in tick(state, state.names.labels_sensor))
        _at(state, declaration, notifier, scored_at + 26 * HOUR)
        assert _latest(state, PREDICTIONS, LABELS_CHECK).passed
        assert len(http_server.requests) == 2
        row = model_state(instance, declaration, state.names)[0]
        assert row["last_batch"].startswith(batch) and row["oldest_unlabeled"] == ""
