"""A canary release in `serve-model`, on the real server: the challenger in shadow answers its share of ids.

The server's declaration (tests/serving/canary_model.py) asks for a 30 % canary. The challenger is a third,
real model version of loans, trained by the platform and put in shadow by the set_champion job. Assignment
is by id and stable; once the canary fails its requests it is withdrawn, with a notification to a loopback
webhook and an observation on `<model>/champion`, and no client sees a failed request. The module retires
the challenger when it ends, so the other serving tests meet the champion alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from asset_platform.app.serve import prepare_dagster_home
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.names import CHAMPION
from asset_platform.registry.decisions import champion_decisions
from asset_platform.registry.models import lineup_for
from asset_platform.resources.local import local_resources
from asset_platform.serving.canary import CANARY_WITHDRAWN, Canary, CanaryPolicy, Tally, takes_canary
from definitions import build_definitions
from tests.declaration.loans import generate_loans
from tests.processes import wait_for
from tests.serving.canary_model import BEHAVIOUR_ENV, FLAKY_MODEL, SERVING, canary_declaration
from tests.serving.client import post, v2_inputs
from tests.serving.conftest import Server, Trained, Webhook

ROWS = generate_loans(300, dt.date(2026, 7, 5), seed=44).drop(columns=["defaulted"])
FRACTION = SERVING["canary_fraction"]
WAIT_LIMIT_S = 60  # liveness only
# How long the slow canary's scoring sleeps at first: 20 x a quiet champion's p99 (a few ms) and more;
# about 5 s of sleeping for min_requests (10).
SLOW_S = 0.5


def wait_for_soon(condition, what: str):
    """`condition()` truthy within WAIT_LIMIT_S, polled every 0.05 s (tests/processes.py's wait_for)."""
    return wait_for(condition, WAIT_LIMIT_S, what, interval_s=0.05)


@dataclass
class Shadowed:
    champion: str
    challenger: str
    behaviour: Path
    shadow_again: Callable[[], None]  # a new shadow period of the challenger: a withdrawn one gets a canary again


@pytest.fixture(scope="module")
def canary(trained: Trained, server: Server) -> Iterator[Shadowed]:
    """The flaky model trained and put in shadow; the server's canary started. Retired at the end."""
    declaration = canary_declaration()
    names = lifecycle_names(declaration)
    defs = build_definitions([declaration], local_resources(trained.home))

    def set_champion(instance, action: str, version: str | None) -> None:
        config = {"action": action, "version": version, "reason": "canary test"}
        run = defs.resolve_job_def(names.set_champion_job).execute_in_process(
            instance=instance,
            run_config={"ops": {names.op(CHAMPION): {"config": config}}},
            asset_selection=[names.champion],
        )
        assert run.success

    behaviour = Path(server.env[BEHAVIOUR_ENV])
    behaviour.write_text("ok")
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(trained.home))) as instance:
        job = defs.resolve_job_def(names.training_job)
        assert job.execute_in_process(instance=instance, asset_selection=[names.key(FLAKY_MODEL)]).success
        flaky = lineup_for(defs.resources["registry"], names).versions(FLAKY_MODEL)[0]
        set_champion(instance, "shadow", flaky.version)
        try:
            canary = f"canary {names.key(FLAKY_MODEL).to_user_string()}"
            wait_for_soon(lambda: canary in server.log.read_text(), "canary")
            with dg.DagsterInstance.from_config(str(prepare_dagster_home(trained.home))) as again:
                champion = trained.lineup().champion().version
                yield Shadowed(champion, flaky.version, behaviour, lambda: set_champion(again, "shadow", flaky.version))
        finally:
            behaviour.unlink()
            set_champion(instance, "retire", flaky.version)


def get_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def _ask(server: Server, index: int) -> tuple[int, dict]:
    return post(server.url(), {"inputs": v2_inputs(ROWS.iloc[[index]])})


