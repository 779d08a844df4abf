"""`ModelFamily`: everything the platform needs to know about one kind of model, in one class.

A family trains an estimator from the shared feature matrix, stores and loads it
safely, predicts, explains, says which types skops may load, how it is tuned
and pruned, and what its training step asks of Kubernetes. Each family is one
module with one subclass, registered in `registry`; nothing outside the family
compares family names. The defaults here fit an estimator with scikit-learn's
`predict_proba` / `predict`; a family overrides what differs.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import numpy as np

    from asset_platform.ml.explain import Attribution
    from asset_platform.ml.families import Fit, TrainingData
    from asset_platform.ml.trained_model import TrainedModel


class FamilySpec(Protocol):
    """What a family reads of a declared model (`asset_platform.declaration.ModelFamilySpec`).

    A protocol, so that the families stay below the declaration: the declaration
    validates its specs against the families, never the other way round.
    """

    @property
    def family(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def estimator(self) -> str | None: ...

    @property
    def trainer(self) -> str | None: ...

    @property
    def trusted_types(self) -> list[str]: ...


# Training steps ask Kubernetes for more memory than the default step pod.
TRAINING_OP_TAGS = {
    "dagster-k8s/config": {"container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}}
}
# A family that can use a GPU asks for one when the cluster has one: set this variable
# to 1 where the code location loads (see deployments/k8s/values.yaml).
TORCH_GPU_ENV_VAR = "ASSET_PLATFORM_TORCH_GPU"
# The logit link of the default margin: a hard 0/1 vote (k-neighbours) would otherwise read as +-16.
_EPS = 1e-4


def gpu_op_tags(gpu: bool | None = None) -> dict:
    """TRAINING_OP_TAGS, plus a limit of one `nvidia.com/gpu` when `gpu` (default: the variable) is on."""
    if gpu is None:
        gpu = os.environ.get(TORCH_GPU_ENV_VAR, "").strip().lower() in ("1", "true", "yes")
    tags = copy.deepcopy(TRAINING_OP_TAGS)
    if gpu:
        # Kubernetes schedules extended resources such as GPUs by their limit.
        resources = tags["dagster-k8s/config"]["container_config"]["resources"]
        resources.setdefault("limits", {})["nvidia.com/gpu"] = "1"
    return tags


class ModelFamily:
    """One model family. Subclasses set the class attributes and implement `train` and storage."""

    # The name declarations use (`family: <name>`) and stored models record as their flavor.
    name: ClassVar[str]
    # Dagster kinds shown on the model asset.
    kinds: ClassVar[frozenset[str]] = frozenset({"python"})
    # Distributions whose versions are recorded with every trained model (registry/tracking.py).
    libraries: ClassVar[tuple[str, ...]] = ()
    # The estimator's file name in a stored model's folder (beside model.json).
    estimator_file: ClassVar[str]

    # Tuning. Parameters a search may vary, known without importing anything (checked when the
    # declaration loads); None leaves the check to `tunable_params` when tuning starts.
    tunable_at_load: ClassVar[frozenset[str] | None] = None
    # Whether training reports a validation metric per step (round, epoch), so a trial can be pruned.
    reports_steps: ClassVar[bool] = False
    # Report every this many steps (each report writes to the study storage).
    report_every: ClassVar[int] = 1
    # Steps a pruner waits before judging a trial.
    pruning_warmup: ClassVar[int] = 0
    # The parameter bounding the steps (and its default), Hyperband's maximum resource.
    step_budget: ClassVar[tuple[str, int] | None] = None

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        raise NotImplementedError

    def save_estimator(self, model: TrainedModel, path: Path) -> None:
        """Write the estimator to `path` in a format that loads without running code."""
        raise NotImplementedError

    def load_estimator(self, path: Path, extra: dict[str, Any], task: str) -> Any:
        raise NotImplementedError

    def predict(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        """Per row: the positive class's probability (binary classification), the predicted value
        (regression), or a multiclass model's probability of each declared class (a rows x K matrix)."""
        import numpy as np

        if model.task == "regression":
            return np.asarray(model.estimator.predict(matrix), dtype=np.float64)
        if model.task == "multiclass":
            return class_probabilities(model.estimator, matrix, len(model.classes))
        return np.asarray(model.estimator.predict_proba(matrix))[:, 1].astype(np.float64)

    def margin(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        """The output before any link: log-odds for classifiers (per class for a multiclass model), the
        value for regressors."""
        import numpy as np

        predictions = self.predict(model, matrix)
        if model.task == "regression":
            return predictions
        clipped = np.clip(predictions, _EPS, 1 - _EPS)
        return np.log(clipped / (1 - clipped))

    def explain(self, model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
        """Attributions in margin units; by default the model-agnostic sampling approximation."""
        from asset_platform.ml.explain import sampling_attribution

        return sampling_attribution(model, matrix, reference)

    def declare(self, spec: FamilySpec) -> None:
        """Record what a declared spec makes trustworthy in this process (when its asset is built)."""

    def declaration_problems(self, spec: FamilySpec) -> list[tuple[str, str]]:
        """(field, what is wrong) for a spec this family cannot train, found when the declaration loads."""
        return []

    def tunable_params(self, spec: FamilySpec, task: str) -> frozenset[str] | None:
        """Parameters a search may vary, checked when tuning starts; None: any."""
        return self.tunable_at_load

    def reported_metric(self, metric: str) -> str:
        """The name of the per-step value reported while training, for the declared `metric`."""
        return "valid loss"

    def higher_is_better(self, reported: str) -> bool:
        """Whether a larger reported value is better (the pruner compares in the study's direction)."""
        return False

    def trial_params(self, params: dict[str, Any], workers: int) -> dict[str, Any]:
        """A tuning trial's params when `workers` trials run at once on this machine."""
        return params

    def op_tags(self) -> dict:
        """Tags of the training step (the Kubernetes resources it requests)."""
        return copy.deepcopy(TRAINING_OP_TAGS)


def class_probabilities(estimator: Any, matrix: np.ndarray, classes: int) -> np.ndarray:
    """`estimator.predict_proba` as one column per declared class (codes 0..classes-1).

    A scikit-learn classifier has a column only per class it saw in training (its `classes_`); a class
    absent from the training window gets probability 0, so the columns always line up with the classes.
    """
    import numpy as np

    probabilities = np.asarray(estimator.predict_proba(matrix), dtype=np.float64)
    seen = getattr(estimator, "classes_", None)
    if seen is None:
        if probabilities.shape[1] != classes:
            raise ValueError(
                f"the estimator gives {probabilities.shape[1]} class probabilities for {classes} declared classes "
                "and has no classes_ saying which they are"
            )
        return probabilities
    full = np.zeros((len(probabilities), classes), dtype=np.float64)
    full[:, np.asarray(seen, dtype=np.int64)] = probabilities
    return full


class SkopsFamily(ModelFamily):
    """A family whose estimator is stored with skops and loaded trusting only `trusted_types`."""

    estimator_file: ClassVar[str] = "model.skops"
    # What to tell the user when an archive holds a type its estimator does not account for.
    untrusted_remedy: ClassVar[str] = (
        "The file was not written by this platform or was tampered with; it is not loaded."
    )

    def trusted_types(self, extra: dict[str, Any], task: str) -> list[str]:
        raise NotImplementedError

    def save_estimator(self, model: TrainedModel, path: Path) -> None:
        import skops.io

        from asset_platform.ml.trained_model import canonical_skops

        path.write_bytes(canonical_skops(skops.io.dumps(model.estimator)))

    def load_estimator(self, path: Path, extra: dict[str, Any], task: str) -> Any:
        from asset_platform.ml.trust import load_skops

        return load_skops(path.read_bytes(), self.name, self.trusted_types(extra, task), self.untrusted_remedy)
