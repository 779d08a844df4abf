"""Report helpers: markdown table, summary floats, and small embedded histograms."""

from __future__ import annotations

import pytest

from asset_platform.drift import (
    DriftPolicy,
    ReferenceProfile,
    assess_batch,
    compute_drift,
    drift_histograms_markdown,
    drift_summary,
    drift_table_markdown,
    feature_histogram_markdown,
)
from tests.drift.demo_data import demo_batch

MAX_IMAGE_CHARS = 40_000  # "a few tens of KB" per image, base64 included


@pytest.fixture(scope="module")
def covariate(demo_profile: ReferenceProfile):
    results = compute_drift(demo_profile, demo_batch(scenario="covariate"), "2026-02-01")
    return results, assess_batch(results, DriftPolicy())


def test_table_has_a_row_per_feature_most_drifted_first(covariate) -> None:
    results, _ = covariate
    lines = drift_table_markdown(results).splitlines()
    assert lines[0].startswith("| feature | kind | level | PSI |")
    assert len(lines) == 2 + len(results.features)
    assert lines[2].startswith("| price | numeric | alert |")


def test_table_reads_back_as_written_for_the_pages(covariate) -> None:
    from asset_platform.drift.report import read_drift_table_markdown

    table = drift_table_markdown(covariate[0])
    rows = read_drift_table_markdown(table)
    assert len(rows) == len(covariate[0].features)
    assert rows[0]["feature"] == "price" and rows[0]["level"] == "alert"
    assert rows[0]["psi"] > DriftPolicy().psi.alert


def test_table_shows_errors(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="missing_column"))
    assert "error: column 'device' is missing from the batch" in drift_table_markdown(results)


def test_summary_floats(covariate) -> None:
    results, assessment = covariate
    summary = drift_summary(results, assessment)
    assert summary["drift_share"] == pytest.approx(assessment.drift_share)
    assert summary["max_psi"] == pytest.approx(results.feature("price").psi)
    assert summary["prediction_psi"] == pytest.approx(results.feature("prediction").psi)
    assert summary["drifted_features"] == float(len(assessment.drifted_features))
    assert all(isinstance(value, float) for value in summary.values())
    assert "prediction_psi" not in drift_summary(results, assessment, prediction="score")


def test_histograms_are_small_markdown_images_of_the_most_drifted(covariate) -> None:
    results, _ = covariate
    images = drift_histograms_markdown(results, top=2).split("\n\n")
    assert len(images) == 2
    assert images[0].startswith("![price reference vs batch](data:image/png;base64,")
    assert all(len(image) < MAX_IMAGE_CHARS for image in images)


def test_categorical_histogram(demo_profile: ReferenceProfile) -> None:
    results = compute_drift(demo_profile, demo_batch(scenario="category_mix"))
    image = feature_histogram_markdown(results.feature("channel"))
    assert image.startswith("![channel reference vs batch](data:image/png;base64,")
    assert len(image) < MAX_IMAGE_CHARS
