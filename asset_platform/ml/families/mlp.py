"""The PyTorch multilayer perceptron with early stopping; categorical codes one-hot encoded at its input.

Inputs are standardized with training statistics, and the standardization is
folded into the first layer after training, so the stored network takes the
feature matrix as it is. Regression targets are standardized too; the scale is
recorded and undone at prediction. A multiclass network has one output per class
and a softmax head (trained with cross-entropy). Trains on CUDA when available.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from asset_platform.ml.families import Fit, TrainingData, merged
from asset_platform.ml.families.base import ModelFamily, gpu_op_tags

if TYPE_CHECKING:
    from asset_platform.ml.explain import Attribution
    from asset_platform.ml.families.base import FamilySpec
    from asset_platform.ml.trained_model import TrainedModel

DEFAULTS: dict[str, Any] = {
    "hidden": [64, 32],
    "learning_rate": 1e-3,
    "batch_size": 512,
    "max_epochs": 30,
    "patience": 3,
    "seed": 7,
}


class TorchFamily(ModelFamily):
    """Stored as a state dict loaded with `weights_only=True` into the recorded architecture.

    Explained by integrated gradients; reports its validation loss every epoch,
    so a trial can be pruned; asks Kubernetes for a GPU where the cluster has one.
    """

    name = "torch"
    kinds = frozenset({"pytorch"})
    libraries = ("torch",)
    estimator_file = "model.pt"
    # The layer sizes are a list, which an Optuna distribution cannot hold.
    tunable_at_load = frozenset({"learning_rate", "batch_size", "max_epochs", "patience"})
    reports_steps = True
    pruning_warmup = 3
    step_budget: ClassVar[tuple[str, int] | None] = ("max_epochs", DEFAULTS["max_epochs"])

    def train(self, spec: FamilySpec, data: TrainingData) -> Fit:
        return train_mlp(spec.params, data)

    def save_estimator(self, model: TrainedModel, path: Path) -> None:
        import torch

        torch.save(model.estimator.state_dict(), path)

    def load_estimator(self, path: Path, extra: dict[str, Any], task: str) -> Any:
        import torch

        network = build_mlp(**extra["architecture"])
        network.load_state_dict(torch.load(path, weights_only=True))
        return network.eval()

    def predict(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        return predict_mlp(model.estimator, matrix, model.extra, model.task)

    def margin(self, model: TrainedModel, matrix: np.ndarray) -> np.ndarray:
        """The network's output itself (the logit), not the logit of its rounded probability."""
        import torch

        if model.task == "regression":
            return predict_mlp(model.estimator, matrix, model.extra, model.task)
        model.estimator.eval()
        with torch.no_grad():
            output = model.estimator(torch.from_numpy(network_inputs(matrix, model.extra.get("inputs", {}))))
        if model.task == "multiclass":
            return output.double().numpy()  # one logit per class
        return output.squeeze(-1).double().numpy()

    def explain(self, model: TrainedModel, matrix: np.ndarray, reference: np.ndarray) -> Attribution:
        from asset_platform.ml.explain import integrated_gradients

        return integrated_gradients(model, matrix, reference)

    def op_tags(self) -> dict:
        return gpu_op_tags()


