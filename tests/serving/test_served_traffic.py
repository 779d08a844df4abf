"""Served traffic as a real serve-model process handles it: counted in Prometheus metrics per version,
not one acknowledged request lost or doubled by a SIGKILL mid-stream, and landed as a production batch
that the batch sensor takes and the contract and drift judge, as for a file."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from asset_platform.app.serve import prepare_dagster_home
from asset_platform.declaration.names import BATCH_CONTRACT_CHECK, BATCHES, DRIFT, PREDICTIONS
from asset_platform.landing import read_table
from asset_platform.serving.capture import SERVED_LATENCY_MS, SERVED_VERSION
from asset_platform.testing import LoopState, tick
from tests.declaration.loans import generate_loans
from tests.serving.client import get, post, v2_inputs

CLIENTS, ROWS_PER_REQUEST = 4, 2
ACKNOWLEDGED_BEFORE_KILL = 40
CLIENT_LIMIT_S = 120  # the client threads stop by themselves whatever happens
ROWS = generate_loans(400, dt.date(2026, 7, 4), seed=33).drop(columns=["defaulted"])


def _samples(server) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(_scrape(server.metrics)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _scrape(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_errors_and_latency_are_counted_per_model_and_version(trained, server) -> None:
    version = trained.lineup().champion().version
    labels = {"model": "loans", "version": version}
    before = _samples(server)
    for start in (0, 2, 4):
        assert post(server.url(), {"inputs": v2_inputs(ROWS.iloc[start : start + 2])})[0] == 200
    bad = {"inputs": [t for t in v2_inputs(ROWS.head(1)) if t["name"] != "age"]}
    assert post(server.url(), bad)[0] == 400
    after = _samples(server)

    def delta(name: str, **extra: str) -> float:
        return _value(after, name, **labels, **extra) - _value(before, name, **labels, **extra)

    assert delta("asset_platform_serving_requests_total") == 4
    assert delta("asset_platform_serving_request_errors_total", code="400") == 1
    assert delta("asset_platform_serving_rows_total") == 6
    assert delta("asset_platform_serving_request_duration_seconds_count") == 3
    assert delta("asset_platform_serving_request_duration_seconds_bucket", le="+Inf") == 3
    assert delta("asset_platform_serving_request_duration_seconds_sum") > 0
    # MLServer's own REST metrics are served beside them.
    assert any(name.startswith("rest_server_requests") for name, _labels in after)


@dataclass
class Killed:
    """What the clients saw acknowledged before serve-model was killed, and the batches after its restart."""

    acknowledged: list[str]
    sent: list[str]
    batches: list


@pytest.fixture(scope="module")
def killed(trained, server) -> Killed:
    """Concurrent clients, a SIGKILL mid-stream, a start again: the batch the start landed."""
    production = trained.defs.resources["landing"].for_model(trained.declaration).production
    before = set(production.glob("loans-served-*.parquet"))
    acknowledged: list[str] = []
    sent: list[str] = []
    stop = threading.Event()

    def client(index: int) -> None:
        deadline = time.monotonic() + CLIENT_LIMIT_S
        number = 0
        while not stop.is_set() and time.monotonic() < deadline:
            start = (index * 97 + number * ROWS_PER_REQUEST) % (len(ROWS) - ROWS_PER_REQUEST)
            rows = ROWS.iloc[start : start + ROWS_PER_REQUEST].copy()
            request = f"k{index}-{number}"
            rows["loan_id"] = [f"{request}-{row}" for row in range(ROWS_PER_REQUEST)]
            number += 1
            sent.append(request)
            try:
                status, _body = post(server.url(), {"id": request, "inputs": v2_inputs(rows)})
            except OSError:
                return  # the server is gone: this request was not acknowledged
            if status == 200:
                acknowledged.append(request)

    threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + CLIENT_LIMIT_S
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    server.start()  # the start lands what the killed server left, before it answers
    batches = sorted(set(production.glob("loans-served-*.parquet")) - before)
    return Killed(list(acknowledged), list(sent), batches)


def test_a_kill_mid_stream_loses_no_acknowledged_request(killed: Killed) -> None:
    assert len(killed.acknowledged) >= ACKNOWLEDGED_BEFORE_KILL and killed.batches
    rows = pd.concat([read_table(batch, "served batch") for batch in killed.batches], ignore_index=True)
    requests = Counter(loan_id.rsplit("-", 1)[0] for loan_id in rows["loan_id"] if loan_id.startswith("k"))
    # Every acknowledged request's rows exactly once; one the kill cut off at most once (it may have been written).
    assert {request: requests[request] for request in killed.acknowledged} == dict.fromkeys(
        killed.acknowledged, ROWS_PER_REQUEST
    )
    assert set(requests) <= set(killed.sent) and max(requests.values()) == ROWS_PER_REQUEST
    assert rows[SERVED_VERSION].notna().all() and (rows[SERVED_LATENCY_MS] > 0).all()
    cut_off = len(set(requests) - set(killed.acknowledged))
    print(
        f"\n{len(killed.acknowledged)} acknowledged of {len(killed.sent)} sent by {CLIENTS} clients before the kill, "
        f"each landed once; {cut_off} cut off by it landed too"
    )


def test_the_served_batch_is_judged_as_a_landed_file_is(trained, server, killed: Killed) -> None:
    names = trained.names
    landing = trained.defs.resources["landing"].for_model(trained.declaration)
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(trained.home))) as instance:
        state = LoopState(instance, trained.defs, names, landing)
        runs = tick(state, names.batch_sensor)  # the sensor and the runs it asks for, as Dagster's daemon
    results = {result.dagster_run.tags.get("dagster/partition"): result for result in runs}
    keys = [batch.stem for batch in killed.batches]
    assert set(keys) <= set(results)
    for key in keys:
        result = results[key]
        assert result.success
        [contract] = [e for e in result.get_asset_check_evaluations() if e.check_name == BATCH_CONTRACT_CHECK]
        assert contract.passed
        events = {event.asset_key: event.materialization for event in result.get_asset_materialization_events()}
        assert {names.key(BATCHES), names.key(DRIFT)} <= set(events)
        # The inference latency the server recorded per row, on the batch's predictions for the on-call.
        served = events[names.key(PREDICTIONS)].metadata
        assert 0 < served["serving/latency_p50_ms"].value <= served["serving/latency_p99_ms"].value
        assert served["serving/rows_served"].value == served["rows"].value  # every row of it was served
    assert get(f"{server.base}/v2/models/loans/ready")[0] == 200
