"""Deterministic synthetic demo data for the example models, with drift on demand.

Two datasets (`demo_dataset`): e-commerce sessions (binary classification, below)
and food deliveries (regression, `deliveries`), with the same scenario names.

One row is one shopping session; the label `converted` says whether it ended in
an order. `generate_events` makes one day's batch, reproducibly from a seed, and
can apply a named drift scenario from `SCENARIOS` (covariate, category_mix,
concept, prior, and the data-quality faults nulls, out_of_range,
missing_column). `write_batches` drops a run of daily Parquet files into a
landing folder, clean until a chosen drift day, for sensors and pipelines to
pick up.
"""

from asset_platform.synthetic.datasets import DEMO_DATASETS, DemoDataset, demo_dataset
from asset_platform.synthetic.generator import (
    DEFAULT_LABEL_PARAMS,
    EVENT_COLUMNS,
    EVENT_DTYPES,
    FEATURE_COLUMNS,
    LABEL_COLUMN,
    LabelParams,
    conversion_probability,
    generate_events,
)
from asset_platform.synthetic.landing import batch_file_name, write_batches
from asset_platform.synthetic.scenarios import (
    SCENARIOS,
    DriftContext,
    DriftScenario,
    ScenarioKind,
    get_scenario,
)

__all__ = [
    "DEMO_DATASETS",
    "DemoDataset",
    "demo_dataset",
    "DEFAULT_LABEL_PARAMS",
    "EVENT_COLUMNS",
    "EVENT_DTYPES",
    "FEATURE_COLUMNS",
    "LABEL_COLUMN",
    "SCENARIOS",
    "DriftContext",
    "DriftScenario",
    "LabelParams",
    "ScenarioKind",
    "batch_file_name",
    "conversion_probability",
    "generate_events",
    "get_scenario",
    "write_batches",
]
