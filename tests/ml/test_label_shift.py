"""The label (prior) shift's effect size, as the performance asset reports it."""

from __future__ import annotations

import math

import pytest

from asset_platform.ml.metrics import label_shift_effect


def test_a_doubled_positive_rate_is_past_cohens_small_effect_and_sampling_noise_is_not() -> None:
    doubled = label_shift_effect("binary_classification", 0.2, 0.1, None)
    assert doubled == pytest.approx(2 * math.asin(math.sqrt(0.2)) - 2 * math.asin(math.sqrt(0.1)))
    assert doubled > 0.2
    # One standard error of a 10 % rate on 500 rows.
    assert label_shift_effect("binary_classification", 0.1134, 0.1, None) < 0.05


def test_a_regression_shift_is_measured_in_the_training_labels_spread() -> None:
    assert label_shift_effect("regression", 42.0, 30.0, 20.0) == pytest.approx(0.6)
    assert label_shift_effect("regression", 42.0, 30.0, None) is None  # a reference profile from before the spread