def test_each_id_meets_one_version_and_the_canary_its_share(server: Server, canary: Shadowed) -> None:
    answered: dict[str, str] = {}
    for index in [*range(30), *range(6)]:  # 6 ids asked twice
        status, body = _ask(server, index)
        assert status == 200, body
        row_id, version = ROWS["loan_id"].iloc[index], body["model_version"]
        assert answered.setdefault(row_id, version) == version, f"{row_id} met two versions"
        taken = takes_canary(row_id, canary.challenger, FRACTION)
        assert version == (canary.challenger if taken else canary.champion)
        assert body["parameters"]["role"] == ("canary" if taken else "champion")
    # The share over many ids is the unit test's (below); here some ids met each version.
    assert set(answered.values()) == {canary.champion, canary.challenger}


def test_a_failing_canary_is_withdrawn_and_no_client_sees_a_failure(
    trained: Trained, server: Server, webhook: Webhook, canary: Shadowed
) -> None:
    canary.behaviour.write_text("fail")
    failures, versions = [], set()
    index = 30  # ids the canary has not met
    while not webhook.received and index < len(ROWS):
        status, body = _ask(server, index)
        if status == 200:
            versions.add(body["model_version"])
        else:
            failures.append(f"{status}: {body}")
        index += 1
    wait_for_soon(lambda: webhook.received, "the withdrawal notified")  # it leaves in a thread
    assert failures == []
    assert versions == {canary.champion}  # the requests the canary failed were answered by the champion
    [event] = webhook.received
    assert event["event"] == "canary_withdrawn" and event["severity"] == "warning"
    details = event["details"]
    assert (details["challenger_version"], details["champion_version"]) == (canary.challenger, canary.champion)
    assert details["canary"]["errors"] >= 1 and details["champion"]["errors"] == 0
    assert "serving.max_error_rate_increase" in details["reason"]
    # Withdrawn: the ids the canary answered are the champion's now, whatever its model does.
    canary.behaviour.write_text("ok")
    taken = [i for i in range(30) if takes_canary(ROWS["loan_id"].iloc[i], canary.challenger, FRACTION)]
    assert {_ask(server, i)[1]["model_version"] for i in taken} == {canary.champion}
    metrics = {
        (sample.name, sample.labels.get("version")): sample.value
        for family in text_string_to_metric_families(get_text(server.metrics))
        for sample in family.samples
    }
    assert metrics[("asset_platform_serving_canary_failures_total", canary.challenger)] >= 1
    assert metrics[("asset_platform_serving_canary_fraction", canary.challenger)] == 0
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(trained.home))) as instance:
        [record] = instance.fetch_observations(trained.names.champion, limit=1).records
        # The champion's history (`asset-platform models history`) lists the withdrawal among its decisions.
        history = champion_decisions(trained.lineup(), instance)
    withdrawn = [d for d in history if d.decision == CANARY_WITHDRAWN]
    assert withdrawn and withdrawn[-1].challenger == canary.challenger
    assert withdrawn[-1].champion.version == canary.champion and withdrawn[-1].changed_by.startswith("serve-model:")
    metadata = record.asset_observation.metadata
    assert metadata["decision"].value == CANARY_WITHDRAWN
    assert metadata["challenger_version"].value == canary.challenger
    assert metadata["changed_by"].value.startswith("serve-model:")


