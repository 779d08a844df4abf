"""Which types skops may load: exactly those the named estimator consists of, never `trusted=True`.

A scikit-learn model's manifest names its estimator class and params (as the
declaration did when it was trained). The trusted types are computed from that
estimator itself: our pipeline around it is built and fitted on a few synthetic
rows of the same layout, and the types skops finds in *that* archive are the
only ones allowed in the stored one. A forged manifest can only name another
scikit-learn estimator; a forged archive that smuggles in any other type (a
function to call, an arbitrary class) is refused before anything is built.

Custom estimators (a user's trainer) are trusted as their declaration lists.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

# Estimator and trainer import paths declared by this process's declarations;
# besides these only scikit-learn's own estimators are ever imported by name.
_DECLARED_ESTIMATORS: set[str] = set()
_DECLARED_TRUST: dict[str, tuple[str, ...]] = {}

# The baseline stored before declarations existed: scaler + logistic regression.
LEGACY_SKLEARN_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
]


class UntrustedModelError(ValueError):
    """A stored scikit-learn or custom model holds types its declaration does not account for."""


def declare_estimator(path: str) -> None:
    _DECLARED_ESTIMATORS.add(path)


def declare_custom_trust(trainer: str, types: list[str]) -> None:
    _DECLARED_TRUST[trainer] = tuple(types)


def custom_types(trainer: str) -> list[str]:
    """The types a custom trainer's declaration lists; none (an error) when no declaration names it."""
    if trainer not in _DECLARED_TRUST:
        raise UntrustedModelError(
            f"custom model trained by {trainer!r}: no declaration in this code location names that trainer, "
            "so none of its types are trusted"
        )
    return list(_DECLARED_TRUST[trainer])


def load_skops(data: bytes, flavor: str, trusted: list[str], remedy: str) -> Any:
    """Load a skops archive of a `flavor` model, refusing it if it holds any type outside `trusted`."""
    import skops.io

    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(trusted))
    if untrusted:
        raise UntrustedModelError(
            f"stored {flavor} model contains types its estimator does not account for: {', '.join(untrusted)}. "
            + remedy
        )
    return skops.io.loads(data, trusted=trusted)


@lru_cache(maxsize=64)
def sklearn_types(spec_json: str, task: str) -> tuple[str, ...]:
    """The types skops finds in our pipeline around the estimator of `spec_json`, fitted on synthetic rows."""
    import numpy as np
    import skops.io

    from asset_platform.ml.families.scikit import build_pipeline

    spec = json.loads(spec_json)
    _check_estimator_path(spec["path"])
    numeric, sizes = int(spec.get("numeric", 1)), [int(size) for size in spec.get("categorical_sizes", [])]
    rng = np.random.default_rng(0)
    rows = 64
    columns = [rng.normal(size=rows) for _ in range(numeric)]
    columns += [rng.integers(0, size, rows).astype(np.float64) for size in sizes]
    matrix = np.column_stack(columns).astype(np.float32)
    # A multiclass estimator may hold more (one model per class), so it is fitted on three classes.
    labels = rng.normal(size=rows) if task == "regression" else np.arange(rows) % (3 if task == "multiclass" else 2)
    pipeline = build_pipeline(spec["path"], spec.get("params", {}), numeric, sizes)
    pipeline.fit(matrix, labels)
    return tuple(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def _check_estimator_path(path: str) -> None:
    module = path.replace(":", ".").split(".")[0]
    if module != "sklearn" and path not in _DECLARED_ESTIMATORS:
        raise UntrustedModelError(
            f"estimator {path!r} is neither a scikit-learn estimator nor declared in this code location"
        )
