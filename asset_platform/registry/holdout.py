"""Model versions judged on one holdout: the newest split's held-out rows, scored by each version as the gate
scores them (raw rows through each version's own feature pipeline), so their figures count the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.declaration.names import LifecycleNames
    from asset_platform.registry.models import ModelLineup, ModelVersion


@dataclass(frozen=True)
class Holdout:
    """The raw contract rows of the newest split's holdout, and the stored versions they were read from."""

    rows: pd.DataFrame
    dataset_version: str
    pipeline_version: str

    def describe(self) -> str:
        return (
            f"the newest holdout ({len(self.rows)} rows of dataset {self.dataset_version[:8]}, "
            f"split by feature pipeline {self.pipeline_version[:8]})"
        )


def newest_holdout(lineup: ModelLineup, names: LifecycleNames) -> Holdout:
    """The held-out rows of the newest stored split (the newest feature pipeline's cutoff) of the newest dataset."""
    from asset_platform.declaration.names import DATASET, FEATURE_PIPELINE
    from asset_platform.ml.features import FeaturePipeline, holdout_rows

    store = lineup.store
    dataset, pipeline = store.record(names.path(DATASET)), store.record(names.path(FEATURE_PIPELINE))
    rows = store.get(names.path(DATASET), None, dataset.data_version)
    split = FeaturePipeline.from_dict(store.get(names.path(FEATURE_PIPELINE), None, pipeline.data_version))
    held_out = holdout_rows(rows, split)
    if held_out.empty:
        raise LookupError(
            f"{names.model}: the newest feature pipeline {pipeline.data_version[:8]} holds out no row of dataset "
            f"{dataset.data_version[:8]}; run the {names.training_job} job"
        )
    return Holdout(held_out, dataset.data_version, pipeline.data_version)


def confusion_on(
    declaration: ModelDeclaration, lineup: ModelLineup, holdout: Holdout, version: ModelVersion
) -> dict[str, Any]:
    """A multiclass version's confusion counts on `holdout`: {"classes", "counts"} (K x K, rows the actual
    class, columns the predicted one), as the evaluation records them."""
    from asset_platform.ml.metrics import confusion_counts
    from asset_platform.ml.scoring import label_values, score_rows

    model = lineup.load(version.asset, version.version)
    classes = declaration.label_classes
    if model.classes != classes:
        raise ValueError(
            f"{version.asset} {version.version[:8]} predicts the classes {model.classes}, but "
            f"columns.{declaration.label_column}.categories declares {classes}: a version trained on other "
            "classes cannot be counted on this holdout; compare versions trained on the declared classes"
        )
    counts = confusion_counts(label_values(declaration, holdout.rows), score_rows(model, holdout.rows))
    return {"classes": list(classes), "counts": counts.tolist()}
