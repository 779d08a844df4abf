"""The Notifier as a Dagster resource: environment wiring, an asset run, no network at load.

No `from __future__ import annotations` here: Dagster reads the asset's context annotation at runtime.
"""

import json

import dagster as dg
import pytest

from asset_platform.notify import (
    SLACK_CHANNEL_ENV,
    SLACK_TOKEN_ENV,
    WEBHOOK_AUTH_ENV,
    WEBHOOK_URL_ENV,
    Notifier,
    notifier_from_env,
)
from tests.notify.conftest import SLACK_OK
from tests.notify.samples import DRIFT

FAST = {"initial_backoff_s": 0.01, "timeout_s": 2.0}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (WEBHOOK_URL_ENV, WEBHOOK_AUTH_ENV, SLACK_TOKEN_ENV, SLACK_CHANNEL_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@dg.asset
def drift_alert(context: dg.AssetExecutionContext, notifier: Notifier) -> dg.MaterializeResult:
    report = notifier.notify(DRIFT, log=context.log)
    return dg.MaterializeResult(metadata={"notification": dg.MetadataValue.json(report.as_dict())})


def _run(notifier: Notifier) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    with dg.instance_for_test() as instance:
        result = dg.materialize([drift_alert], resources={"notifier": notifier}, instance=instance)
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result, messages


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = result.asset_materializations_for_node("drift_alert")
    return materialization.metadata["notification"].value


def test_without_environment_only_the_run_log_is_used(clean_env) -> None:
    assert notifier_from_env().channels == ["run_log"]
    clean_env.setenv(SLACK_TOKEN_ENV, "xoxb-t")
    assert notifier_from_env().channels == ["run_log"]


def test_environment_wires_webhook_and_slack_inside_a_run(clean_env, http_server) -> None:
    http_server.script = [SLACK_OK]
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}/hook")
    clean_env.setenv(WEBHOOK_AUTH_ENV, "Bearer from-env")
    clean_env.setenv(SLACK_TOKEN_ENV, "xoxb-from-env")
    clean_env.setenv(SLACK_CHANNEL_ENV, "#ml-alerts")
    notifier = notifier_from_env(slack_api_url=f"{http_server.url}/api/", **FAST)

    result, messages = _run(notifier)

    assert result.success
    assert _metadata(result)["succeeded"] == ["run_log", "webhook", "slack"]
    by_path = {request.path: request for request in http_server.requests}
    assert by_path["/hook"].headers["Authorization"] == "Bearer from-env"
    assert by_path["/hook"].json()["event"] == "drift_confirmed"
    assert by_path["/api/chat.postMessage"].headers["Authorization"] == "Bearer xoxb-from-env"
    assert any("[drift_confirmed] Drift confirmed on production_batch" in m for m in messages)


def test_a_failing_webhook_does_not_fail_the_run(closed_port_url) -> None:
    result, messages = _run(Notifier(webhook_url=closed_port_url, max_attempts=2, **FAST))

    assert result.success
    assert _metadata(result)["failed"] == ["webhook"]
    assert any("not delivered to channel 'webhook'" in m for m in messages)


def test_loading_definitions_touches_no_network(clean_env, http_server) -> None:
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}/hook")
    defs = dg.Definitions(assets=[drift_alert], resources={"notifier": notifier_from_env()})
    defs.resolve_all_job_defs()
    assert http_server.requests == []


def test_env_vars_resolve_when_used_outside_a_run(clean_env, http_server) -> None:
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}/hook")
    report = notifier_from_env(**FAST).notify(DRIFT)
    assert report.succeeded == ["run_log", "webhook"] and len(http_server.requests) == 1


def test_secret_file_newline_is_stripped_inside_a_run_and_never_reaches_the_run_log(clean_env, http_server) -> None:
    # Inside a run Dagster resolves the EnvVars when it builds the resource: the values are cleaned there.
    http_server.script = [(500, {})]
    clean_env.setenv(WEBHOOK_URL_ENV, f"{http_server.url}/services/T0001/B0002/pathSecret42\n")
    clean_env.setenv(WEBHOOK_AUTH_ENV, "Bearer tok-9f8e7d6c5b4a\n")

    result, messages = _run(notifier_from_env(max_attempts=2, **FAST))

    assert result.success and _metadata(result)["failed"] == ["webhook"]
    assert [r.headers["Authorization"] for r in http_server.requests] == ["Bearer tok-9f8e7d6c5b4a"] * 2
    logged = "\n".join(str(m) for m in messages) + json.dumps(_metadata(result))
    assert "not delivered to channel 'webhook'" in logged and f"http://127.0.0.1:{http_server.port}" in logged
    assert "tok-9f8e7d6c5b4a" not in logged and "pathSecret42" not in logged and "T0001" not in logged
