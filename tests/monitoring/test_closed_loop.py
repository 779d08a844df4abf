"""The closed loop through a real Dagster instance: sensors, drift, retraining, notifications."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from asset_platform.notify import Notifier
from tests.monitoring.loop import process_day, retraining_runs, start_loop

STABLE_DAYS = 3


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def webhook():
    _Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Recorder.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def loop(platform_home, local_resources, webhook):
    url, _ = webhook
    resources = {**local_resources, "notifier": Notifier(webhook_url=url, max_attempts=2, initial_backoff_s=0.05)}
    with dg.DagsterInstance.get() as instance:
        yield start_loop(platform_home, resources, instance), platform_home


@pytest.mark.parametrize("scenario", ["covariate", "concept"])
def test_stable_batches_never_retrain_and_drift_retrains_exactly_once(loop, webhook, scenario):
    state, home = loop
    for index in range(STABLE_DAYS):
        day = process_day(state, home, index, scenario=None)
        assert day["scored"] and all(r.success for r in day["scored"]), day["batch"]
        assert day["performance"] and all(r.success for r in day["performance"])
    assert retraining_runs(state.instance) == []

    for index in range(STABLE_DAYS, STABLE_DAYS + 3):
        process_day(state, home, index, scenario=scenario)
    runs = retraining_runs(state.instance)
    assert len(runs) == 1, [r.tags for r in runs]
    tags = runs[0].tags
    assert tags["dagster/sensor_name"] == "drift_retrain_sensor"
    evidence = tags["asset_platform/evidence"].split(",")
    assert len(evidence) >= 2 and all(key.startswith("events_") for key in evidence)
    assert evidence[0] == f"events_2026-01-{9 + STABLE_DAYS:02d}"  # the first drifted batch
    assert tags["asset_platform/reference_version"]
    if scenario == "concept":
        assert "performance" in tags["asset_platform/drift_reason"]

    _, received = webhook
    kinds = [message["event"] for message in received]
    assert "drift_confirmed" in kinds and "retraining_started" in kinds and "retraining_outcome" in kinds
    confirmed = next(m for m in received if m["event"] == "drift_confirmed")
    assert confirmed["details"]["batch_keys"] == evidence
    if scenario == "covariate":
        assert confirmed["details"]["max_psi"] > 0.1  # prices doubled: far past the PSI warn level
    outcome = next(m for m in received if m["event"] == "retraining_outcome")
    assert outcome["details"]["reason"]


def test_restarted_sensor_evaluation_launches_no_duplicate(loop):
    state, home = loop
    for index in range(3):
        process_day(state, home, index, scenario="covariate")
    assert len(retraining_runs(state.instance)) == 1
    sensor = state.defs.resolve_sensor_def("drift_retrain_sensor")
    # A restarted daemon resumes from the stored cursor: nothing new to launch.
    resumed = sensor(
        dg.build_sensor_context(
            instance=state.instance, cursor=state.cursors["drift_retrain_sensor"], resources=state.defs.resources
        )
    )
    assert not resumed.run_requests and resumed.skip_reason
    # A lost cursor replays all history: it derives the same run key, which the daemon never launches twice.
    replay = sensor(dg.build_sensor_context(instance=state.instance, cursor=None, resources=state.defs.resources))
    keys = [request.run_key for request in replay.run_requests or []]
    existing = {run.tags["dagster/run_key"] for run in retraining_runs(state.instance)}
    assert keys and set(keys) <= existing  # same evidence, same run key: the daemon launches nothing new
