"""One trained model with what is needed to use, store and audit it.

A model is stored as a folder: the estimator in its library's own safe format
(chosen by its family: LightGBM text, skops for scikit-learn and custom
estimators, a PyTorch state dict loaded with `weights_only=True`, ...) plus
`model.json` with feature names, task, params and metrics. Nothing here unpickles arbitrary objects: skops loads
only the types that the named estimator itself consists of (see `trust`), so a
model fetched from a shared remote cannot run code when it is loaded.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.ml.families.registry import FAMILY_NAMES, family

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# A model's flavor is the name of the family that trained it.
MODEL_FLAVORS = FAMILY_NAMES
MANIFEST = "model.json"


@dataclass
class TrainedModel:
    """An estimator of one of `MODEL_FLAVORS` and its audit record."""

    flavor: str
    estimator: Any
    feature_names: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    # Facts needed to rebuild, score or explain the model (feature pipeline, torch layout, estimator spec).
    extra: dict[str, Any] = field(default_factory=dict)
    task: str = "binary_classification"

    def __post_init__(self) -> None:
        if self.flavor not in MODEL_FLAVORS:
            raise ValueError(f"unknown model flavor {self.flavor!r}; expected one of {MODEL_FLAVORS}")

    @property
    def classes(self) -> list[str]:
        """A multiclass model's classes, in the order of its probability columns; [] for the other tasks."""
        return list(self.extra.get("feature_pipeline", {}).get("classes", []))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Per row: the positive class's probability (binary classification) or the predicted value; for a
        multiclass model, a rows x K matrix of each class's probability (columns in `classes` order)."""
        import numpy as np

        missing = [name for name in self.feature_names if name not in features.columns]
        if missing:
            raise ValueError(f"{self.flavor} model needs feature columns that are missing: {missing}")
        matrix = features[self.feature_names].to_numpy(dtype=np.float32)
        return family(self.flavor).predict(self, matrix)

    # Older code and notebooks call it by its classification name.
    predict_proba = predict

    def save(self, folder: Path) -> None:
        """Write the estimator and `model.json` into an existing empty folder."""
        family(self.flavor).save_estimator(self, folder / family(self.flavor).estimator_file)
        manifest = {
            "flavor": self.flavor,
            "task": self.task,
            "feature_names": self.feature_names,
            "params": self.params,
            "metrics": self.metrics,
            "extra": self.extra,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        """Read a model folder written by `save`, with safe loaders only."""
        manifest = json.loads((folder / MANIFEST).read_text())
        flavor = manifest["flavor"]
        if flavor not in MODEL_FLAVORS:
            raise ValueError(f"{folder}: unknown model flavor {flavor!r} in {MANIFEST}")
        extra = manifest.get("extra", {})
        # Models stored before regression existed were all binary classifiers.
        task = manifest.get("task", "binary_classification")
        stored = family(flavor)
        estimator = stored.load_estimator(folder / stored.estimator_file, extra, task)
        return cls(
            flavor=flavor,
            estimator=estimator,
            feature_names=list(manifest["feature_names"]),
            params=manifest["params"],
            metrics=manifest["metrics"],
            extra=extra,
            task=task,
        )


def canonical_skops(archive: bytes) -> bytes:
    """The same skops archive, byte-identical for equal models.

    skops names objects and array files after `id()` and stamps each zip entry with
    the clock, so an unchanged model would get a new md5 and a new DVC object on
    every materialization. Numbering ids by first appearance and zeroing the
    timestamps keeps the archive loadable (ids only pair up references) and stable.
    """
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}
        _renumber(schema, ids, files)
        members = {files.get(info.filename, info.filename): source.read(info) for info in source.infolist()}
        compression = source.infolist()[0].compress_type
    members["schema.json"] = json.dumps(schema, indent=2).encode("utf-8")
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=compression) as target:
        for name in sorted(members):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = compression
            target.writestr(entry, members[name])
    return output.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    if isinstance(node, list):
        for child in node:
            _renumber(child, ids, files)
    elif isinstance(node, dict):
        if isinstance(node.get("__id__"), int):
            node["__id__"] = ids.setdefault(node["__id__"], len(ids))
        if isinstance(node.get("file"), str):
            suffix = Path(node["file"]).suffix
            node["file"] = files.setdefault(node["file"], f"{len(files)}{suffix}")
        for child in node.values():
            _renumber(child, ids, files)
