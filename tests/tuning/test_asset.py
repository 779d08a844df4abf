"""The tuning asset in a real Dagster instance: evidence, the model's lineage to it, reuse, retune policy, CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import dagster as dg
import optuna
import pytest

from asset_platform.app.cli import main
from asset_platform.app.tune_commands import dashboard_app
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import LifecycleNames, lifecycle_names
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.resources.local import local_resources
from asset_platform.tuning.storage import open_storage, storage_url
from definitions import build_definitions
from tests.declaration.loans import write_history
from tests.tuning.tiny import tuned_declaration

TRIALS = 6


@dataclass
class Tuned:
    home: PlatformHome
    instance: dg.DagsterInstance
    resources: dict
    defs: dg.Definitions
    names: LifecycleNames

    def latest(self, asset: str) -> dg.EventLogRecord:
        key = self.names.key(asset)
        return self.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records[0]

    def metadata(self, asset: str) -> dict[str, Any]:
        return {name: entry.value for name, entry in self.latest(asset).asset_materialization.metadata.items()}

    def studies(self) -> list[str]:
        return optuna.get_all_study_names(open_storage(storage_url()))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """The tiny tuned declaration's training job, run once in a real instance with its own home."""
    from asset_platform.app.serve import prepare_dagster_home

    home = PlatformHome(tmp_path_factory.mktemp("tuning") / "home").ensure()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSET_PLATFORM_HOME", str(home.root))
        patch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
        patch.delenv("ASSET_PLATFORM_TUNING_DB", raising=False)
        declaration = tuned_declaration(trials=TRIALS, workers=2)
        resources = local_resources(home)
        defs = build_definitions([declaration], resources)
        write_history(resources["landing"].for_model(declaration).ensure().history, dt.date(2026, 5, 1), 6, 400)
        with dg.DagsterInstance.get() as instance:
            state = Tuned(home, instance, resources, defs, lifecycle_names(declaration))
            assert defs.resolve_job_def(state.names.training_job).execute_in_process(instance=instance).success
            yield state


def test_the_tuning_asset_records_its_evidence(tuned: Tuned) -> None:
    metadata = tuned.metadata("lightgbm_tuning")
    assert metadata["trials_complete"] + metadata["trials_pruned"] == TRIALS
    assert metadata["best_value_ci_low"] <= metadata["best_value"] <= metadata["best_value_ci_high"]
    assert set(metadata["best_params"]) == {"num_leaves", "learning_rate", "min_child_samples"}
    table = metadata["top_trials"]
    assert f"{metadata['best_trial']} (best)" in table and table.count("\n") == TRIALS + 1
    assert metadata["optimization_history"].startswith("![optimization history](data:image/png;base64,")
    assert metadata["importance_plot"].startswith("![parameter importance](data:image/png;base64,")
    assert metadata["slice_plot"].startswith("![slice plot](data:image/png;base64,")
    assert set(metadata["param_importance"]) == set(metadata["best_params"])
    assert metadata["study"].startswith("loans.lightgbm_model.data-") and metadata["reused"] is False
    assert tuned.studies() == [metadata["study"]]


def test_the_model_trains_with_the_best_params_and_records_study_and_trial(tuned: Tuned) -> None:
    from asset_platform.registry.reproduce import reproduce

    tuning = tuned.metadata("lightgbm_tuning")
    model = tuned.metadata("lightgbm_model")
    assert model["tuning/study"] == tuning["study"] and model["tuning/trial"] == tuning["best_trial"]
    for name, value in tuning["best_params"].items():
        assert model["params"][name] == value
    record = tuned.latest("lightgbm_model")
    stored = tuned.resources["registry"].store.get(
        tuned.names.path("lightgbm_model"), None, record.asset_materialization.tags["dagster/data_version"]
    )
    assert stored.extra["declaration"]["tuned_from"] == {"study": tuning["study"], "trial": tuning["best_trial"]}
    assert stored.extra["declaration"]["family"]["params"]["num_leaves"] == tuning["best_params"]["num_leaves"]
    assets_def = tuned.defs.resolve_assets_def(tuned.names.key("lightgbm_model"))
    assert reproduce(tuned.instance, tuned.resources["registry"].store, assets_def, record).identical


def test_the_same_data_and_code_reuse_the_finished_study(tuned: Tuned) -> None:
    before = tuned.metadata("lightgbm_tuning")
    job = tuned.defs.resolve_job_def(tuned.names.training_job)
    selection = [tuned.names.tuning_key("lightgbm_model")]
    assert job.execute_in_process(instance=tuned.instance, asset_selection=selection).success
    after = tuned.metadata("lightgbm_tuning")
    assert after["study"] == before["study"] and after["best_params"] == before["best_params"]
    study = optuna.load_study(study_name=after["study"], storage=open_storage(storage_url()))
    assert len(study.get_trials()) == TRIALS, "the finished study ran more trials"


def _retrain(tuned: Tuned, defs: dg.Definitions) -> dict[str, Any]:
    job = defs.resolve_job_def(tuned.names.retraining_job)
    tags = {TRIGGER_TAG: f"sensor:{tuned.names.drift_retrain_sensor}"}
    selection = [tuned.names.key(name) for name in ("training_set", "holdout_set", "feature_pipeline")]
    selection += [tuned.names.tuning_key("lightgbm_model"), tuned.names.key("lightgbm_model")]
    assert job.execute_in_process(instance=tuned.instance, tags=tags, asset_selection=selection).success
    return tuned.metadata("lightgbm_tuning")


