"""The landing folder where upstream systems drop event files, as a Dagster resource.

History files train the baseline. Production batches arrive one file per batch
(`events_<day>.parquet`, without labels); their labels arrive later as
`labels_<day>.parquet`. A batch file that cannot be used is moved to
`quarantine/` next to a note saying why: kept for people to inspect, never
deleted, never picked up again.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from asset_platform.storage.keys import safe_segment

EVENT_FILE_GLOB = "events_*.parquet"
_EVENTS_PREFIX, _LABELS_PREFIX = "events_", "labels_"


class BatchFileError(ValueError):
    """A landed file that cannot be read as a batch (empty, not Parquet, unreadable)."""


class LandingZone(dg.ConfigurableResource):
    """Folders of Parquet event files: the training history and the production stream."""

    history_path: str = Field(description="Folder of historical event files used for training.")
    production_path: str = Field(description="Folder where production batch and label files arrive.")

    @property
    def quarantine(self) -> Path:
        return Path(self.production_path).parent / "quarantine"

    def history_files(self) -> list[Path]:
        """History files in name (= date) order; an empty or missing folder is an error."""
        folder = Path(self.history_path)
        files = sorted(folder.glob(EVENT_FILE_GLOB)) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(
                f"no event files ({EVENT_FILE_GLOB}) in {folder}: run `asset-platform generate` "
                "to write the demo history, or point LandingZone.history_path at your data"
            )
        return files

    def read_history(self) -> tuple[pd.DataFrame, dict[str, str]]:
        """History plus every labeled production batch, and the md5 of each file read.

        Labeled production batches make retraining learn from recent data. The
        md5s are the raw versions a model's lineage ends at.
        """
        from asset_platform.storage.hashing import md5_file

        frames, sources = [], {}
        for path in self.history_files():
            frames.append(pd.read_parquet(path).assign(source_file=path.name))
            sources[path.name] = md5_file(path)
        for key in self.labeled_batches():
            events, labels = self.batch_path(key), self.labels_path(key)
            frames.append(
                self.read_batch(key).merge(self.read_labels(key), on="event_id").assign(source_file=events.name)
            )
            sources[events.name], sources[labels.name] = md5_file(events), md5_file(labels)
        return pd.concat(frames, ignore_index=True), sources

    def production_batches(self) -> list[Path]:
        folder = Path(self.production_path)
        return sorted(folder.glob(EVENT_FILE_GLOB)) if folder.is_dir() else []

    def labeled_batches(self) -> list[str]:
        """Batch keys (file stems) that have both their events and their labels file."""
        return [path.stem for path in self.production_batches() if self.labels_path(path.stem).exists()]

    def batch_path(self, key: str) -> Path:
        return Path(self.production_path) / f"{safe_segment(key, 'batch key')}.parquet"

    def labels_path(self, key: str) -> Path:
        return Path(self.production_path) / f"{_LABELS_PREFIX}{key.removeprefix(_EVENTS_PREFIX)}.parquet"

    def read_batch(self, key: str) -> pd.DataFrame:
        return _read_parquet(self.batch_path(key), f"batch {key}")

    def read_labels(self, key: str) -> pd.DataFrame:
        labels = _read_parquet(self.labels_path(key), f"labels of batch {key}")
        missing = {"event_id", "converted"} - set(labels.columns)
        if missing:
            raise BatchFileError(f"labels of batch {key}: missing column(s) {sorted(missing)}")
        return labels[["event_id", "converted"]]

    def quarantine_file(self, path: Path, reason: str) -> Path:
        """Move a bad file aside with a note; returns its new path."""
        self.quarantine.mkdir(parents=True, exist_ok=True)
        target = self.quarantine / path.name
        if target.exists():
            target = self.quarantine / f"{path.stem}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}{path.suffix}"
        os.replace(path, target)
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
        return target


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise BatchFileError(f"{what}: file {path} does not exist")
    if path.stat().st_size == 0:
        raise BatchFileError(f"{what}: file {path.name} is empty")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise BatchFileError(f"{what}: {path.name} is not a readable Parquet file ({error})") from error
