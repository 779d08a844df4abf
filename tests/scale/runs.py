"""What the predictions and drift steps run on a batch, through a given batch engine (shared by the engine tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from asset_platform.batch_engine import BatchEngine, ParquetParts


def run_engine(engine: BatchEngine, champion, batch: Path, folder: Path) -> tuple:
    """(scored batch, stored predictions, summarized batch) of `batch` scored by `champion` = (declaration,
    model, profile), its files written under `folder`."""
    declaration, model, profile = champion
    folder.mkdir(exist_ok=True)
    with ParquetParts(folder / "scored.parquet") as out:
        scored = engine.score(declaration, model, batch, out, estimator=model.extra.get("estimation"))
    with ParquetParts(folder / "predictions.parquet") as out:
        engine.with_figures(folder / "scored.parquet", {"champion_version": "v1"}, out)
    found = engine.summarize(declaration, profile, batch, folder / "predictions.parquet")
    return scored, pd.read_parquet(folder / "predictions.parquet"), found
