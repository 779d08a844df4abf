"""Training on big tables: a bounded, time-stratified, seeded sample of the window; a capped holdout slice."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.ml.features import FeaturePipeline, sample_by_time, time_split, training_rows
from tests.declaration.loans import loans_declaration, write_history

START = dt.date(2026, 5, 1)


def _rows(days: int = 5, per_day: tuple[int, ...] = (300, 900, 600, 1200, 500), positive_rate: float = 0.2):
    rng = np.random.default_rng(4)
    frames = []
    for day, count in zip(range(days), per_day, strict=True):
        at = pd.Timestamp("2026-05-01", tz="UTC") + pd.Timedelta(days=day)
        frames.append(
            pd.DataFrame({
                "id": [f"d{day}-{i}" for i in range(count)],
                "at": at + pd.to_timedelta(rng.integers(0, 86_400, count), unit="s"),
                "y": (rng.random(count) < positive_rate).astype(int),
            })
        )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_the_sample_keeps_each_days_and_each_classs_share_exactly_to_the_row():
    rows = _rows()
    sample = sample_by_time(rows, "at", "id", 1000, seed=0, class_column="y")
    assert len(sample) == 1000
    strata = ["day", "y"]
    full = rows.assign(day=rows["at"].dt.floor("D")).groupby(strata).size()
    kept = sample.assign(day=sample["at"].dt.floor("D")).groupby(strata).size().reindex(full.index, fill_value=0)
    # Proportional quotas, rounded by largest remainder: never more than one row off the exact share.
    assert (abs(kept - full * 1000 / len(rows)) < 1).all()


def test_the_sample_depends_on_the_rows_and_the_seed_not_their_order():
    rows = _rows()
    sample = set(sample_by_time(rows, "at", "id", 800, seed=3)["id"])
    shuffled = rows.sample(frac=1.0, random_state=11)
    assert set(sample_by_time(shuffled, "at", "id", 800, seed=3)["id"]) == sample
    other = set(sample_by_time(rows, "at", "id", 800, seed=4)["id"])
    assert other != sample and len(other) == len(sample) == 800


def test_a_window_within_the_cap_is_left_whole():
    rows = _rows()
    assert sample_by_time(rows, "at", "id", len(rows), seed=0) is rows
    assert sample_by_time(rows, "at", "id", None, seed=0) is rows


def test_the_holdout_cap_keeps_the_newest_slice_and_the_positives_it_needs():
    rows = _rows(positive_rate=0.02)
    train, holdout, cutoff = time_split(rows, "at", 0.3, max_holdout_rows=400)
    assert len(holdout) == 400 and train["at"].max() < cutoff <= holdout["at"].min()
    assert holdout["at"].min() == rows["at"].nlargest(400).min()  # the newest 400 rows, a full time slice
    # The positives the gate needs win over the cap: the slice reaches back until it holds them.
    _train, needed, _ = time_split(rows, "at", 0.3, "y", 20, max_holdout_rows=400)
    assert needed["y"].sum() >= 20 and len(needed) > 400


def test_a_pipeline_draws_the_same_training_sample_again():
    rows = _rows()
    train, _holdout, cutoff = time_split(rows, "at", 0.2)
    sample = sample_by_time(train, "at", "id", 900, seed=2, class_column="y")
    pipeline = FeaturePipeline("id", "at", "y", "binary_classification", {}, [], {}, cutoff=cutoff.isoformat())
    pipeline.window_start, pipeline.sample_rows, pipeline.sample_seed = rows["at"].min().isoformat(), 900, 2
    again = training_rows(rows.sample(frac=1.0, random_state=5), pipeline)
    assert set(again["id"]) == set(sample["id"])


@pytest.mark.parametrize(("training", "field"), [({"max_rows": 10}, "training.max_rows"), ({"rows": 5}, "training")])
def test_bad_training_sizes_fail_at_load_naming_the_field(training, field):
    fields = loans_declaration().model_dump(exclude_none=True)
    with pytest.raises(DeclarationError, match=field.replace(".", r"\.")):
        ModelDeclaration(**{**fields, "training": training})


def test_a_model_trained_on_a_sample_records_rows_used_of_rows_available(tmp_path, monkeypatch):
    from asset_platform.app.serve import prepare_dagster_home
    from asset_platform.home import PlatformHome
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    fields = loans_declaration().model_dump(exclude_none=True)
    fields.update(models=fields["models"][:1], training={"max_rows": 1200, "max_holdout_rows": 500})
    declaration = ModelDeclaration(**fields)
    home = PlatformHome(tmp_path).ensure()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    resources = local_resources(home)
    names = lifecycle_names(declaration)
    write_history(resources["landing"].for_model(declaration).ensure().history, START, 4, 800)
    with dg.DagsterInstance.get() as instance:
        job = build_definitions([declaration], resources).resolve_job_def(names.training_job)
        result = job.execute_in_process(instance=instance)
    assert result.success

    def metadata(asset: str) -> dict:
        events = [e for e in result.get_asset_materialization_events() if e.asset_key == names.key(asset)]
        return {name: value.value for name, value in events[-1].materialization.metadata.items()}

    split = metadata("training_set")
    assert split["training/rows_used"] == 1200 < split["training/rows_available"]
    model = metadata(declaration.models[0].asset_name)
    assert (model["training/rows_used"], model["training/rows_available"]) == (1200, split["training/rows_available"])
    holdout = result.output_for_node(names.feature_op, "holdout_set")
    assert 500 <= len(holdout) < 520  # the newest 500 rows (and any sharing the cut's second)
    # The drift reference is profiled on the very rows the champion trained on: the same sample, drawn again.
    assert metadata("reference_profile")["training_rows"] == 1200
