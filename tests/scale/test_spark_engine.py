"""The `spark` batch engine gives what the `local` engine and the whole batch in memory give.

One batch lands as a Spark-style dataset folder of part files of unequal sizes (Spark reads
the largest first, so row order is the engine's to keep). The same batch is scored and
summarized three ways: whole in pandas, `local` in chunks that cut across the parts, and
`spark local[2]` (one session for the test run). The predictions agree to 1e-9 in the same
row order, the drift summary's cells integer for integer, each feature's verdict, and the
label-free estimate and other per-batch facts the steps record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from asset_platform.batch_engine import BatchEngine
from asset_platform.declaration.names import PREDICTION
from asset_platform.drift import assess_batch, compute_drift, drift_from_summary, summarize
from asset_platform.drift.feature_checks import feature_checks
from asset_platform.drift.policy import DriftPolicy
from asset_platform.ml.explain import sample_rows
from asset_platform.ml.scoring import featurize, unseen_categories
from benchmarks.scale import CATEGORICAL, ID, LABEL, NUMERIC, TIME, generate
from tests.scale.runs import run_engine
from tests.spark import spark_engine

CHUNK_ROWS = 300


def _folder(path: Path, frame: pd.DataFrame, sizes: list[int]) -> Path:
    """`frame` as a Spark-style dataset folder: parts of `sizes` rows in name order, then `_SUCCESS`."""
    path.mkdir()
    start = 0
    for index, size in enumerate(sizes):
        part = pa.Table.from_pandas(frame.iloc[start : start + size], preserve_index=False)
        pq.write_table(part, path / f"part-{index:05d}.parquet", row_group_size=400)
        start += size
    assert start == len(frame)
    (path / "_SUCCESS").touch()
    return path


def test_spark_local_and_in_memory_give_the_same_predictions_counts_and_verdicts(champion, tmp_path) -> None:
    declaration, model, profile = champion
    frame = generate(2600, seed=11, shift=0.6).drop(columns=[LABEL])
    # Unequal parts, the smallest first: Spark's reader takes them largest first.
    batch = _folder(tmp_path / "events.parquet", frame, [300, 1500, 800])
    scores = model.predict(featurize(model, frame))
    whole = frame.assign(**{PREDICTION: scores})

    local = run_engine(BatchEngine(chunk_rows=CHUNK_ROWS), champion, batch, tmp_path / "local")
    spark = run_engine(spark_engine(CHUNK_ROWS), champion, batch, tmp_path / "spark")

    in_memory = summarize(profile, whole)
    # The whole batch in one chunk: the in-memory path's estimate and mean prediction.
    in_memory_estimate = run_engine(BatchEngine(chunk_rows=len(frame)), champion, batch, tmp_path / "whole")[0]
    assert in_memory_estimate.estimate.estimate("auc") is not None
    policy, features = DriftPolicy(), [*NUMERIC, PREDICTION, *CATEGORICAL]
    expected = compute_drift(profile, whole)
    expected_verdicts = feature_checks(features, expected, assess_batch(expected, policy))
    assert "x00" in assess_batch(expected, policy).drifted_features  # the shift is seen, not all "pass"
    for name, (scored, predictions, found) in {"local": local, "spark": spark}.items():
        assert predictions[ID].tolist() == frame[ID].tolist(), name
        np.testing.assert_allclose(predictions[PREDICTION].to_numpy(), scores, rtol=0, atol=1e-9, err_msg=name)
        assert scored.tally.mean == in_memory_estimate.tally.mean, name
        assert list(predictions.columns) == list(local[1].columns), name
        assert found.summary.to_dict() == in_memory.to_dict(), name  # cells, exact sums, extremes, missing
        measured = drift_from_summary(profile, found.summary)
        assert measured == expected, name
        assert feature_checks(features, measured, assess_batch(measured, policy)) == expected_verdicts, name
        assert scored.unseen == unseen_categories(model, frame), name
        assert found.batch_start == frame[TIME].min(), name
        assert scored.nothing_to_measure is None and found.nothing_to_measure is None, name
        expected_sample = sample_rows(frame, 200, 0).reset_index(drop=True)
        pd.testing.assert_frame_equal(scored.attribution_sample, expected_sample, obj=name)
        # The label-free estimate and its interval: fed in chunks on either engine, those of the whole batch.
        assert scored.estimate.estimates() == in_memory_estimate.estimate.estimates(), name
        assert scored.estimate.interval("auc") == in_memory_estimate.estimate.interval("auc"), name