def test_a_drift_retrain_reuses_the_last_best_params_unless_retune_is_set(tuned: Tuned) -> None:
    before = tuned.metadata("lightgbm_tuning")
    studies = tuned.studies()
    reused = _retrain(tuned, tuned.defs)
    assert reused["reused"] is True and reused["best_params"] == before["best_params"]
    assert reused["study"] == before["study"] and tuned.studies() == studies, "a drift retrain tuned"
    assert tuned.metadata("lightgbm_model")["tuning/study"] == before["study"]
    retuning = tuned_declaration(trials=TRIALS, workers=2, retraining={"window_days": 3, "retune": True})
    retuned = _retrain(tuned, build_definitions([retuning], tuned.resources))
    assert retuned["reused"] is False
    assert retuned["study"] not in studies and retuned["study"] in tuned.studies()


def test_parallel_workers_are_steps_of_one_multiprocess_run(tuned: Tuned) -> None:
    from tests.tuning.multiprocess_job import PARALLEL_TRIALS, tuning_job

    key = tuned.names.tuning_key("lightgbm_model")
    result = dg.execute_job(dg.reconstructable(tuning_job), instance=tuned.instance, asset_selection=[key])
    assert result.success
    starts = tuned.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_START)
    pids = {entry.dagster_event.step_key: entry.dagster_event.pid for entry in starts}
    workers = [step for step in pids if "__worker_" in step]
    assert len(workers) == 2 and len({pids[step] for step in pids}) == len(pids), "steps shared a process"
    metadata = tuned.metadata("lightgbm_tuning")
    assert metadata["trials_complete"] + metadata["trials_pruned"] == PARALLEL_TRIALS


def test_studies_live_in_the_home_the_definitions_were_built_with(tmp_path, monkeypatch) -> None:
    """Not in the home the environment of the running process names: the steps get it as a resource."""
    home = PlatformHome(tmp_path / "built").ensure()
    elsewhere = tmp_path / "environment"
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(elsewhere))
    monkeypatch.delenv("ASSET_PLATFORM_TUNING_DB", raising=False)
    declaration = tuned_declaration(trials=2)
    resources = local_resources(home)
    defs = build_definitions([declaration], resources)
    write_history(resources["landing"].for_model(declaration).ensure().history, dt.date(2026, 5, 1), 6, 400)
    names = lifecycle_names(declaration)
    with dg.instance_for_test() as instance:
        assert defs.resolve_job_def(names.training_job).execute_in_process(instance=instance).success
        record = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=names.tuning_key("lightgbm_model")), 1)
        study = record.records[0].asset_materialization.metadata["study"].value
    url = f"sqlite:///{home.root / 'tuning' / 'studies.sqlite3'}"
    assert optuna.get_all_study_names(open_storage(url)) == [study]
    assert not (elsewhere / "tuning").exists(), "the studies went to the home the environment names"


def test_tune_show_lists_every_trial_and_marks_the_best(tuned: Tuned, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(tuned.home.root))
    monkeypatch.delenv("ASSET_PLATFORM_TUNING_DB", raising=False)
    study = optuna.load_study(study_name=tuned.metadata("lightgbm_tuning")["study"], storage=storage_url())
    assert main(["tune", "show", "--model", "loans", "--family", "lightgbm", "--all-studies"]) == 0
    text = capsys.readouterr().out
    assert f"study {study.study_name}" in text
    assert main(["tune", "show", "--model", "loans", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    newest = optuna.load_study(study_name=shown["study"], storage=storage_url())
    assert [t["number"] for t in shown["trials"]] == [t.number for t in newest.get_trials()]
    assert [t["number"] for t in shown["trials"] if t["best"]] == [newest.best_trial.number]
    assert shown["finished"] == shown["budget"]
    assert main(["tune", "show", "--model", "loans"]) == 0
    lines = capsys.readouterr().out.splitlines()
    best_lines = [line for line in lines if line.startswith("  *")]
    assert len(best_lines) == 1 and best_lines[0].split()[1] == str(newest.best_trial.number)
    # One line per trial, numbered (a surplus trial refused before sampling has no params to show).
    numbered = [
        line for line in lines if line.replace("*", " ").split()[:1] and line.replace("*", " ").split()[0].isdigit()
    ]
    assert len(numbered) == len(newest.get_trials())
    assert main(["tune", "show", "--model", "nosuchmodel"]) == 2
    assert "no tuning study for model 'nosuchmodel'" in capsys.readouterr().err


def test_the_dashboard_serves_the_studies_read_only(tuned: Tuned, monkeypatch) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(tuned.home.root))
    server = make_server("127.0.0.1", 0, dashboard_app(open_storage(storage_url())), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=30) as response:
            names = [study["study_name"] for study in json.load(response)["study_summaries"]]
        assert set(names) == set(tuned.studies())
        for method, path in (("POST", "/api/studies"), ("DELETE", "/api/studies/1")):
            request = urllib.request.Request(f"{base}{path}", data=b"{}", method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 403
        assert set(tuned.studies()) == set(names), "the dashboard changed the storage"
    finally:
        server.shutdown()
        server.server_close()


def test_tune_dashboard_command_serves_on_loopback_until_stopped(tuned: Tuned) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    env = subprocess_env(ASSET_PLATFORM_HOME=str(tuned.home.root), PYTHONUNBUFFERED="1")
    env.pop("ASSET_PLATFORM_TUNING_DB", None)
    command = [sys.executable, "-m", "asset_platform.app.cli", "tune", "dashboard", "--model", "loans", "--port", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        assert "optuna-dashboard (read-only)" in first and "http://127.0.0.1:" in first, server.stderr.read()
        assert "/dashboard/studies/" in server.stdout.readline()
        base = first.split("http://", 1)[1].split("/dashboard")[0]
        with urllib.request.urlopen(f"http://{base}/api/studies", timeout=30) as response:
            assert response.status == 200 and json.load(response)["study_summaries"]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        assert code == 0, server.stderr.read()[-3000:]
