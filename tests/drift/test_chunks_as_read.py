"""Chunks read as the whole file reads: `drift/chunks.frames_as_read` against `pd.read_parquet`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from asset_platform.drift.chunks import frames_as_read


def test_chunks_hold_the_values_the_whole_file_holds_for_categorical_int_and_flag_columns(tmp_path):
    frame = pd.DataFrame(
        {
            # Stored dictionary-encoded, read back as pandas categories: each chunk with its own categories.
            "channel": pd.Categorical(["web", "app"] * 4 + ["store", "web"]),
            "items": pd.array([1, 2, 3, 4, 5, 6, 7, 8, None, 10], dtype="Int64").astype("float64"),
            "flag": [True, False, True, True, False, True, False, True, None, True],
        }
    )
    frame["items"] = frame["items"].where(frame.index != 8)  # a null in the last chunk only
    path = tmp_path / "batch.parquet"
    frame.to_parquet(path, row_group_size=3)
    whole = pd.read_parquet(path)
    chunks = list(frames_as_read(path, 3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 3, 1]
    joined = pd.concat(chunks, ignore_index=True)
    assert joined["channel"].astype(str).tolist() == whole["channel"].astype(str).tolist()
    assert not joined["channel"].isna().any()
    assert [chunk["items"].dtype for chunk in chunks] == [whole["items"].dtype] * len(chunks)
    np.testing.assert_array_equal(joined["items"].to_numpy(), whole["items"].to_numpy())
    assert joined["flag"].tolist() == whole["flag"].tolist() and chunks[0]["flag"].dtype == whole["flag"].dtype
