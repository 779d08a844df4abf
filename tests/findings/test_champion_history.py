"""Issue 23 finding 5 and issue 24 finding 3: the champion history shows each decision as it was, by its person.

A rejected, shadowed or retired challenger leaves the champion pointer unchanged; the history still shows
that decision with its own time, the gate's reason and who launched it: the signed-in UI user (the
`launched_by` tag `serve --auth` puts on every run it launches), or $ASSET_PLATFORM_USER for the CLI,
checked against the access policy.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from asset_platform.access.mutations import LAUNCHED_BY_TAG
from asset_platform.app.cli import main
from asset_platform.app.demo import start_loop
from asset_platform.app.serve import prepare_dagster_home
from asset_platform.lifecycle.names import CHAMPION
from asset_platform.registry.models import lineup_for
from tests.monitoring.loop import MODEL, copy_home, open_instance

UI_USER = "alice@example.com"


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def _set_champion_from_the_ui(state, **config) -> None:
    """A set_champion run as `serve --auth` launches it for a signed-in user: tagged with who launched it."""
    job = state.defs.resolve_job_def(state.names.set_champion_job)
    result = job.execute_in_process(
        instance=state.instance,
        tags={LAUNCHED_BY_TAG: UI_USER},
        run_config={"ops": {state.names.op(CHAMPION): {"config": config}}},
    )
    assert result.success


@pytest.fixture(scope="module")
def history(trained_home, tmp_path_factory) -> dict:
    """Promote, reject by the gate, shadow and retire from the UI, roll back by CLI; the history after."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _decide(trained_home, tmp_path_factory.mktemp("history"), monkeypatch)


def _decide(trained_home, tmp_path, monkeypatch) -> dict:
    home = copy_home(trained_home, tmp_path / "platform")
    policy = tmp_path / "policy.yaml"
    policy.write_text("grants:\n  - role: editor\n    users: [eddie]\n")
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    monkeypatch.setenv("ASSET_PLATFORM_POLICY", str(policy))
    with open_instance(home) as instance:
        state = start_loop(home, MODEL, instance)
        lineup = lineup_for(state.defs.resources["registry"], state.names)
        best = lineup.champion().version
        weaker = next(v.version for v in lineup.versions() if v.version != best)
        _set_champion_from_the_ui(state, action="promote", version=weaker[:12], reason="try it")
        # The best model challenges the weaker champion; an impossible margin makes the gate reject it.
        _set_champion_from_the_ui(state, action="gate", margin=1.0)
        _set_champion_from_the_ui(state, action="shadow", version=best[:12], reason="watch it")
        _set_champion_from_the_ui(state, action="retire", reason="enough")
        # The policy is checked for the person named by ASSET_PLATFORM_USER: mallory holds no role.
        monkeypatch.setenv("ASSET_PLATFORM_USER", "mallory")
        code, _out, err = _cli("models", "rollback", "--model", MODEL)
        assert code != 0 and "mallory does not hold it" in err
        monkeypatch.setenv("ASSET_PLATFORM_USER", "eddie")
        code, _out, err = _cli("models", "rollback", "--model", MODEL, "--reason", "back to the best")
        assert code == 0, err
        code, out, err = _cli("models", "history", "--model", MODEL, "--json")
        assert code == 0, err
        code, text, err = _cli("models", "history", "--model", MODEL)
        assert code == 0, err
        table = instance.fetch_materializations(state.names.champion, limit=1).records[0]
        recorded = table.asset_materialization.metadata["history"].value.records
    return {"rows": json.loads(out), "text": text, "table": [r.data for r in recorded], "best": best, "weaker": weaker}


