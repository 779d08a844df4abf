"""Drift scenarios and landing batches: each drift is measurable, each file atomic."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from asset_platform.synthetic import (
    FEATURE_COLUMNS,
    SCENARIOS,
    batch_file_name,
    generate_events,
    get_scenario,
    write_batches,
)

DAY = datetime.date(2024, 3, 2)
SEED = 11
ROWS = 20_000
# Everything except the label: what a scenario that only relabels must not touch.
FEATURES_WITHOUT_LABEL = ["event_id", "event_time", *FEATURE_COLUMNS]
CATEGORY_VALUES = {
    "device": ["desktop", "mobile", "tablet"],
    "channel": ["ads", "direct", "email", "search", "social"],
    "country": ["BR", "DE", "FR", "GB", "IN", "JP", "US"],
    "product_category": ["beauty", "books", "electronics", "fashion", "home", "sports"],
}


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return generate_events(ROWS, DAY, SEED)


def drifted(scenario: str, intensity: float = 1.0) -> pd.DataFrame:
    return generate_events(ROWS, DAY, SEED, scenario=scenario, intensity=intensity)


def model_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    features = frame[list(FEATURE_COLUMNS)].copy()
    for column, values in CATEGORY_VALUES.items():
        features[column] = pd.Categorical(features[column], categories=values)
    return features


def test_registry_names_and_kinds() -> None:
    kinds = {name: scenario.kind for name, scenario in SCENARIOS.items()}
    assert kinds == {
        "covariate": "covariate",
        "category_mix": "covariate",
        "concept": "concept",
        "prior": "prior",
        "nulls": "quality",
        "out_of_range": "quality",
        "missing_column": "quality",
    }
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert len(scenario.description) > 40


@pytest.mark.parametrize("call", [lambda: get_scenario("seasonal"), lambda: drifted("seasonal")])
def test_unknown_scenario_lists_valid_names(call) -> None:
    with pytest.raises(ValueError, match="'seasonal'") as error:
        call()
    for name in SCENARIOS:
        assert name in str(error.value)


def test_scenario_output_is_deterministic() -> None:
    for name in SCENARIOS:
        first = generate_events(1_000, DAY, SEED, scenario=name)
        pd.testing.assert_frame_equal(first, generate_events(1_000, DAY, SEED, scenario=name))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_zero_intensity_changes_nothing(clean: pd.DataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(drifted(name, intensity=0.0), clean)


def test_covariate_shifts_numeric_features(clean: pd.DataFrame) -> None:
    shifted = drifted("covariate")
    assert shifted["price"].mean() / clean["price"].mean() > 1.5
    duration_ratio = shifted["session_duration_s"].mean() / clean["session_duration_s"].mean()
    assert duration_ratio < 0.7
    assert shifted["pages_viewed"].mean() < 0.8 * clean["pages_viewed"].mean()
    assert (shifted["pages_viewed"] >= 1).all()
    # Half the intensity gives part of the shift, not all of it.
    half = drifted("covariate", intensity=0.5)["price"].mean() / clean["price"].mean()
    assert 1.2 < half < 1.6


def test_category_mix_moves_device_and_channel(clean: pd.DataFrame) -> None:
    mixed = drifted("category_mix")
    before = clean["device"].value_counts(normalize=True)
    after = mixed["device"].value_counts(normalize=True)
    assert after["tablet"] - before["tablet"] >= 0.15
    assert before["desktop"] - after["desktop"] >= 0.15
    paid_social = ["social", "ads"]
    channel_before = clean["channel"].isin(paid_social).mean()
    assert mixed["channel"].isin(paid_social).mean() - channel_before >= 0.25
    untouched = ["price", "pages_viewed", "country", "product_category"]
    pd.testing.assert_frame_equal(mixed[untouched], clean[untouched])


def test_concept_keeps_features_but_breaks_a_clean_model(clean: pd.DataFrame) -> None:
    concept = drifted("concept")
    # Same sessions, so every feature statistic is unchanged (well within 2%).
    pd.testing.assert_frame_equal(concept[FEATURES_WITHOUT_LABEL], clean[FEATURES_WITHOUT_LABEL])
    rate_ratio = concept["converted"].mean() / clean["converted"].mean()
    assert 0.75 < rate_ratio < 1.25
    train = generate_events(ROWS, DAY - datetime.timedelta(days=1), SEED)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(model_matrix(train), train["converted"])

    def auc(frame: pd.DataFrame) -> float:
        return roc_auc_score(frame["converted"], model.predict_proba(model_matrix(frame))[:, 1])

    # Observed: about 0.81 on clean data and about 0.66 after the concept drift.
    assert auc(clean) - auc(concept) >= 0.08


def test_prior_raises_conversion_with_features_unchanged(clean: pd.DataFrame) -> None:
    prior = drifted("prior")
    pd.testing.assert_frame_equal(prior[FEATURES_WITHOUT_LABEL], clean[FEATURES_WITHOUT_LABEL])
    assert prior["converted"].mean() >= 1.6 * clean["converted"].mean()
    # Shared per-row uniforms: the sales season only adds buyers.
    assert (prior["converted"] >= clean["converted"]).all()


def test_nulls_blank_price_and_device(clean: pd.DataFrame) -> None:
    faulty = drifted("nulls")
    assert 0.27 <= faulty["price"].isna().mean() <= 0.33
    assert 0.27 <= faulty["device"].isna().mean() <= 0.33
    others = faulty.columns.drop(["price", "device"])
    pd.testing.assert_frame_equal(faulty[others], clean[others])


def test_out_of_range_values_appear(clean: pd.DataFrame) -> None:
    faulty = drifted("out_of_range")
    assert 0.04 <= (faulty["price"] < 0).mean() <= 0.06
    bad_hours = faulty["hour_of_day"][faulty["hour_of_day"] > 23]
    assert 0.04 <= len(bad_hours) / ROWS <= 0.06
    assert bad_hours.between(30, 40).all()
    assert 0.04 <= (faulty["discount_pct"] > 100).mean() <= 0.06
    assert str(faulty["hour_of_day"].dtype) == "int64"
    np.testing.assert_allclose(faulty["price"].abs(), clean["price"])


def test_missing_column_drops_device(clean: pd.DataFrame) -> None:
    faulty = drifted("missing_column")
    assert list(faulty.columns) == [column for column in clean.columns if column != "device"]


# --- landing batches --------------------------------------------------------

START = datetime.date(2024, 1, 30)


def test_batch_file_name() -> None:
    assert batch_file_name(datetime.date(2024, 3, 1)) == "events_2024-03-01.parquet"


def test_write_batches_names_files_by_day_and_creates_folder(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "events"
    paths = write_batches(landing, START, days=3, rows_per_day=50, seed=SEED)
    names = [
        "events_2024-01-30.parquet",
        "events_2024-01-31.parquet",
        "events_2024-02-01.parquet",
    ]
    assert [path.name for path in paths] == names
    # Only the batches: no temporary file survives a successful run.
    assert sorted(path.name for path in landing.iterdir()) == names
    stored = pd.read_parquet(paths[0])
    pd.testing.assert_frame_equal(stored, generate_events(50, START, SEED))


def test_scenario_starts_exactly_at_drift_day(tmp_path: Path) -> None:
    paths = write_batches(
        tmp_path,
        START,
        days=4,
        rows_per_day=200,
        seed=SEED,
        scenario="prior",
        drift_day=2,
    )
    for index, path in enumerate(paths):
        day = START + datetime.timedelta(days=index)
        scenario = "prior" if index >= 2 else None
        expected = generate_events(200, day, SEED, scenario=scenario)
        pd.testing.assert_frame_equal(pd.read_parquet(path), expected)


def test_scenario_without_drift_day_starts_on_first_day(tmp_path: Path) -> None:
    paths = write_batches(tmp_path, START, days=2, rows_per_day=20, seed=SEED, scenario="missing_column")
    assert all("device" not in pd.read_parquet(path).columns for path in paths)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"days": 0}, "days"),
        ({"rows_per_day": 0}, "rows_per_day"),
        ({"scenario": "prior", "drift_day": -1}, "drift_day"),
        ({"scenario": "prior", "drift_day": 3}, "drift_day"),
        ({"drift_day": 1}, "drift_day"),
        ({"scenario": "seasonal"}, "seasonal"),
    ],
)
def test_bad_arguments_raise_before_writing(tmp_path: Path, kwargs: dict, argument: str) -> None:
    call = {"days": 3, "rows_per_day": 10, "seed": SEED} | kwargs
    landing = tmp_path / "landing"
    with pytest.raises(ValueError, match=argument):
        write_batches(landing, START, **call)
    assert not landing.exists()


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    def broken_write(self, path, **kwargs) -> None:
        Path(path).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_batches(tmp_path, START, days=1, rows_per_day=10, seed=SEED)
    assert list(tmp_path.iterdir()) == []
