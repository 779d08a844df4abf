"""The demo datasets the example declarations train on, by name.

Each is a deterministic generator of one day's labeled rows with named drift
scenarios; the landing writers and `asset-platform generate/demo` pick one by
the name of the example declaration it feeds.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `DEMO_DATASETS` is read for the command line's --help, which must not import pandas
    import pandas as pd


@dataclass(frozen=True)
class DemoDataset:
    name: str
    file_prefix: str
    id_column: str
    label_column: str
    generate: Callable[[int, datetime.date, int, str | None, float], pd.DataFrame]
    scenarios: Mapping[str, str]

    def file_name(self, day: datetime.date) -> str:
        return f"{self.file_prefix}{day:%Y-%m-%d}.parquet"


def _ecommerce() -> DemoDataset:
    from asset_platform.synthetic.generator import LABEL_COLUMN, generate_events
    from asset_platform.synthetic.scenarios import SCENARIOS

    return DemoDataset(
        "ecommerce",
        "events_",
        "event_id",
        LABEL_COLUMN,
        generate_events,
        {name: scenario.description for name, scenario in SCENARIOS.items()},
    )


def _deliveries() -> DemoDataset:
    from asset_platform.synthetic import deliveries

    return DemoDataset(
        "deliveries",
        "deliveries_",
        deliveries.ID_COLUMN,
        deliveries.LABEL_COLUMN,
        deliveries.generate_deliveries,
        deliveries.DELIVERY_SCENARIOS,
    )


DEMO_DATASETS = ("ecommerce", "deliveries")


def demo_dataset(name: str) -> DemoDataset:
    """The demo dataset feeding the example declaration `name`."""
    builders = {"ecommerce": _ecommerce, "deliveries": _deliveries}
    if name not in builders:
        raise ValueError(f"no demo data for model {name!r}; demo data exists for: {', '.join(DEMO_DATASETS)}")
    return builders[name]()