def test_the_champion_history_shows_each_decision_with_its_own_time_reason_and_actor(history) -> None:
    rows = history["rows"]
    assert [row["decision"] for row in rows] == [
        "promoted",
        "promoted",
        "rejected",
        "shadowed",
        "retired",
        "rolled back",
    ]
    first, by_hand, rejected, shadowed, retired, rolled = rows
    assert by_hand["reason"].startswith("promoted by hand") and by_hand["reason"].endswith("try it")
    # The rejection is not a repeat of the promotion before it: the gate's reason, its own time.
    assert rejected["reason"].startswith("rejected")
    assert rejected["reason"] != by_hand["reason"] and rejected["at"] >= by_hand["at"]
    assert rejected["version"] == history["weaker"] and rejected["challenger"] == history["best"]
    assert shadowed["reason"].endswith("watch it") and retired["reason"].startswith("retired challenger")
    assert rolled["reason"].startswith("rolled back") and rolled["version"] == history["best"]
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)
    assert "rejected" in history["text"] and f"by ui:{UI_USER}: rejected" in history["text"]


def test_the_recorded_actor_is_the_person_never_manual(history) -> None:
    actors = [row["changed_by"] for row in history["rows"]]
    assert actors[1:] == [f"ui:{UI_USER}"] * 4 + ["cli:eddie"]
    assert "manual" not in actors and "cli:root" not in actors
    # The champion's own history table (UI) says the same, its rejection row with a time.
    table = list(reversed(history["table"]))  # oldest first
    assert [row["decision"] for row in table][-5:] == ["promoted", "rejected", "shadowed", "retired", "rolled back"]
    rejected = table[-4]
    assert rejected["changed_at"] and rejected["changed_by"] == f"ui:{UI_USER}"
    assert rejected["reason"].startswith("rejected")


def test_the_actor_of_a_run_is_read_from_who_launched_it() -> None:
    from asset_platform.registry.trigger import TRIGGER_TAG, USER_TAG, describe_trigger

    sensor = {TRIGGER_TAG: "sensor:loans_drift_retrain", "dagster/sensor_name": "loans_drift_retrain"}
    assert describe_trigger(sensor) == "sensor:loans_drift_retrain"
    # A person re-executing a sensor's run from the UI chose to: the run is theirs.
    assert describe_trigger({**sensor, LAUNCHED_BY_TAG: UI_USER}) == f"ui:{UI_USER}"
    # The CLI's private webserver tags its runs `cli:<user>`: the command's own tags say what it was.
    cli = {TRIGGER_TAG: "cli", USER_TAG: "eddie", LAUNCHED_BY_TAG: "cli:eddie"}
    assert describe_trigger(cli) == "cli:eddie"
    assert describe_trigger({TRIGGER_TAG: "demo", LAUNCHED_BY_TAG: "cli:eddie"}) == "demo"
    assert describe_trigger({}) == "unidentified"


def test_a_hand_decision_outside_the_set_champion_job_fails_and_leaves_the_champion(trained_home, tmp_path) -> None:
    """Issue 24: the set_champion job needs the editor role; the champion step must not be a way around it.

    A launcher may launch the training job or the implicit asset job, both of which hold the champion step;
    given a hand decision's config there, the step refuses it, names the job that takes it and leaves the
    champion as it was.
    """
    home = copy_home(trained_home, tmp_path / "platform")
    with pytest.MonkeyPatch.context() as monkeypatch, open_instance(home) as instance:
        monkeypatch.setenv("ASSET_PLATFORM_HOME", str(home.root))
        state = start_loop(home, MODEL, instance)
        lineup = lineup_for(state.defs.resources["registry"], state.names)
        champion = lineup.champion().version
        other = next(v.version for v in lineup.versions() if v.version != champion)
        config = {"ops": {state.names.op(CHAMPION): {"config": {"action": "promote", "version": other[:12]}}}}
        training = state.defs.resolve_job_def(state.names.training_job)
        result = training.execute_in_process(
            instance=instance, run_config=config, tags={LAUNCHED_BY_TAG: UI_USER}, raise_on_error=False
        )
        assert not result.success
        [failure] = [event for event in result.all_events if event.is_step_failure]
        message = failure.step_failure_data.error.message
        assert "decision by hand" in message and state.names.set_champion_job in message and "editor" in message
        assert lineup_for(state.defs.resources["registry"], state.names).champion().version == champion
