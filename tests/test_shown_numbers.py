"""Numbers shown in the UI's metadata: four significant digits, whatever their size; inf and NaN as they are."""

import math

import pytest

from asset_platform.reports.numbers import shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.87654320987, 0.8765), (0.000123456, 0.0001235), (12345.6, 12350.0), (-2.00049, -2.0), (3, 3.0), (0, 0.0)],
)
def test_four_significant_digits(value, expected):
    assert shown(value) == expected


def test_infinities_and_nan_pass_through():
    assert shown(float("inf")) == float("inf") and shown(float("-inf")) == float("-inf")
    assert math.isnan(shown(float("nan")))
