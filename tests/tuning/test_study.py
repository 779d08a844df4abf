"""Studies resume, never tune the same data and code twice, survive a killed worker, and keep an exact budget."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest

from asset_platform.tuning.objective import TuningProblem, make_objective
from asset_platform.tuning.storage import open_storage, storage_url
from asset_platform.tuning.study import load_or_create_study, study_identity
from asset_platform.tuning.summary import summarize
from asset_platform.tuning.worker import SURPLUS_ATTR, finished_trials, run_worker
from tests.conftest import subprocess_env
from tests.tuning.tiny import rows, training_set, tuned_declaration
from tests.tuning.worker_process import slow_problem

COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture(scope="module")
def tiny():
    declaration = tuned_declaration(trials=6, pruning=True)
    frame, pipeline = training_set(declaration)
    return declaration, frame, pipeline


def _tune(declaration, frame, pipeline, url: str, worker: int = 0):
    spec = declaration.models[0]
    args = (declaration.name, declaration.task, declaration.metric_name, spec)
    identity = study_identity(declaration.name, spec, declaration.task, declaration.metric_name, frame, pipeline)
    study = load_or_create_study(identity, open_storage(url), spec, worker=worker)
    problem = TuningProblem.from_training_set(*args, frame, pipeline)
    ran = run_worker(study, make_objective(problem), spec.tuning.trials)
    return study, ran, problem


def test_a_rerun_resumes_and_a_finished_study_is_reused(tiny, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASSET_PLATFORM_HOME", str(tmp_path))
    monkeypatch.delenv("ASSET_PLATFORM_TUNING_DB", raising=False)
    declaration, frame, pipeline = tiny
    url = storage_url()
    assert url == f"sqlite:///{tmp_path / 'tuning' / 'studies.sqlite3'}"
    study, ran, _ = _tune(declaration, frame, pipeline, url)
    assert ran == 6 and finished_trials(study) == 6
    again, ran_again, problem = _tune(declaration, frame, pipeline, url, worker=1)
    assert again.study_name == study.study_name and ran_again == 0
    assert len(again.get_trials()) == 6, "the same data and code tuned twice"
    value, metadata = summarize(again, problem, url)
    assert value["study"] == study.study_name and value["trial"] == again.best_trial.number
    assert metadata["best_value_ci_low"] <= value["best_value"] <= metadata["best_value_ci_high"]
    assert metadata["trials_complete"] + metadata["trials_pruned"] == 6


def test_new_data_or_a_new_search_space_names_a_new_study(tiny) -> None:
    declaration, frame, pipeline = tiny
    spec = declaration.models[0]
    same = (declaration.name, spec, declaration.task, declaration.metric_name)
    name = study_identity(*same, frame, pipeline).name
    assert study_identity(*same, frame.copy(), dict(pipeline)).name == name
    assert name.startswith("loans.lightgbm_model.data-")
    changed = frame.copy()
    changed.iloc[0, changed.columns.get_loc(pipeline["label_column"])] ^= 1
    assert study_identity(*same, changed, pipeline).name != name
    wider = tuned_declaration(trials=6, pruning=True)
    data = wider.model_dump(exclude_none=True)
    data["models"][0]["tuning"]["search_space"]["num_leaves"]["high"] = 64
    other = type(wider)(**data).models[0]
    assert study_identity(declaration.name, other, declaration.task, "auc", frame, pipeline).name != name
    more_trials = spec.model_copy(update={"tuning": spec.tuning.model_copy(update={"trials": 7})})
    assert study_identity(declaration.name, more_trials, declaration.task, "auc", frame, pipeline).name != name


def test_a_data_change_starts_a_new_study_in_the_storage(tiny, tmp_path) -> None:
    declaration, frame, pipeline = tiny
    url = f"sqlite:///{tmp_path / 'studies.sqlite3'}"
    first, _, _ = _tune(declaration, frame, pipeline, url)
    newer, newer_pipeline = training_set(declaration, rows(days=4, per_day=300, seed=2))
    second, ran, _ = _tune(declaration, newer, newer_pipeline, url)
    assert second.study_name != first.study_name and ran == 6
    assert len(optuna.get_all_study_names(open_storage(url))) == 2


def _worker(url: str, budget: int, worker: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.tuning.worker_process", url, str(budget), str(worker)]
    return subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_worker_loses_at_most_its_trial_and_the_rerun_finishes_exactly_the_budget(tmp_path) -> None:
    budget = 8
    url = f"sqlite:///{tmp_path / 'studies.sqlite3'}"
    problem, identity, spec = slow_problem(budget)
    victim = _worker(url, budget, worker=0)
    storage = open_storage(url)
    deadline = time.monotonic() + 240
    running_at_kill: list[int] = []
    while time.monotonic() < deadline and victim.poll() is None:
        try:
            trials = optuna.load_study(study_name=identity.name, storage=storage).get_trials(deepcopy=False)
        except KeyError:  # the worker has not created the study yet
            trials = []
        finished = sum(t.state in COUNTED for t in trials)
        running = [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        if finished >= budget // 2 - 1 and running:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            running_at_kill = running
            break
        time.sleep(0.05)
    assert running_at_kill, f"the worker finished or failed before it could be killed: {victim.stderr.read()!r}"
    killed = optuna.load_study(study_name=identity.name, storage=storage).get_trials(deepcopy=False)
    assert sum(t.state in COUNTED for t in killed) < budget
    # The re-run: two workers in parallel, in processes of their own.
    rerun = [_worker(url, budget, worker=1), _worker(url, budget, worker=2)]
    for process in rerun:
        assert process.wait(timeout=300) == 0, process.stderr.read().decode()[-2000:]
    trials = optuna.load_study(study_name=identity.name, storage=storage).get_trials(deepcopy=False)
    assert sum(t.state in COUNTED for t in trials) == budget, [(t.number, t.state.name) for t in trials]
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    lost = [t for t in trials if t.state == optuna.trial.TrialState.FAIL and not t.user_attrs.get(SURPLUS_ATTR)]
    assert len(lost) <= 1, "more trials lost than workers killed"
    # (The kill can, rarely, land just after the trial it interrupted had finished: then nothing was lost.)
    for trial in lost:
        assert trial.number in running_at_kill
        retried = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
        # Usually one retry; two when both re-run workers found the trial stale at the same moment
        # (Optuna fails a stale trial with a read-then-write that SQLite does not lock across
        # processes). Either way the budget above is exact and the retry runs the same params.
        assert 1 <= len(retried) <= 2 and any(t.state in COUNTED for t in retried), retried
        # A retry that found the budget already taken gave its slot up (surplus) before sampling anything.
        ran = [t for t in retried if not t.user_attrs.get(SURPLUS_ATTR)]
        assert ran
        # A kill between the trial's start and its first sample leaves it no params to repeat (a busy machine
        # widens that moment): its retry samples its own.
        if trial.params:
            assert all(t.params == trial.params for t in ran), "the retry runs the killed trial's params again"


@pytest.fixture
def postgres_url():
    from tests.deployments.containers import pg_query, start_postgres_if_down

    down = start_postgres_if_down()
    if down:
        pytest.skip(down)
    database = f"tuning_test_{uuid.uuid4().hex[:10]}"
    pg_query("postgres", f"CREATE DATABASE {database}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    finally:
        pg_query("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_studies_resume_on_postgresql(tiny, postgres_url) -> None:
    declaration, frame, pipeline = tiny
    study, ran, problem = _tune(declaration, frame, pipeline, postgres_url)
    assert ran == 6 and finished_trials(study) == 6
    again, ran_again, _ = _tune(declaration, frame, pipeline, postgres_url, worker=1)
    assert ran_again == 0 and len(again.get_trials()) == 6
    value, metadata = summarize(again, problem, "postgresql")
    assert value["best_params"] == again.best_trial.params
    assert optuna.get_all_study_names(open_storage(postgres_url)) == [study.study_name]


def test_on_a_postgres_instance_studies_live_in_its_database_in_a_schema_of_their_own(
    tiny, postgres_url, tmp_path, monkeypatch
) -> None:
    import shutil

    import dagster as dg
    from sqlalchemy.engine import make_url

    from asset_platform.tuning.storage import STUDY_SCHEMA
    from tests import REPO_ROOT
    from tests.deployments.containers import pg_query

    database = make_url(postgres_url).database
    shutil.copyfile(REPO_ROOT / "deployments" / "postgres" / "dagster.yaml", tmp_path / "dagster.yaml")
    for name, value in (("HOST", "127.0.0.1"), ("PORT", "5432"), ("USER", "postgres"), ("PASSWORD", "")):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    monkeypatch.setenv("DAGSTER_PG_DB", database)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("ASSET_PLATFORM_TUNING_DB", raising=False)
    with dg.DagsterInstance.get() as instance:
        url = storage_url(instance=instance)
    assert make_url(url).database == database and STUDY_SCHEMA in url
    declaration, frame, pipeline = tiny
    study, ran, _ = _tune(declaration, frame, pipeline, url)
    assert ran == 6
    query = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{STUDY_SCHEMA}'"
    tables = pg_query(database, query)
    assert ("studies",) in tables and ("trials",) in tables
    monkeypatch.setenv("ASSET_PLATFORM_TUNING_DB", "sqlite:///elsewhere.db")
    assert storage_url(instance=instance) == "sqlite:///elsewhere.db", "the explicit setting wins"