def build_mlp(n_features: int, hidden: list[int], dropout: float = 0.0, outputs: int = 1) -> Any:
    """A feed-forward network with `outputs` outputs (one, or one per class); layer sizes fully describe it."""
    import torch.nn as nn

    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def network_inputs(matrix: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
    """Feature matrix (numeric columns, then categorical codes) → numeric columns plus one-hot blocks."""
    numeric = int(layout.get("numeric", matrix.shape[1]))
    blocks = [matrix[:, :numeric]]
    for offset, size in enumerate(layout.get("categorical_sizes", [])):
        codes = np.clip(matrix[:, numeric + offset].astype(np.int64), 0, size - 1)
        blocks.append(np.eye(size, dtype=np.float32)[codes])
    return np.concatenate(blocks, axis=1).astype(np.float32)


def predict_mlp(module: Any, matrix: np.ndarray, extra: dict[str, Any], task: str) -> np.ndarray:
    import torch

    module.eval()
    inputs = network_inputs(matrix, extra.get("inputs", {}))
    with torch.no_grad():
        output = module(torch.from_numpy(inputs))
    if task == "multiclass":
        return torch.softmax(output.double(), dim=-1).numpy()
    output = output.squeeze(-1).double()
    if task == "regression":
        mean, std = extra.get("target_scale", (0.0, 1.0))
        return output.numpy() * std + mean
    return torch.sigmoid(output).numpy()


def train_mlp(params: dict[str, Any], data: TrainingData) -> Fit:
    import torch

    from asset_platform.ml.trained_model import TrainedModel

    settings = merged(DEFAULTS, params)
    torch.manual_seed(int(settings["seed"]))
    torch.use_deterministic_algorithms(True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipeline = data.pipeline
    layout = {
        "numeric": len(pipeline.feature_names) - len(pipeline.categorical),
        "categorical_sizes": list(pipeline.category_sizes().values()),
    }
    fit_x, fit_y = data.xy(data.fit)
    valid_x, valid_y = data.xy(data.valid)
    fit_in, valid_in = network_inputs(fit_x, layout), network_inputs(valid_x, layout)
    mean, std = fit_in.mean(axis=0), fit_in.std(axis=0) + 1e-6
    regression, multiclass = data.task == "regression", data.task == "multiclass"
    target_scale = (float(fit_y.mean()), float(fit_y.std() + 1e-9)) if regression else (0.0, 1.0)
    architecture: dict[str, Any] = {"n_features": fit_in.shape[1], "hidden": list(settings["hidden"])}
    if multiclass:  # only there: a binary or regression network's recorded layout keeps its bytes
        architecture["outputs"] = len(pipeline.classes)
    network = build_mlp(**architecture).to(device)
    scale = np.float32(target_scale[1])

    def targets(labels: np.ndarray) -> np.ndarray:
        if multiclass:
            return labels.astype(np.int64)  # class codes, as cross-entropy takes them
        return ((labels - target_scale[0]) / scale).astype(np.float32)

    curve = _train(
        network,
        settings,
        device,
        ((fit_in - mean) / std, targets(fit_y)),
        ((valid_in - mean) / std, targets(valid_y)),
        data.task,
        data.report,
    )
    network = network.cpu().eval()
    first_layer = network[0].weight.detach().abs().mean(dim=0).numpy()
    _fold_standardization(network, mean, std)
    model = TrainedModel(
        "torch",
        network,
        pipeline.feature_names,
        params={**settings, "optimizer": "Adam", "device": device},
        extra={
            "architecture": architecture,
            "inputs": layout,
            "target_scale": list(target_scale),
            "feature_pipeline": pipeline.to_dict(),
        },
        task=data.task,
    )
    loss = "mse (standardized)" if regression else "log loss"
    return Fit(
        model,
        importance=_importance(first_layer, pipeline.feature_names, layout),
        curve=curve,
        curve_axes=("epoch", loss),
        counts={"epochs": float(len(curve["valid loss"]))},
    )


def _importance(weights: np.ndarray, names: list[str], layout: dict[str, Any]) -> dict[str, float]:
    """How strongly each standardized input feeds the first layer, one-hot blocks summed per feature."""
    numeric = layout["numeric"]
    importance = dict(zip(names[:numeric], weights[:numeric].tolist(), strict=True))
    offset = numeric
    for name, size in zip(names[numeric:], layout["categorical_sizes"], strict=True):
        importance[name] = float(weights[offset : offset + size].sum())
        offset += size
    return importance


def _train(network, settings, device: str, fit, valid, task: str, report=None) -> dict[str, list[float]]:
    """Adam with early stopping on validation loss; leaves the best epoch's weights in `network`."""
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=float(settings["learning_rate"]))
    losses = {"regression": torch.nn.MSELoss, "multiclass": torch.nn.CrossEntropyLoss}
    loss_fn = losses.get(task, torch.nn.BCEWithLogitsLoss)()
    # Cross-entropy takes the network's K outputs as they are and class codes; the others one output.
    squeeze = (lambda output: output) if task == "multiclass" else (lambda output: output.squeeze(-1))

    def tensors(pair):
        x, y = pair
        y = np.ascontiguousarray(y, dtype=np.int64 if task == "multiclass" else np.float32)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device), torch.from_numpy(y).to(device)

    train_x, train_y = tensors(fit)
    check_x, check_y = tensors(valid)
    generator = torch.Generator().manual_seed(int(settings["seed"]))
    curve: dict[str, list[float]] = {"train loss": [], "valid loss": []}
    best_loss, best_state, stale = float("inf"), None, 0
    batch_size = int(settings["batch_size"])
    for _epoch in range(int(settings["max_epochs"])):
        network.train()
        order = torch.randperm(len(train_x), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(squeeze(network(train_x[batch])), train_y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        network.eval()
        with torch.no_grad():
            valid_loss = float(loss_fn(squeeze(network(check_x)), check_y))
        curve["train loss"].append(total / len(order))
        curve["valid loss"].append(valid_loss)
        if report is not None:
            report(len(curve["valid loss"]), {"valid loss": valid_loss})
        if valid_loss < best_loss - 1e-5:
            best_loss, stale = valid_loss, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if stale >= int(settings["patience"]):
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    return curve


def _fold_standardization(network, mean: np.ndarray, std: np.ndarray) -> None:
    """Fold (x - mean) / std into the first linear layer, so the stored model takes raw inputs."""
    import torch

    first = network[0]
    with torch.no_grad():
        first.bias -= first.weight @ torch.from_numpy((mean / std).astype(np.float32))
        first.weight *= torch.from_numpy((1.0 / std).astype(np.float32))
