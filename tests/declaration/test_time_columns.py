"""Data without a per-row timestamp: a time column that is a date or a period (a year, a year-month), or no
time column at all (rows timed by their file's landing); and event times bounded in the past as they arrive.

The past bound (`max_past_skew_days`) counts from the newest data the champion learned from, never from
today, so data on fixed dates (the demo's) is judged the same whenever the suite runs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from asset_platform.app.demo import LoopState, tick
from asset_platform.app.serve import prepare_dagster_home
from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.declaration.contract import contract_schema, normalize_times
from asset_platform.declaration.model import LANDED_AT
from asset_platform.home import PlatformHome
from asset_platform.lifecycle import lifecycle_names
from asset_platform.lifecycle.features import SplitConfig, learning_window
from asset_platform.lifecycle.names import DRIFT, PREDICTIONS, TRAINING_SET
from asset_platform.lifecycle.past_bound import champion_learned_until
from asset_platform.resources.local import local_resources
from asset_platform.validation.checks import check_against_schema
from definitions import build_definitions
from tests.hardening import helpers as demo

THIS_YEAR = dt.date.today().year
ROWS = 400
COLUMNS = [
    {"name": "person_id", "dtype": "str"},
    {"name": "year", "dtype": "year"},
    {"name": "age", "dtype": "int", "min": 16, "max": 100},
    {"name": "hours", "dtype": "float", "min": 0},
    {"name": "sector", "dtype": "str"},
    {"name": "high_income", "dtype": "int"},
]


def census(**changes) -> ModelDeclaration:
    """A census-like model whose only time is the survey year."""
    fields = {
        "name": "census",
        "task": "binary_classification",
        "id_column": "person_id",
        "label_column": "high_income",
        "time_column": "year",
        "columns": COLUMNS,
        "models": [{"family": "lightgbm", "params": {"num_leaves": 7, "max_rounds": 40}}],
        "gate": {"resamples": 60},
        "retraining": {"window_days": 1100},
    }
    fields.update(changes)
    return ModelDeclaration(**fields)


def without_time() -> ModelDeclaration:
    """The same data declared with no time column at all."""
    columns = [column for column in COLUMNS if column["name"] != "year"]
    return census(name="untimed", time_column=None, columns=columns, retraining={"window_days": 30})


def people(year: int, seed: int, rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng([seed, year])
    age = rng.integers(18, 80, rows)
    hours = rng.gamma(6.0, 6.5, rows)
    sector = rng.choice(["public", "private", "self"], rows)
    logit = -3 + 0.04 * (age - 18) + 0.05 * (hours - 35) + 0.7 * (sector == "self")
    return pd.DataFrame(
        {
            "person_id": [f"P{year}-{seed}-{i:05d}" for i in range(rows)],
            "year": np.full(rows, year, dtype=np.int64),
            "age": age.astype(np.int64),
            "hours": hours,
            "sector": sector,
            "high_income": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64),
        }
    )


def land(folder: Path, name: str, frame: pd.DataFrame, landed: dt.datetime | None = None) -> Path:
    """Write a file under a hidden name and rename it, as the README says; optionally dated `landed`."""
    folder.mkdir(parents=True, exist_ok=True)
    hidden, path = folder / f".{name}.parquet", folder / f"{name}.parquet"
    frame.to_parquet(hidden)
    if landed is not None:
        stamp = landed.timestamp()
        os.utime(hidden, (stamp, stamp))
    hidden.rename(path)
    return path


def _summary(
    declaration: ModelDeclaration,
    frame: pd.DataFrame,
    learned_until: pd.Timestamp | None = None,
    now: pd.Timestamp | None = None,
) -> str:
    schema = contract_schema(declaration, with_label=True, learned_until=learned_until, now=now)
    return check_against_schema(normalize_times(frame, declaration), schema).summary()


# -- the declaration ----------------------------------------------------------------------------------


def test_a_year_or_a_month_is_read_as_the_instant_its_period_starts() -> None:
    frame = normalize_times(people(2021, 1, rows=3), census())
    assert frame["year"].tolist() == [pd.Timestamp("2021-01-01", tz="UTC")] * 3
    monthly = census(
        columns=[{**c, "dtype": "month"} if c["name"] == "year" else c for c in COLUMNS],
        retraining={"window_days": 62},
    )
    months = people(2021, 1, rows=3).assign(year=["2021-03", "2021-12", "21-3"])
    assert normalize_times(months, monthly)["year"].tolist()[:2] == [
        pd.Timestamp("2021-03-01", tz="UTC"),
        pd.Timestamp("2021-12-01", tz="UTC"),
    ]
    # Something that is not a year-month is missing, which the contract names.
    assert "year not_nullable: 1" in _summary(monthly, months)


def test_a_year_that_is_no_whole_year_is_invalid_and_named() -> None:
    frame = people(2021, 1, rows=4).astype({"year": "float64"})
    frame.loc[1, "year"], frame.loc[2, "year"] = 2021.5, 202105
    assert _summary(census(), frame) == "2 of 4 rows invalid (year not_nullable: 2)"


def test_a_time_column_of_another_dtype_is_refused_naming_the_dtypes_it_may_have() -> None:
    with pytest.raises(DeclarationError, match="field 'time_column'.*'age' has dtype int.*year.*month"):
        census(time_column="age")


def test_a_retraining_window_shorter_than_two_periods_is_refused() -> None:
    with pytest.raises(DeclarationError, match="field 'retraining.window_days'.*single year.*at least 732"):
        census(retraining={"window_days": 4})
    assert census(retraining={"window_days": None}).retraining.window_days is None


def test_a_declaration_without_a_time_column_needs_files_to_time_its_rows() -> None:
    with pytest.raises(DeclarationError, match="field 'time_column'.*history_asset has no files"):
        census(time_column=None, columns=COLUMNS[:1] + COLUMNS[2:], landing={"history_asset": ["upstream"]})


# -- the past bound and the retraining window --------------------------------------------------------


# A census champion whose newest survey year is 2025, judged from a day long after it.
CHAMPION_DATA_UNTIL = pd.Timestamp("2025-01-01", tz="UTC")
FAR_FUTURE = pd.Timestamp("2040-06-01", tz="UTC")


def test_a_batch_dated_years_before_the_champions_data_is_refused_on_arrival_naming_the_time_column() -> None:
    declaration = census()
    old = people(2015, 2, rows=5)
    until = CHAMPION_DATA_UNTIL
    assert "year not_before_champion_data_minus_365d: 5" in _summary(declaration, old, until, FAR_FUTURE)
    # The year before the champion's newest one ended within the bound, fifteen years before `now` or not.
    assert _summary(declaration, people(2024, 2, rows=5), until, FAR_FUTURE) == "all 5 rows valid"
    # No champion yet, history and re-read batches (which grow old by design), or no declared bound: no past bound.
    assert _summary(declaration, old) == "all 5 rows valid"
    assert _summary(census(max_past_skew_days=None), old, until) == "all 5 rows valid"


def test_a_batch_on_a_fixed_date_within_the_champions_data_passes_whatever_day_it_is_judged() -> None:
    """The demo lands batches on fixed 2026 days: they must never age into quarantine as the calendar moves."""
    declaration = demo.declaration()
    batch = demo.batch_frame(0)  # the first production day after the demo's history
    # The champion learned from the demo's history: its newest rows are on the day before the batch's.
    until = pd.Timestamp(demo.day_of(-1), tz="UTC") + pd.Timedelta(hours=23)
    for now in (pd.Timestamp.now(tz="UTC"), FAR_FUTURE, FAR_FUTURE + pd.Timedelta(days=3650)):
        assert _summary(declaration, batch, until, now) == f"all {len(batch)} rows valid"
    # The same day, ten years before the champion's data, is refused however recent `now` is.
    decade_back = batch.assign(event_time=batch["event_time"] - pd.Timedelta(days=3650))
    now = until + pd.Timedelta(days=1)
    assert "event_time not_before_champion_data_minus_365d" in _summary(declaration, decade_back, until, now)
    # The future bound still counts from the wall clock: a row from the future is always wrong.
    before = pd.Timestamp(demo.day_of(-3), tz="UTC")
    assert "event_time not_after_now_plus_24h" in _summary(declaration, batch, until, before)


def test_a_drift_since_years_back_never_widens_the_retraining_window() -> None:
    times = pd.date_range("2016-01-01", "2026-06-30", freq="D", tz="UTC")
    rows = pd.DataFrame({"at": times})
    newest = times.max()
    # A drifted batch dated ten years back: its start is the retrain's `since`.
    window = learning_window(rows, "at", SplitConfig(window_days=30, since="2016-03-01T00:00:00+00:00", min_rows=5))
    assert window["at"].min() == newest - pd.Timedelta(days=30)
    # A recent `since` still narrows the window to the evidence.
    recent = learning_window(rows, "at", SplitConfig(window_days=30, since="2026-06-25T00:00:00+00:00", min_rows=5))
    assert recent["at"].min() == pd.Timestamp("2026-06-25", tz="UTC")
    # Without a declared window (`window_days: null`, all history) the evidence decides.
    unbounded = learning_window(rows, "at", SplitConfig(window_days=None, since="2016-03-01", min_rows=5))
    assert unbounded["at"].min() == pd.Timestamp("2016-03-01", tz="UTC")


# -- end to end: train, score, retrain -------------------------------------------------------------------


@pytest.fixture
def loop(tmp_path, monkeypatch):
    """A function building (state, resources) for one declaration on a fresh home and instance."""
    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    with dg.DagsterInstance.get() as instance:

        def start(declaration: ModelDeclaration) -> LoopState:
            defs = build_definitions([declaration], resources)
            landing = resources["landing"].for_model(declaration).ensure()
            return LoopState(instance, defs, lifecycle_names(declaration), landing)

        yield start


def _materialization(results: list, key: dg.AssetKey) -> dict:
    for result in results:
        for event in result.get_asset_materialization_events():
            if event.asset_key == key:
                return {name: value.value for name, value in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key.to_user_string()}")


def _split(state: LoopState) -> dict:
    """The latest training set's split metadata (cutoff, window_start, ...)."""
    event = state.instance.get_latest_materialization_event(state.names.key(TRAINING_SET))
    assert event is not None and event.asset_materialization is not None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def _train(state: LoopState, run_config: dict | None = None, job: str | None = None):
    result = state.defs.resolve_job_def(job or state.names.training_job).execute_in_process(
        instance=state.instance, run_config=run_config
    )
    assert result.success
    return result


