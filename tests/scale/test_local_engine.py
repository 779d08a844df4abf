"""The `local` batch engine gives what the whole batch in memory gives, however the batch is chunked.

A batch is scored and summarized by `BatchEngine` in chunks that cut across the
stored file's row groups, and the same batch is read whole into pandas: the
predictions, the drift summary's cells (integer for integer, exact sums too), each
feature's drift verdict and the other per-batch facts the steps record agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from asset_platform.batch_engine import BatchEngine, RowSample
from asset_platform.declaration.names import PREDICTION
from asset_platform.drift import assess_batch, compute_drift, drift_from_summary, summarize
from asset_platform.drift.emptiness import NOTHING_TO_MEASURE
from asset_platform.drift.feature_checks import feature_checks
from asset_platform.drift.policy import DriftPolicy
from asset_platform.fairness.attribution_drift import mean_attribution
from asset_platform.ml.explain import sample_rows
from asset_platform.ml.scoring import featurize, unseen_categories
from benchmarks.scale import CATEGORICAL, ID, LABEL, NUMERIC, TIME, generate
from tests.scale.runs import run_engine

CHUNK_ROWS = 300  # nine chunks of the batch, cut across its row groups of 700 rows


def _stored(path: Path, frame: pd.DataFrame) -> Path:
    """`frame` written as the batches step stores it (pandas metadata kept), in row groups of 700 rows."""
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=700)
    return path


def test_chunked_scoring_and_drift_equal_the_in_memory_path(champion, tmp_path) -> None:
    declaration, model, profile = champion
    batch = _stored(tmp_path / "batch.parquet", generate(2500, seed=7, shift=0.6).drop(columns=[LABEL]))
    frame = pd.read_parquet(batch)
    scores = model.predict(featurize(model, frame))
    whole = frame.assign(**{PREDICTION: scores})

    scored, predictions, found = run_engine(BatchEngine(chunk_rows=CHUNK_ROWS), champion, batch, tmp_path)

    assert list(predictions.columns) == [ID, PREDICTION, "champion_version"]
    assert predictions[ID].tolist() == frame[ID].tolist()
    np.testing.assert_allclose(predictions[PREDICTION].to_numpy(), scores, rtol=0, atol=1e-9)
    assert found.summary.n_rows == len(frame)
    in_memory = summarize(profile, whole)
    for name in [*NUMERIC, PREDICTION]:
        assert found.summary.numeric[name].counts == in_memory.numeric[name].counts, name
    for name in CATEGORICAL:
        assert found.summary.categorical[name].counts == in_memory.categorical[name].counts, name
    assert found.summary.to_dict() == in_memory.to_dict()  # exact sums, extremes and missing counts too

    policy, features = DriftPolicy(), [*NUMERIC, PREDICTION, *CATEGORICAL]
    expected = compute_drift(profile, whole)
    chunked = drift_from_summary(profile, found.summary)
    assert chunked == expected
    verdicts = [feature_checks(features, r, assess_batch(r, policy)) for r in (expected, chunked)]
    assert verdicts[0] == verdicts[1]
    assert "x00" in assess_batch(expected, policy).drifted_features  # the shift is seen, not all "pass"

    assert scored.unseen == unseen_categories(model, frame)
    assert found.batch_start == frame[TIME].min()
    assert scored.nothing_to_measure is None and found.nothing_to_measure is None
    # The rows the batch's mean attribution explains are those pandas samples from the whole batch.
    assert scored.attribution_sample.equals(sample_rows(frame, 200, 0).reset_index(drop=True))
    assert mean_attribution(declaration, model, scored.attribution_sample) == mean_attribution(
        declaration, model, frame
    )


def test_a_batch_of_no_rows_has_nothing_to_measure(champion, tmp_path) -> None:
    batch = _stored(tmp_path / "empty.parquet", generate(10, seed=3).drop(columns=[LABEL]).iloc[:0])
    scored, predictions, found = run_engine(BatchEngine(chunk_rows=CHUNK_ROWS), champion, batch, tmp_path)
    assert scored.rows == 0 and predictions.empty and found.summary.n_rows == 0
    assert scored.nothing_to_measure == found.nothing_to_measure == NOTHING_TO_MEASURE
    assert found.batch_start is None


def test_the_sample_is_pandas_sample_of_the_whole_batch_taken_from_chunks() -> None:
    frame = pd.DataFrame({"a": np.arange(1000), "b": np.arange(1000) * 0.5})
    sample = RowSample(len(frame), 37, seed=4)
    for start in range(0, len(frame), 128):
        sample.add(frame.iloc[start : start + 128].reset_index(drop=True))
    assert sample.frame(frame).equals(sample_rows(frame, 37, 4).reset_index(drop=True))
