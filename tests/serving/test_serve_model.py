"""`asset-platform serve-model` as a client sees it: a real MLServer process on loopback.

The served scores are the platform's own (`score_rows` in process, to 1e-9), every response names
the version that answered, a promotion and a rollback under continuous requests fail none of them,
and every bad request is a 4xx whose message names what is wrong.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

from asset_platform.app.cli import main
from asset_platform.ml.scoring import score_rows
from tests.declaration.loans import generate_loans
from tests.processes import wait_for
from tests.serving.client import post, v2_inputs
from tests.serving.conftest import MAX_BODY_MB, MAX_ROWS, POLL_S, serve_model_command

ROWS = generate_loans(120, dt.date(2026, 7, 4), seed=21).drop(columns=["defaulted"])  # ~5 % income missing
CLIENT_LIMIT_S = 240  # the client thread stops by itself whatever happens
WAIT_LIMIT_S = 120  # liveness only: how long a test waits for what must happen


def wait_for_soon(condition, what: str):
    """`condition()` truthy within WAIT_LIMIT_S, polled every 0.05 s (tests/processes.py's wait_for)."""
    return wait_for(condition, WAIT_LIMIT_S, what, interval_s=0.05)


def test_scores_equal_the_platforms_and_name_the_champion(trained, server) -> None:
    status, body = post(server.url(), {"inputs": v2_inputs(ROWS)})
    assert status == 200, body
    lineup = trained.lineup()
    champion = lineup.champion()
    assert body["model_name"] == "loans" and body["model_version"] == champion.version
    assert body["parameters"]["model_version"] == champion.version
    assert body["parameters"]["model_asset"] == champion.model_asset
    [output] = body["outputs"]
    assert output["name"] == "scores" and output["datatype"] == "FP64" and output["shape"] == [len(ROWS)]
    expected = score_rows(lineup.load_champion(champion), ROWS)
    np.testing.assert_allclose(np.array(output["data"]), expected, rtol=0, atol=1e-9)


def test_promotion_and_rollback_under_continuous_requests_fail_none(trained, server) -> None:
    lineup = trained.lineup()
    old = lineup.champion()
    new = next(version for version in lineup.versions() if version.version != old.version)
    payload = {"inputs": v2_inputs(ROWS.head(5))}
    answers: list[tuple[float, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + CLIENT_LIMIT_S
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                status, body = post(server.url(), payload)
            except OSError as error:
                errors.append(repr(error))
                continue
            if status == 200 and body.get("model_version"):
                answers.append((time.monotonic(), body["model_version"]))
            else:
                errors.append(f"{status}: {body}")

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        wait_for_soon(lambda: len(answers) >= 3, "requests answered before the promotion")
        trained.set_champion("promote", new.version)
        promoted_at = time.monotonic()
        wait_for_soon(lambda: answers[-1][1] == new.version, f"the promoted {new.version} served")
        switch_s = next(at for at, version in answers if version == new.version) - promoted_at
        trained.set_champion("rollback")
        wait_for_soon(lambda: answers[-1][1] == old.version, f"the rolled-back-to {old.version} served")
        served = len(answers)
        wait_for_soon(lambda: len(answers) >= served + 3, "requests answered after the rollback")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert f"now serving {new.asset} {new.version}" in server.log.read_text()
    versions = [version for _at, version in answers]
    # Each version answers in one unbroken run: the swap is atomic, never back and forth.
    runs = [version for i, version in enumerate(versions) if i == 0 or version != versions[i - 1]]
    assert runs == [old.version, new.version, old.version]
    print(
        f"\n{len(answers)} requests, 0 errors; the promotion was served {switch_s:.2f}s after its run (poll {POLL_S}s)"
    )


def _request(**changes) -> dict:
    """Two good rows as V2 inputs, with `changes`: column -> (datatype, data), or None to leave it out."""
    inputs = {tensor["name"]: tensor for tensor in v2_inputs(ROWS.head(2))}
    for name, change in changes.items():
        if change is None:
            inputs.pop(name)
        else:
            datatype, data = change
            inputs[name] = {"name": name, "shape": [len(data)], "datatype": datatype, "data": data}
    return {"inputs": list(inputs.values())}


BAD_REQUESTS = {
    "missing column": (_request(age=None), 400, "'age'"),
    "extra column": (_request(colour=("BYTES", ["red", "blue"])), 400, "'colour'"),
    "the label sent": (_request(defaulted=("INT64", [0, 1])), 400, "'defaulted'"),
    "wrong datatype": (_request(amount=("BYTES", ["1", "2"])), 400, "'amount'"),
    "string in a number column": (_request(amount=("FP64", [1.0, "x"])), 400, "'amount', row 1"),
    "fraction in an int column": (_request(age=("INT64", [30, 40.5])), 400, "'age', row 1"),
    "null where the contract forbids it": (_request(amount=("FP64", [1.0, None])), 400, "amount not_nullable"),
    "out of the declared range": (_request(age=("INT64", [30, 140])), 400, "age less_than_or_equal_to"),
    "unreadable time": (_request(applied_at=("BYTES", ["yesterday", "2026-07-04"])), 400, "applied_at"),
    "rows that disagree": (_request(age=("INT64", [30])), 400, "'age'"),
    "not a V2 datatype": (
        {"inputs": [{"name": "age", "shape": [1], "datatype": "FLOAT", "data": [1]}]},
        422,
        "datatype",
    ),
    "no inputs": ({"id": "x"}, 422, "inputs"),
    "too many rows": (None, 413, "rows"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_request_is_a_4xx_naming_the_field(server, case: str) -> None:
    payload, expected, named = BAD_REQUESTS[case]
    if payload is None:
        payload = {
            "inputs": v2_inputs(generate_loans(MAX_ROWS + 1, dt.date(2026, 7, 4), seed=5).drop(columns=["defaulted"]))
        }
    status, body = post(server.url(), payload)
    assert status == expected, body
    assert named in body["error"], body


def test_nan_which_json_lacks_is_named_by_its_input(server) -> None:
    # Python's json writes NaN; the body is then not JSON, and the message says which input holds it.
    raw = json.dumps(_request(amount=("FP64", [1.0, float("nan")]))).encode()
    status, body = post(server.url(), raw=raw)
    assert status == 400 and "'amount'" in body["error"] and "null" in body["error"], body
    status, body = post(server.url(), raw=b'{"inputs": [')
    assert status == 400 and "not valid JSON" in body["error"], body


def test_an_undeclared_model_is_a_404_naming_it(server) -> None:
    status, body = post(server.url("nope"), _request())
    assert status == 404 and "nope" in body["error"], body


def test_oversized_bodies_are_refused_with_413(server) -> None:
    address = urlsplit(server.base)
    path = urlsplit(server.url()).path
    # Declared too large: refused before a byte of it is read.
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10**9))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "request body" in json.loads(response.read())["error"]
    connection.close()
    # Streamed without a length: counted as it arrives.
    chunk = b" " * 100_000
    chunks = int(MAX_BODY_MB * 2**20 / len(chunk)) + 2
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("POST", path, body=iter([chunk] * chunks), encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and "request body" in json.loads(response.read())["error"]
    connection.close()


def test_the_model_repository_api_is_not_served(server) -> None:
    status, body = post(f"{server.base}/v2/repository/models/loans/unload", {})
    assert status == 404 and "registry" in body["error"], body
    status, _body = post(server.url(), _request())
    assert status == 200


def test_serve_model_help_and_bad_options(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve-model", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--poll-s" in out and "--max-body-mb" in out
    assert main(["serve-model", "--model", "loans", "--poll-s", "0"]) == 2
    assert "--poll-s must be a positive number" in capsys.readouterr().err
    assert main(["serve-model", "--model", "loans", "--port", "70000"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


def test_serve_model_refuses_an_undeclared_model_and_one_without_champion(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "empty" / "dagster"))
    project = serve_model_command()[3:7]  # -m tests.serving.loans_project -d REPO_ROOT
    assert main([*project, "serve-model", "--model", "nope"]) == 2
    assert "no declared model is named 'nope'" in capsys.readouterr().err
    assert main([*project, "serve-model", "--model", "loans"]) == 2
    assert "'loans' has no champion yet: run its loans_training job first" in capsys.readouterr().err