def test_a_declaration_with_only_a_year_trains_scores_and_retrains_within_its_window(loop) -> None:
    state = loop(census())
    names = state.names
    for year in range(THIS_YEAR - 6, THIS_YEAR):
        land(state.landing.history, f"survey_{year}", people(year, 1))
    registry = state.defs.resources["registry"]
    assert champion_learned_until(registry, names) is None  # no champion: no past bound yet
    _train(state)
    # The anchor of the past bound: the champion's newest survey year, recorded with its model version.
    assert champion_learned_until(registry, names) == pd.Timestamp(f"{THIS_YEAR - 1}-01-01", tz="UTC")
    split = _split(state)
    # The holdout is whole years: the 80 % quantile of six equal years falls on the fifth one's start.
    assert split["cutoff"] == f"{THIS_YEAR - 2}-01-01T00:00:00+00:00"

    batch = people(THIS_YEAR, 2)
    land(state.landing.production, f"survey_{THIS_YEAR}", batch.drop(columns=["high_income"]))
    scored = tick(state, names.batch_sensor)
    assert [result.success for result in scored] == [True]
    assert _materialization(scored, names.key(PREDICTIONS))["rows"] == ROWS
    drift = _materialization(scored, names.key(DRIFT))["assessment"]
    assert drift["batch_start"] == f"{THIS_YEAR}-01-01T00:00:00+00:00"

    # A batch from ten years before the champion's data is quarantined as it arrives, naming the time column.
    land(state.landing.production, "survey_old", people(THIS_YEAR - 10, 3).drop(columns=["high_income"]))
    old = tick(state, names.batch_sensor)
    assert [result.success for result in old] == [False]
    reason = next((state.landing.quarantine).glob("survey_old*.reason.txt")).read_text()
    assert "year not_before_champion_data_minus_365d" in reason
    behind = (pd.Timestamp(f"{THIS_YEAR - 1}-01-01") - pd.Timestamp(f"{THIS_YEAR - 10}-01-01")).days
    assert f"year dated {behind} days before the newest data the champion learned from ({THIS_YEAR - 1}-01-01)" in (
        reason
    )

    # Its start as the drift retrain's `since` would reach back a decade: the window stops at window_days.
    land(state.landing.labels, f"survey_{THIS_YEAR}", batch[["person_id", "high_income"]])
    config = {"window_days": 1100, "since": f"{THIS_YEAR - 10}-01-01T00:00:00+00:00", "min_rows": 100}
    _train(state, {"ops": {names.feature_op: {"config": config}}}, names.retraining_job)
    # The newest data is this year's batch: 1100 days back hold the three years before it, not ten.
    assert _split(state)["window_start"] == f"{THIS_YEAR - 3}-01-01T00:00:00+00:00"


