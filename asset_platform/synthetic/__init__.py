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

import importlib

# Each name from the module that defines it, imported on first use (PEP 562): the command line
# reads `DEMO_DATASETS` for its --help, and must not pay for pandas and numpy to print it.
_HOMES = {
    "datasets": ("DEMO_DATASETS", "DemoDataset", "demo_dataset"),
    "generator": (
        "DEFAULT_LABEL_PARAMS",
        "EVENT_COLUMNS",
        "EVENT_DTYPES",
        "FEATURE_COLUMNS",
        "LABEL_COLUMN",
        "LabelParams",
        "conversion_probability",
        "generate_events",
    ),
    "landing": ("batch_file_name", "write_batches"),
    "scenarios": ("SCENARIOS", "DriftContext", "DriftScenario", "ScenarioKind", "get_scenario"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


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
