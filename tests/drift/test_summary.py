"""The mergeable batch summary: in memory, streamed from Parquet in chunks, or merged from parts, one result."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from fractions import Fraction
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asset_platform.drift import (
    BatchSummary,
    ReferenceProfile,
    SummaryMismatchError,
    build_profile,
    compute_drift,
    drift_from_summary,
    summarize,
    summarize_parquet,
)
from asset_platform.exact_sums import exact_sums
from asset_platform.landing import read_table

NUMERIC = ["x", "n", "wild"]
CATEGORICAL = ["c", "store"]
ROWS = 7 * 571  # seven chunks of an odd size


def _frame(rows: int, seed: int, shift: float = 0.0, extremes: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, rows)
    x[rng.random(rows) < 0.05] = np.nan
    x[rng.random(rows) < 0.01] = np.inf
    x[rng.random(rows) < 0.01] = -np.inf
    wild = rng.standard_cauchy(rows) * 1e6
    if extremes:  # a square that overflows, a tiny value, a subnormal
        wild[:3] = [1e200, -1e-300, 5e-324]
    c = rng.choice(["web", "app", "store", "phone", "kiosk"], rows).astype(object)
    c[rng.random(rows) < 0.04] = None
    store = pd.array(rng.integers(0, 6, rows), dtype="Int64")  # an integer category with nulls in one place
    store[rows // 2 : rows // 2 + 9] = pd.NA
    return pd.DataFrame({"x": x, "n": rng.poisson(4 + shift, rows), "wild": wild, "c": c, "store": store})


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    reference = _frame(3000, seed=1, extremes=False)
    reference = reference[~reference["c"].isin(["kiosk"])]  # "kiosk" will be unseen in the batch
    return build_profile(reference, NUMERIC, CATEGORICAL, sample_size=256)


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The batch as Spark writes Parquet: no pandas metadata, so `store` reads as floats (it has nulls)."""
    path = tmp_path_factory.mktemp("batch") / "batch.parquet"
    table = pa.Table.from_pandas(_frame(ROWS, seed=2, shift=0.3), preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path)
    return path


def _chunk_summaries(profile: ReferenceProfile, frame: pd.DataFrame, rows: int) -> list[BatchSummary]:
    return [summarize(profile, frame.iloc[start : start + rows]) for start in range(0, len(frame), rows)]


def test_in_memory_streamed_and_merged_summaries_are_identical(profile: ReferenceProfile, batch_file: Path) -> None:
    frame = pd.read_parquet(batch_file)
    in_memory = summarize(profile, frame)
    streamed = summarize_parquet(profile, batch_file, chunk_rows=571)
    parts = _chunk_summaries(profile, frame, 571)
    assert len(parts) == 7
    orders = [parts, parts[::-1], *(random.Random(seed).sample(parts, len(parts)) for seed in range(3))]
    merged = [reduce(BatchSummary.merge, order) for order in orders]
    # A tree of merges, as partial summaries reduced on a driver would be.
    pairs = [a.merge(b) for a, b in zip(parts[0:6:2], parts[1:6:2], strict=True)]
    merged.append(pairs[0].merge(pairs[1].merge(pairs[2])).merge(parts[6]))
    for summary in (streamed, *merged):
        assert summary == in_memory  # integer-identical counts and exact sums, same extremes
    x = in_memory.numeric["x"]
    assert x.n + x.missing == ROWS and x.missing == int((~np.isfinite(frame["x"])).sum())
    assert in_memory.numeric["wild"].sum_squares == float("inf")
    c = in_memory.categorical["c"]
    assert c.missing == int(frame["c"].isna().sum()) and c.other == int((frame["c"] == "kiosk").sum()) > 0
    expected = compute_drift(profile, frame, "b")
    assert expected.feature("c").unseen_share > 0
    assert all(feature.error is None for feature in expected.features)
    for summary in (in_memory, streamed, *merged):
        assert drift_from_summary(profile, summary, "b") == expected


def test_a_spark_style_folder_streams_like_the_frame_landing_reads(profile: ReferenceProfile, tmp_path: Path) -> None:
    folder = tmp_path / "batch.parquet"
    (folder / "_temporary").mkdir(parents=True)
    frame = _frame(2500, seed=3, shift=-0.2)
    frame["store"] = frame["store"].fillna(1)
    frame.loc[2400:2402, "store"] = pd.NA  # nulls in the last part only: every part must read as floats
    for index, (start, stop) in enumerate([(0, 997), (997, 2200), (2200, 2500)]):
        table = pa.Table.from_pandas(frame.iloc[start:stop], preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, folder / f"part-{index:05d}.snappy.parquet", row_group_size=400)
    (folder / "_SUCCESS").touch()
    (folder / ".part-00000.snappy.parquet.crc").write_bytes(b"not data")
    (folder / "_temporary" / "part-99999.parquet").write_bytes(b"an unfinished attempt")
    landed = read_table(folder, "batch")
    streamed = summarize_parquet(profile, folder, chunk_rows=333)
    assert streamed == summarize(profile, landed)
    assert streamed.n_rows == 2500
    assert drift_from_summary(profile, streamed) == compute_drift(profile, landed)


def test_merge_is_commutative_associative_and_an_empty_part_changes_nothing(
    profile: ReferenceProfile, batch_file: Path
) -> None:
    a, b, c = _chunk_summaries(profile, pd.read_parquet(batch_file), 1500)
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    empty = summarize(profile, pd.read_parquet(batch_file).iloc[:0])
    assert empty.n_rows == 0 and a.merge(empty) == a == empty.merge(a)