def test_a_slower_canary_is_withdrawn_by_its_p99_and_no_client_sees_a_failure(
    server: Server, webhook: Webhook, canary: Shadowed
) -> None:
    notified = len(webhook.received)
    canary.shadow_again()  # a new shadow period: a canary again, whether or not an earlier test withdrew one
    ids = {True: [], False: []}
    for index in range(len(ROWS)):
        ids[takes_canary(ROWS["loan_id"].iloc[index], canary.challenger, FRACTION)].append(index)
    failures, roles = [], []

    def ask(canary_ids: bool, index: int) -> bool:
        """One request at a time: the server scores on its event loop, so a sleeping canary would hold the
        champion's requests (and their latency) too. True once the withdrawal is notified."""
        status, body = _ask(server, ids[canary_ids][index % len(ids[canary_ids])])
        if status == 200:
            roles.append(body["parameters"]["role"])
        else:
            failures.append(f"{status}: {body}")
        return len(webhook.received) > notified

    # The canary's p99 must pass 20 x the champion's, which a busy shared machine lifts (fsyncs) from a few ms
    # to tens: each round makes the canary twice as slow (its p99 is about its slowest answers), then lets the
    # champion's fast answers judge it.
    withdrawn, sleep_s = False, SLOW_S
    while not withdrawn and sleep_s <= 16 * SLOW_S:
        canary.behaviour.write_text(f"sleep:{sleep_s}")
        wanted = max(SERVING["min_requests"] - roles.count("canary"), 2) + roles.count("canary")
        request = 0
        while not withdrawn and roles.count("canary") < wanted and request < 10 * wanted:
            withdrawn, request = ask(True, request), request + 1
        for request in range(300):
            if withdrawn or (withdrawn := ask(False, request)):
                break
        sleep_s *= 2
    wait_for_soon(lambda: len(webhook.received) > notified, "the slow canary's withdrawal notified")
    assert failures == []
    assert "canary" in roles  # it answered, slowly, until withdrawn
    event = webhook.received[notified]
    assert event["event"] == "canary_withdrawn"
    details = event["details"]
    assert details["challenger_version"] == canary.challenger
    assert "serving.max_p99_ratio" in details["reason"]
    assert details["canary"]["errors"] == 0
    assert details["canary"]["p99_ms"] > SERVING["max_p99_ratio"] * details["champion"]["p99_ms"]
    # Withdrawn: the canary's ids are the champion's again, with no wait.
    canary.behaviour.write_text("ok")
    assert {_ask(server, index)[1]["parameters"]["role"] for index in ids[True][:10]} == {"champion"}


def _canary(canary_ms: list[float], champion_ms: list[float], canary_errors: int = 0) -> Canary:
    policy = CanaryPolicy(0.1, max_error_rate_increase=0.02, max_p99_ratio=1.5, min_requests=20)
    judged = Canary("challenger", "champion", policy, Tally(), Tally())
    for tally, latencies in ((judged.canary, canary_ms), (judged.champion, champion_ms)):
        for ms in latencies:
            tally.answered(ms / 1000)
    for _ in range(canary_errors):
        judged.canary.failed()
    return judged


def test_the_canary_is_judged_by_the_declared_margins_once_both_have_enough_requests() -> None:
    assert _canary([], [5.0] * 100, canary_errors=19).verdict() is None  # too few to judge
    assert _canary([5.0] * 100, [5.0] * 100, canary_errors=2).verdict() is None  # 1.96 % more: within
    assert "max_error_rate_increase" in _canary([5.0] * 100, [5.0] * 100, canary_errors=3).verdict()
    assert _canary([7.0] * 100, [5.0] * 100).verdict() is None  # 1.4 x
    assert "max_p99_ratio" in _canary([5.0] * 97 + [9.0] * 3, [5.0] * 100).verdict()  # p99 1.8 x


def test_assignment_is_stable_per_id_near_the_fraction_and_new_for_each_challenger() -> None:
    shares = [takes_canary(f"id-{i}", "v1", 0.1) for i in range(20_000)]
    assert abs(sum(shares) / len(shares) - 0.1) < 0.01  # 4.7 standard deviations of a binomial share
    assert shares == [takes_canary(f"id-{i}", "v1", 0.1) for i in range(20_000)]
    assert shares != [takes_canary(f"id-{i}", "v2", 0.1) for i in range(20_000)]
    assert not any(takes_canary(f"id-{i}", "v1", 0.0) for i in range(1000))


def test_a_canary_out_of_range_fails_at_load_naming_the_field() -> None:
    from asset_platform.declaration import ModelDeclaration
    from asset_platform.declaration.errors import DeclarationError

    data = canary_declaration().model_dump(exclude_unset=True)
    for serving, named in (
        ({"canary_fraction": 0.7}, "serving.canary_fraction"),
        ({"max_p99_ratio": 0.5}, "serving.max_p99_ratio"),
    ):
        with pytest.raises(DeclarationError, match=named.replace(".", r"\.")):
            ModelDeclaration(**{**data, "serving": serving})
