"""The closed loop through a real Dagster instance: sensors, drift, retraining, notifications.

Each scenario runs once per module on its own copy of the trained home: three
stable days, then three drifted ones, with a webhook receiving notifications.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from asset_platform.app.demo import LoopState, start_loop
from asset_platform.declaration.names import DRIFT, POLICY_CHECK, PREDICTION, feature_check_names
from asset_platform.notify import Notifier
from asset_platform.resources.local import local_resources
from assets.ecommerce import ecommerce
from tests.monitoring.loop import batch_name, copy_home, open_instance, process_day, retraining_runs

STABLE_DAYS, DRIFTED_DAYS = 3, 3


class _Recorder(BaseHTTPRequestHandler):
    received: dict[str, list[dict]] = {}

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.setdefault(self.path, []).append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture(scope="module")
def webhook():
    """A webhook receiver; messages are kept per URL path (one path per loop)."""
    _Recorder.received = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.received
    server.shutdown()
    server.server_close()


@dataclass
class Loop:
    state: LoopState
    days: list[dict]
    received: list[dict]
    # Sensor evaluations made right after the retraining run was launched.
    resumed: dg.SensorResult | None = None
    replayed: dg.SensorResult | None = None
    retrain_keys: list[str] = field(default_factory=list)


def _evaluate(state: LoopState, cursor: str | None):
    sensor = state.defs.resolve_sensor_def(state.names.drift_retrain_sensor)
    context = dg.build_sensor_context(
        instance=state.instance, cursor=cursor, resources=state.defs.resources, definitions=state.defs
    )
    return sensor(context)


@pytest.fixture(scope="module")
def loops(trained_home, webhook, tmp_path_factory):
    """run(scenario) -> the Loop of that scenario, run once per module on its own copy of the trained home."""
    url, received = webhook
    done: dict[str, Loop] = {}
    with contextlib.ExitStack() as stack:

        def run(scenario: str) -> Loop:
            if scenario in done:
                return done[scenario]
            home = copy_home(trained_home, tmp_path_factory.mktemp(f"loop-{scenario}") / "platform")
            instance = stack.enter_context(open_instance(home))
            notifier = Notifier(webhook_url=f"{url}/{scenario}", max_attempts=2, initial_backoff_s=0.05)
            state = start_loop(home, "ecommerce", instance, {**local_resources(home), "notifier": notifier})
            loop = Loop(state, [], received.setdefault(f"/{scenario}", []))
            for index in range(STABLE_DAYS + DRIFTED_DAYS):
                day = process_day(state, index, scenario if index >= STABLE_DAYS else None)
                loop.days.append(day)
                if day["retrains"] and loop.resumed is None:
                    # A restarted daemon resumes from the stored cursor; a lost cursor replays all history.
                    loop.resumed = _evaluate(state, state.cursors[state.names.drift_retrain_sensor])
                    loop.replayed = _evaluate(state, None)
                    loop.retrain_keys = [run.tags["dagster/run_key"] for run in retraining_runs(state)]
            done[scenario] = loop
            return loop

        yield run


@pytest.mark.parametrize("scenario", ["covariate", "concept", "prior"])
def test_stable_batches_never_retrain_and_drift_retrains_exactly_once(loops, scenario):
    loop = loops(scenario)
    state = loop.state
    for day in loop.days[:STABLE_DAYS]:
        assert day["scored"] and all(r.success for r in day["scored"]), day["batch"]
        assert day["performance"] and all(r.success for r in day["performance"]), day["batch"]
        assert not day["retrains"], day["batch"]

    runs = retraining_runs(state)
    assert len(runs) == 1, [r.tags for r in runs]
    tags = runs[0].tags
    assert tags["dagster/sensor_name"] == state.names.drift_retrain_sensor
    assert tags["asset_platform/trigger"] == f"sensor:{state.names.drift_retrain_sensor}"
    evidence = tags["asset_platform/evidence"].split(",")
    assert len(evidence) >= 2 and all(key.startswith("events_") for key in evidence)
    assert evidence[0] == batch_name(STABLE_DAYS)  # the first drifted batch
    assert tags["asset_platform/reference_version"]
    if scenario == "concept":
        assert "performance" in tags["asset_platform/drift_reason"]
    if scenario == "prior":  # the features never moved: the labels' own shift is the evidence
        assert "label_shift" in tags["asset_platform/drift_reason"]
    [retrain] = [r for day in loop.days for r in day["retrains"]]
    assert retrain.success

    kinds = [message["event"] for message in loop.received]
    assert {"drift_confirmed", "retraining_started", "retraining_outcome"} <= set(kinds), kinds
    confirmed = next(m for m in loop.received if m["event"] == "drift_confirmed")
    assert confirmed["details"]["batch_keys"] == evidence
    if scenario == "covariate":
        assert confirmed["details"]["max_psi"] > 0.1  # prices doubled: far past the PSI warn level
    started = next(m for m in loop.received if m["event"] == "retraining_started")
    assert started["details"]["evidence"]["batches"] == evidence
    outcome = next(m for m in loop.received if m["event"] == "retraining_outcome")
    assert outcome["asset"] == state.names.champion.to_user_string()
    assert outcome["details"]["reason"]


def test_restarted_sensor_evaluation_launches_no_duplicate(loops):
    loop = loops("covariate")
    state = loop.state
    # Right after the launch: the stored cursor has nothing new to launch...
    assert not loop.resumed.run_requests and loop.resumed.skip_reason
    # ...and a lost cursor replays all history to the same evidence and so the same run key,
    # which the daemon never launches twice.
    keys = [request.run_key for request in loop.replayed.run_requests or []]
    assert keys and keys == loop.retrain_keys
    # Days later, a replay still asks for no run that was not launched already.
    later = _evaluate(state, None)
    existing = {run.tags["dagster/run_key"] for run in retraining_runs(state)}
    assert {request.run_key for request in later.run_requests or []} <= existing


def test_each_feature_of_each_batch_has_its_own_drift_check(loops):
    """The UI's checks name the feature that drifted, batch by batch, not one policy check over a table."""
    loop = loops("covariate")
    state = loop.state
    numeric, categorical = ecommerce.feature_columns()
    checks = feature_check_names([*numeric, PREDICTION, *categorical])

    def evaluations(day: dict) -> dict[str, dg.AssetCheckEvaluation]:
        found = [e for r in day["scored"] for e in r.get_asset_check_evaluations()]
        return {e.check_name: e for e in found if e.asset_key == state.names.key(DRIFT)}

    for day in loop.days[:STABLE_DAYS]:
        stable = evaluations(day)
        assert set(checks.values()) <= set(stable), sorted(stable)
        assert all(stable[name].passed for name in checks.values()), day["batch"]
    drifted = evaluations(loop.days[STABLE_DAYS])
    # The covariate scenario doubles the prices: that feature's check fails, named on its batch.
    price = drifted[checks["price"]]
    assert not price.passed and price.severity == dg.AssetCheckSeverity.WARN
    assert price.partition == loop.days[STABLE_DAYS]["batch"]
    assert "drifted" in price.description and "price" in price.description
    assert price.metadata["psi"].value > 0.25
    # The batch's own policy check still judges the batch as a whole.
    assert not drifted[POLICY_CHECK].passed
    # Features the scenario leaves alone pass on the drifted batch too.
    assert drifted[checks["country"]].passed