def test_a_summary_survives_json_exactly(profile: ReferenceProfile, batch_file: Path) -> None:
    summary = summarize_parquet(profile, batch_file, chunk_rows=1000)
    assert BatchSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
    with pytest.raises(ValueError, match="not a batch summary"):
        BatchSummary.from_dict({"format": "something else"})


def test_exact_sums_are_the_true_sums_correctly_rounded() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, 4000) * 10.0 ** rng.integers(-300, 300, 4000)
    values = np.concatenate([values, [5e-324, -5e-324, 0.0, -0.0, 1.7e308, -1.7e308, 2.2e-308]])
    keys = rng.integers(0, 5, values.size)
    totals = exact_sums(keys.copy(), values, 5)
    for key in range(5):
        exact = sum(Fraction(value) for value in values[keys == key].tolist())
        assert Fraction(totals[key], 2**1126) == exact


def test_summaries_of_another_profile_are_refused_naming_the_feature(
    profile: ReferenceProfile, batch_file: Path
) -> None:
    frame = pd.read_parquet(batch_file)
    other = build_profile(_frame(3000, seed=9, extremes=False), NUMERIC, CATEGORICAL, sample_size=256)
    ours, theirs = summarize(profile, frame), summarize(other, frame)
    with pytest.raises(SummaryMismatchError, match="feature 'x' made against different reference profiles"):
        ours.merge(theirs)
    with pytest.raises(SummaryMismatchError, match="summary of feature 'x' was made against another"):
        drift_from_summary(profile, theirs)
    fewer = build_profile(_frame(3000, seed=1, extremes=False), ["x", "n"], CATEGORICAL, sample_size=256)
    with pytest.raises(SummaryMismatchError, match=r"\['wild'\] only in this summary"):
        ours.merge(summarize(fewer, frame))


def test_bad_parquet_inputs_are_named(profile: ReferenceProfile, tmp_path: Path, batch_file: Path) -> None:
    folder = tmp_path / "events.parquet"
    folder.mkdir()
    (folder / "_SUCCESS").touch()
    with pytest.raises(ValueError, match=f"dataset folder {folder} holds no part files"):
        summarize_parquet(profile, folder)
    with pytest.raises(FileNotFoundError, match="no Parquet file or dataset folder at .*missing.parquet"):
        summarize_parquet(profile, tmp_path / "missing.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_text("id,x\n1,2\n")
    with pytest.raises(ValueError, match="broken.parquet is not a readable Parquet file"):
        summarize_parquet(profile, broken)
    with pytest.raises(ValueError, match="chunk_rows must be a positive number of rows, got 0"):
        summarize_parquet(profile, batch_file, chunk_rows=0)


def test_missing_text_and_empty_columns_give_the_same_errors_streamed(
    profile: ReferenceProfile, tmp_path: Path
) -> None:
    frame = _frame(900, seed=5).drop(columns=["c"]).assign(n=lambda f: f["n"].astype(str), x=np.nan)
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    results = drift_from_summary(profile, summarize_parquet(profile, path, chunk_rows=100))
    assert results == compute_drift(profile, pd.read_parquet(path))
    assert results.feature("c").error == "column 'c' is missing from the batch"
    assert results.feature("n").error.startswith("column 'n' is not numeric")
    assert results.feature("x").error == "every value of column 'x' is missing (900 rows)"
    empty = tmp_path / "empty.parquet"
    frame.iloc[:0].to_parquet(empty)
    no_rows = drift_from_summary(profile, summarize_parquet(profile, empty))
    assert no_rows == compute_drift(profile, pd.read_parquet(empty))
    assert no_rows.feature("wild").error == "the batch has no rows"


_MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
from asset_platform.drift import ReferenceProfile, summarize_parquet
profile = ReferenceProfile.from_dict(json.loads(open(sys.argv[1]).read()))
tracemalloc.start()
for path in sys.argv[3:]:
    tracemalloc.reset_peak()
    summarize_parquet(profile, path, chunk_rows=int(sys.argv[2]))
    # Arrow's pool keeps its highest mark since the process started: the small batch runs first.
    print(json.dumps({"python": tracemalloc.get_traced_memory()[1], "arrow": pa.default_memory_pool().max_memory()}))
"""


def test_streaming_memory_is_bounded_by_the_chunk_not_the_batch(profile: ReferenceProfile, tmp_path: Path) -> None:
    """Peak allocations (numpy and pandas through tracemalloc, Arrow through its pool) in a fresh process.

    16x the rows in chunks of the same size: linear growth would be ~16x; the
    bound allows 3x, a generous margin for Parquet's per-row-group buffers and
    Arrow's allocation noise. The larger batch must also stream in less than
    half of what it takes as a pandas frame.
    """
    chunk, sizes = 4096, (40_000, 640_000)
    paths = []
    for rows in sizes:
        frame = _frame(rows, seed=6)
        paths.append(tmp_path / f"{rows}.parquet")
        frame.to_parquet(paths[-1], row_group_size=2 * chunk)
    (tmp_path / "profile.json").write_text(json.dumps(profile.to_dict()))
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path / "profile.json"), str(chunk), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    small, large = (json.loads(line) for line in run.stdout.splitlines())
    small_peak, large_peak = small["python"] + small["arrow"], large["python"] + large["arrow"]
    assert large_peak < 3 * small_peak, (small, large)
    assert large_peak < 0.5 * frame.memory_usage(deep=True).sum(), (large, frame.memory_usage(deep=True).sum())