def test_a_declaration_without_a_time_column_trains_and_scores_by_landing_time(loop) -> None:
    state = loop(without_time())
    names = state.names
    now = dt.datetime.now(dt.UTC)
    for index in range(5):
        frame = people(THIS_YEAR - 5 + index, 1).drop(columns=["year"])
        land(state.landing.history, f"export_{index}", frame, landed=now - dt.timedelta(days=10 - index))
    _train(state)
    # Each file's rows share its landing time; the newest file is the holdout.
    cutoff = pd.Timestamp(_split(state)["cutoff"])
    assert now - dt.timedelta(days=7) < cutoff <= now - dt.timedelta(days=6)

    path = land(state.landing.production, "export_new", people(THIS_YEAR, 2).drop(columns=["year", "high_income"]))
    scored = tick(state, names.batch_sensor)
    assert [result.success for result in scored] == [True]
    assert _materialization(scored, names.key(PREDICTIONS))["rows"] == ROWS
    landed = pd.Timestamp(path.stat().st_mtime_ns, unit="ns", tz="UTC")
    assert _materialization(scored, names.key(DRIFT))["assessment"]["batch_start"] == landed.isoformat()

    # A copy that kept a file's old modification time (cp -p, rsync -t) looks years older than the champion's
    # data (the newest history file's landing): quarantined, named.
    old = people(THIS_YEAR, 3).drop(columns=["year", "high_income"])
    land(state.landing.production, "export_copied", old, landed=now - dt.timedelta(days=3 * 365))
    assert [result.success for result in tick(state, names.batch_sensor)] == [False]
    reason = next(state.landing.quarantine.glob("export_copied*.reason.txt")).read_text()
    assert f"{LANDED_AT} not_before_champion_data_minus_365d" in reason
