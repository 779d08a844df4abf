"""A reference above `sketch_rows`: cut points from KLL sketches, counts exact, the KS bound recorded.

Small data with the threshold set low, so both ways of building the profile run on the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asset_platform.drift import DriftInputError, DriftPolicy, ReferenceProfile, assess_batch, compute_drift
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.drift.profile import DEFAULT_SKETCH_ROWS, build_profile, build_profile_parquet

ROWS = 200_000
NUMERIC, CATEGORICAL = ["amount", "visits", "score"], ["segment"]
# The numeric keys of a profile built by sorting, as they were before profiles could be built from sketches.
EXACT_NUMERIC_KEYS = {"name", "n_rows", "missing", "mean", "std", "minimum", "maximum", "edges", "counts"}
EXACT_NUMERIC_KEYS |= {"sample", "sample_error"}


def _frame(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 0.8, rows)
    amount[rng.random(rows) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "visits": rng.poisson(3, rows),
            "score": rng.normal(shift, 1.0, rows),
            "segment": rng.choice(np.array(list("abcdefgh"), dtype=object), rows),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _frame(ROWS)


@pytest.fixture(scope="module")
def exact(reference: pd.DataFrame) -> ReferenceProfile:
    return build_profile(reference, NUMERIC, CATEGORICAL)


@pytest.fixture(scope="module")
def sketched(reference: pd.DataFrame) -> ReferenceProfile:
    return build_profile(reference, NUMERIC, CATEGORICAL, sketch_rows=1_000)


def _values(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame[name].to_numpy(dtype=float)
    return np.sort(values[np.isfinite(values)])


def test_counts_are_exact_in_the_sketch_cut_points(reference: pd.DataFrame, sketched: ReferenceProfile) -> None:
    assert sketched.sketch is not None and sketched.sketch["method"] == "kll_doubles_sketch"
    for name in NUMERIC:
        profile, values = sketched.numeric[name], _values(reference, name)
        expected, _ = np.histogram(values, bins=[-np.inf, *profile.edges, np.inf])
        assert profile.counts == tuple(expected.tolist())
        assert profile.missing == len(reference) - values.size
        assert (profile.minimum, profile.maximum) == (values[0], values[-1])
        assert profile.mean == pytest.approx(values.mean(), rel=1e-12)
        assert profile.std == pytest.approx(values.std(), rel=1e-9)


def test_categories_are_those_of_the_sorted_profile(exact: ReferenceProfile, sketched: ReferenceProfile) -> None:
    assert sketched.categorical == exact.categorical


def test_cut_points_lie_within_the_sketch_rank_error(reference: pd.DataFrame, sketched: ReferenceProfile) -> None:
    # The recorded error holds for 99 % of single ranks; twice it is some five standard deviations of the
    # sketch's rank error, so no placement here may miss it.
    allowed = 2 * sketched.sketch["rank_error"]
    for name in NUMERIC:
        profile, values = sketched.numeric[name], _values(reference, name)
        n = values.size
        edges = np.asarray(profile.edges)
        # Each edge's rank interval [values below it, values up to it] / n, widened by the error, holds the
        # level of a quantile it stands for (a discrete feature's repeated quantiles share one edge).
        below, upto = np.searchsorted(values, edges, "left") / n, np.searchsorted(values, edges, "right") / n
        for level in np.arange(1, sketched.bins) / sketched.bins:
            assert np.any((below - allowed <= level) & (level <= upto + allowed + 1 / n)), (name, level)
        assert len(edges) == len(np.unique(np.quantile(values, np.arange(1, sketched.bins) / sketched.bins)))
        # The sample: one value per stratum of the sorted reference, each within the error of its stratum.
        sample = np.asarray(profile.sample)
        below, upto = np.searchsorted(values, sample, "left") / n, np.searchsorted(values, sample, "right") / n
        strata = np.arange(len(sample) + 1) / len(sample)
        assert np.all(upto >= strata[:-1] - allowed) and np.all(below <= strata[1:] + allowed), name


def test_ks_bound_is_the_largest_cell_share_and_recorded(reference: pd.DataFrame, sketched: ReferenceProfile) -> None:
    rank_error = sketched.sketch["rank_error"]
    for name in NUMERIC:
        profile, values = sketched.numeric[name], _values(reference, name)
        cuts = np.unique(np.concatenate((profile.sample, profile.edges, [profile.minimum, profile.maximum])))
        inside = np.searchsorted(values, cuts[1:], "left") - np.searchsorted(values, cuts[:-1], "right")
        assert profile.ks_bound == inside.max() / values.size
        # Adjacent sample strata are at most 2 / sample_size apart, each cut within the rank error.
        assert profile.ks_bound <= 2 / sketched.sample_size + 2 * rank_error
        # The sample's ECDF error as measured, against both step functions evaluated at every jump.
        sample = np.sort(profile.sample)
        points = np.unique(np.concatenate((values, sample)))
        gaps = [
            np.abs(
                np.searchsorted(sample, points, side) / sample.size
                - np.searchsorted(values, points, side) / values.size
            )
            for side in ("left", "right")
        ]
        assert profile.sample_ecdf_error == pytest.approx(max(gap.max() for gap in gaps), abs=1e-15)
        assert profile.sample_ecdf_error <= 1 / sketched.sample_size + 1 / values.size + 2 * rank_error
    assert sketched.ks_bound == max(p.ks_bound for p in sketched.numeric.values())
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(sketched.to_dict())))
    assert restored == sketched and restored.ks_bound == sketched.ks_bound


def test_up_to_the_threshold_the_profile_is_todays(reference: pd.DataFrame, exact: ReferenceProfile) -> None:
    at_threshold = build_profile(reference, NUMERIC, CATEGORICAL, sketch_rows=len(reference))
    assert at_threshold.to_dict() == exact.to_dict()
    data = exact.to_dict()
    assert "sketch" not in data and exact.ks_bound is None
    assert all(set(item) == EXACT_NUMERIC_KEYS for item in data["numeric"])
    assert len(reference) <= DEFAULT_SKETCH_ROWS == DriftMonitor().reference_sketch_rows


def test_parquet_reference_streams_with_exact_counts(tmp_path: Path) -> None:
    frame = _frame(30_000, seed=3).assign(tier=lambda f: np.where(np.arange(len(f)) % 7 == 0, None, f["visits"] % 3))
    frame["tier"] = frame["tier"].astype("Int64")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Integers with nulls kept as pandas' nullable "Int64" ("1"), and written without pandas metadata (as Spark
    # writes them) read as floats ("1.0"): in every chunk as in the whole column.
    for keep_metadata, category in ((True, "1"), (False, "1.0")):
        path = tmp_path / f"reference-{keep_metadata}.parquet"
        pq.write_table(table if keep_metadata else table.replace_schema_metadata(), path, row_group_size=4_000)
        whole = pd.read_parquet(path)
        exact = build_profile(whole, NUMERIC, [*CATEGORICAL, "tier"])
        assert category in exact.categorical["tier"].categories
        assert build_profile_parquet(path, NUMERIC, [*CATEGORICAL, "tier"]) == exact
        streamed = build_profile_parquet(path, NUMERIC, [*CATEGORICAL, "tier"], sketch_rows=5_000, chunk_rows=3_000)
        assert streamed.sketch is not None and streamed.categorical == exact.categorical
        for name in NUMERIC:
            profile = streamed.numeric[name]
            expected, _ = np.histogram(_values(whole, name), bins=[-np.inf, *profile.edges, np.inf])
            assert profile.counts == tuple(expected.tolist())


def test_a_small_shift_is_judged_alike_on_both_profiles(exact: ReferenceProfile, sketched: ReferenceProfile) -> None:
    batch = _frame(50_000, seed=9, shift=0.2)  # "score" moved by 0.2 of its standard deviation
    policy = DriftPolicy()
    verdicts = {}
    for built, profile in (("exact", exact), ("sketch", sketched)):
        results = compute_drift(profile, batch)
        shifted = results.feature("score")
        assert shifted.wasserstein == pytest.approx(0.2, abs=0.02)
        assert shifted.ks_pvalue < 1e-12
        verdicts[built] = {v.name: v.level for v in assess_batch(results, policy).verdicts}
    assert verdicts["sketch"] == verdicts["exact"]
    assert verdicts["sketch"]["score"] != "pass"
    for name in ("amount", "visits"):
        assert verdicts["sketch"][name] == "pass"


@pytest.mark.parametrize("threshold", [0, -5, 2.5, "2M", True, None])
def test_a_bad_threshold_is_named(reference: pd.DataFrame, threshold: object) -> None:
    with pytest.raises(ValueError, match="sketch_rows"):
        build_profile(reference.head(100), NUMERIC, CATEGORICAL, sketch_rows=threshold)  # type: ignore[arg-type]


def test_a_bad_resource_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="reference_sketch_rows"):
        DriftMonitor(reference_sketch_rows=0)


def test_a_non_numeric_feature_is_named_when_sketched(reference: pd.DataFrame) -> None:
    with pytest.raises(DriftInputError, match="'segment' is not numeric"):
        build_profile(reference.head(5_000), ["amount", "segment"], [], sketch_rows=1_000)
    empty = reference.head(5_000).assign(amount=np.nan)
    with pytest.raises(DriftInputError, match="'amount' has no non-missing values"):
        build_profile(empty, ["amount"], [], sketch_rows=1_000)
