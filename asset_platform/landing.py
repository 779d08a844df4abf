"""The landing folder where upstream systems drop event files, as a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

EVENT_FILE_GLOB = "events_*.parquet"


class LandingZone(dg.ConfigurableResource):
    """Folders of Parquet event files: the training history and the production stream."""

    history_path: str = Field(description="Folder of historical event files used for training.")
    production_path: str = Field(description="Folder where production batch files arrive.")

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
        """All history files as one frame (with the file each row came from), and each file's md5.

        The md5s are the raw versions a model's lineage ends at.
        """
        from asset_platform.storage.hashing import md5_file

        files = self.history_files()
        frames = [pd.read_parquet(path).assign(source_file=path.name) for path in files]
        return pd.concat(frames, ignore_index=True), {path.name: md5_file(path) for path in files}
