"""The anchor of the past bound on arriving batches: the newest event time the champion learned from.

A batch is "from the far past" when its times lie more than `max_past_skew_days` before the end of the
champion's training window, never before the wall clock: data landed on fixed dates (the demo, the
generator, a backfill) must be judged the same whichever day it is processed on. The end of the window is
recorded in the champion's own model version (its feature pipeline's `holdout_end`, the newest row its
split saw), so it moves only when the champion changes. Before the first champion there is no bound.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.declaration.names import LifecycleNames
    from asset_platform.registry.models import ModelRegistry


def champion_learned_until(registry: ModelRegistry, names: LifecycleNames) -> pd.Timestamp | None:
    """The newest event time in the current champion's training window; None without a champion.

    Read from the champion model's `model.json` (no estimator is loaded). A model stored before the window's
    end was recorded gives None too: no past bound, as before a first champion. A champion whose bytes are
    lost raises the store's `IntegrityError`: the bound must not silently disappear.
    """
    import pandas as pd

    from asset_platform.ml.trained_model import MANIFEST
    from asset_platform.registry.models import lineup_for

    pointer = lineup_for(registry, names).champion()
    if pointer is None:
        return None
    store = registry.store
    folder = store.ensure_local(store.record(pointer.model_asset.split("/"), None, pointer.version))
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    end = manifest.get("extra", {}).get("feature_pipeline", {}).get("holdout_end", "")
    if not end:
        return None
    stamp = pd.Timestamp(end)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def past_bound_note(declaration: ModelDeclaration, frame: Any, learned_until: pd.Timestamp | None) -> str:
    """For a quarantine note: how far before the champion's data the batch's oldest row is ("" when within)."""
    import pandas as pd

    from asset_platform.declaration.contract import past_reach

    days = declaration.max_past_skew_days
    time = declaration.event_time_column
    if learned_until is None or days is None or time not in frame.columns:
        return ""
    oldest = pd.to_datetime(frame[time], utc=True, errors="coerce").min()
    if pd.isna(oldest) or oldest >= learned_until - past_reach(declaration):
        return ""
    behind = (learned_until - oldest).days
    return (
        f"; {time} dated {behind} days before the newest data the champion learned from "
        f"({learned_until:%Y-%m-%d}), more than max_past_skew_days ({days:g}; raise it if batches this old "
        "are expected)"
    )
