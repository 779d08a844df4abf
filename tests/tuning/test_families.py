"""Each family's objective: LightGBM and torch report per round or epoch and can be pruned; sklearn is checked."""

from __future__ import annotations

import optuna
import pytest

from asset_platform.tuning.objective import STEPS_ATTR, TuningProblem, make_objective
from asset_platform.tuning.storage import open_storage
from asset_platform.tuning.study import load_or_create_study, study_identity
from asset_platform.tuning.worker import run_worker
from tests.tuning.tiny import training_set, tuned_declaration


def _declaration(family: dict, space: dict, trials: int, pruning: bool = True):
    data = tuned_declaration().model_dump(exclude_none=True)
    tuning = {"search_space": space, "trials": trials, "pruning": pruning, "seed": 1}
    data["models"] = [{**family, "tuning": tuning}]
    return type(tuned_declaration())(**data)


def _study(declaration, url: str):
    spec = declaration.models[0]
    frame, pipeline = training_set(declaration)
    args = (declaration.name, declaration.task, declaration.metric_name, spec)
    problem = TuningProblem.from_training_set(*args, frame, pipeline)
    identity = study_identity(declaration.name, spec, declaration.task, declaration.metric_name, frame, pipeline)
    study = load_or_create_study(identity, open_storage(url), spec)
    return study, problem


def test_torch_reports_every_epoch_and_a_poor_trial_is_pruned(tmp_path) -> None:
    declaration = _declaration(
        {"family": "torch", "params": {"max_epochs": 8, "patience": 8, "hidden": [8]}},
        {"learning_rate": {"low": 1e-5, "high": 3e-2, "log": True}},
        trials=10,
    )
    study, problem = _study(declaration, f"sqlite:///{tmp_path / 's.db'}")
    assert run_worker(study, make_objective(problem), 10) == 10
    trials = study.get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(sorted(t.intermediate_values) == list(range(1, t.user_attrs[STEPS_ATTR] + 1)) for t in complete)
    # AUC is maximized, the reported loss is minimized: reported values are flipped to the study's direction.
    assert all(value <= 0 for t in complete for value in t.intermediate_values.values())
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(t.user_attrs[STEPS_ATTR] < 8 for t in pruned)


def test_sklearn_trains_unpruned_and_refuses_a_parameter_its_estimator_lacks(tmp_path) -> None:
    family = {"family": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression"}
    declaration = _declaration(family, {"C": {"low": 0.01, "high": 10, "log": True}}, trials=3)
    study, problem = _study(declaration, f"sqlite:///{tmp_path / 's.db'}")
    assert run_worker(study, make_objective(problem), 3) == 3
    assert {t.state for t in study.get_trials()} == {optuna.trial.TrialState.COMPLETE}
    assert all(not t.intermediate_values for t in study.get_trials())
    wrong = _declaration(family, {"alpha": {"low": 0.01, "high": 10}}, trials=3)
    study, problem = _study(wrong, f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(ValueError, match="'alpha' in tuning.search_space is not a parameter of sklearn.linear_model"):
        make_objective(problem)


def test_lightgbm_without_pruning_reports_nothing_but_counts_rounds(tmp_path) -> None:
    declaration = tuned_declaration(trials=3, pruning=False)
    study, problem = _study(declaration, f"sqlite:///{tmp_path / 's.db'}")
    run_worker(study, make_objective(problem), 3)
    for trial in study.get_trials():
        assert not trial.intermediate_values and 0 < trial.user_attrs[STEPS_ATTR] <= 40


def test_cli_help_for_every_tune_command(capsys) -> None:
    from asset_platform.app.cli import main

    for argv in (["tune", "--help"], ["tune", "show", "--help"], ["tune", "dashboard", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0 and "usage: asset-platform tune" in capsys.readouterr().out
