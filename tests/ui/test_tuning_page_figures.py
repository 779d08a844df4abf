"""The tuning page from a small Optuna study in a temporary SQLite storage: no webserver, no browser.

The study is made as the tuning workers make theirs (user attrs model, model_asset, metric, budget);
one model version records that it trained with the best trial (`tuning/study`, `tuning/trial`),
as `lifecycle/training.py` writes it, in an ephemeral Dagster instance.
"""

from __future__ import annotations

import math
from pathlib import Path

import dagster as dg
import optuna
import pytest

from asset_platform.app.pages.tuning_data import (
    STUDY_ENTRY,
    TRIAL_ENTRY,
    open_read_only,
    produced_versions,
    read_studies,
    study_storage_url,
)
from asset_platform.app.pages.tuning_figures import importance_figure, parallel_coordinates, trials_table
from asset_platform.app.pages.tuning_page import NO_STUDY, NO_TUNING, tuning_page_parts
from asset_platform.lifecycle.build import lifecycle_names
from asset_platform.tuning.storage import TuningStore
from assets.ecommerce import ecommerce
from definitions import project_declarations

[DELIVERIES] = [declaration for declaration in project_declarations() if declaration.name == "deliveries"]
NAMES = lifecycle_names(DELIVERIES)
VERSION = "0123456789abcdef0123456789abcdef"
STUDY = "deliveries.lightgbm_model.data-x.code-y"


def _objective(trial: optuna.Trial) -> float:
    rate = trial.suggest_float("learning_rate", 0.01, 0.3, log=True)
    leaves = trial.suggest_int("num_leaves", 8, 64)
    boosting = trial.suggest_categorical("boosting", ["gbdt", "dart"])
    if trial.number == 3:
        raise optuna.TrialPruned()
    return 10 + 20 * rate + leaves / 64 + (boosting == "dart")


def write_study(home: Path) -> str:
    """One finished study of deliveries' lightgbm_model in `home`'s tuning storage; returns its URL."""
    (home / "tuning").mkdir(exist_ok=True)
    url = _url(home)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=STUDY, storage=url, direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    for name, value in (("model", "deliveries"), ("model_asset", "lightgbm_model"), ("metric", "rmse")):
        study.set_user_attr(name, value)
    study.set_user_attr("budget", 8)
    study.optimize(_objective, n_trials=8)
    return url


def event_log(home: Path) -> dg.DagsterInstance:
    """An ephemeral event log in which one lightgbm_model version trained with the study's best trial."""
    study = optuna.load_study(study_name=STUDY, storage=_url(home))
    instance = dg.DagsterInstance.ephemeral()
    metadata = {STUDY_ENTRY: study.study_name, TRIAL_ENTRY: study.best_trial.number}
    tags = {"dagster/data_version": VERSION}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(NAMES.key("lightgbm_model"), metadata=metadata, tags=tags)
    )
    return instance


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("tuning-home")
    write_study(home)
    return home


@pytest.fixture(scope="module")
def instance(home: Path) -> dg.DagsterInstance:
    return event_log(home)


def _url(home: Path) -> str:
    return f"sqlite:///{home / 'tuning' / 'studies.sqlite3'}"


def test_the_storage_is_the_homes_and_none_where_no_study_was_written(home: Path, tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert study_storage_url(TuningStore(home=str(home)), instance) == _url(home)
    assert study_storage_url(TuningStore(home=str(tmp_path)), instance) is None
    assert not (tmp_path / "tuning").exists(), "reading a page must not create the tuning folder"
    (tmp_path / "tuning").mkdir()
    assert study_storage_url(TuningStore(home=str(tmp_path)), instance) is None
    assert not (tmp_path / "tuning" / "studies.sqlite3").exists()


def test_each_trial_is_a_line_from_its_params_to_its_score(home: Path, instance: dg.DagsterInstance) -> None:
    [study] = read_studies(open_read_only(_url(home)), "deliveries", produced_versions(instance, NAMES))
    assert (study.model_asset, study.metric, study.direction, study.budget) == ("lightgbm_model", "rmse", "minimize", 8)
    assert [t.state for t in study.trials].count("PRUNED") == 1 and len(study.complete) == 7
    figure = parallel_coordinates("deliveries", study)
    assert figure is not None
    dimensions = {d["label"]: d for d in figure["data"][0]["dimensions"]}
    assert list(dimensions) == ["boosting", "learning_rate (log)", "num_leaves", "rmse"]
    assert dimensions["boosting"]["ticktext"] == ["gbdt", "dart"]
    rates = [t.params["learning_rate"] for t in study.complete]
    assert dimensions["learning_rate (log)"]["values"] == pytest.approx([math.log10(r) for r in rates])
    assert dimensions["rmse"]["values"] == [t.value for t in study.complete]
    assert figure["data"][0]["line"]["reversescale"] is True  # smaller rmse is better: the bright end


def test_importances_rank_the_params_and_the_best_trial_links_its_version(
    home: Path, instance: dg.DagsterInstance
) -> None:
    [study] = read_studies(open_read_only(_url(home)), "deliveries", produced_versions(instance, NAMES))
    assert set(study.importances) == {"boosting", "learning_rate", "num_leaves"}
    assert sum(study.importances.values()) == pytest.approx(1.0)
    bars = importance_figure("deliveries", study)["data"][0]
    assert bars["x"] == sorted(bars["x"], reverse=True)
    best = study.best
    assert best is not None and [p.version for p in best.produced] == [VERSION]
    table = trials_table("deliveries", study)
    first_row = table.split("<tbody>")[1].split("</tr>")[0]
    assert f'data-trial="{best.number}"' in first_row and VERSION[:12] in first_row and "best" in first_row
    assert sum(VERSION[:12] in row for row in table.split("</tr>")) == 1


def test_the_page_says_when_a_model_declares_no_tuning_or_has_no_study_yet(
    home: Path, instance: dg.DagsterInstance
) -> None:
    names = lifecycle_names(ecommerce)
    _title, body, figures = tuning_page_parts(instance, ecommerce, names, _url(home))
    assert NO_TUNING in body and not figures
    _title, body, figures = tuning_page_parts(instance, DELIVERIES, NAMES, None)
    assert NO_STUDY in body and "deliveries/lightgbm_tuning" in body and not figures
    _title, body, figures = tuning_page_parts(instance, DELIVERIES, NAMES, _url(home))
    assert set(figures) == {"parcoords_lightgbm_model", "importance_lightgbm_model"}
    assert 'href="/assets/deliveries/lightgbm_tuning"' in body


def test_a_study_without_two_complete_trials_says_why_it_has_no_importances(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    study = optuna.create_study(study_name="m.a.data-x.code-y", storage=url)
    study.set_user_attr("model", "m")
    study.set_user_attr("model_asset", "a_model")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    [found] = read_studies(open_read_only(url), "m", {})
    assert found.importances == {} and "1 complete trial" in found.importance_note
    assert importance_figure("m", found) is None
    assert parallel_coordinates("m", found) is not None
