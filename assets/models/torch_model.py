"""The PyTorch multilayer perceptron with early stopping."""

import copy
import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from asset_platform.ml import TrainedModel
from asset_platform.registry.tracking import track_training
from assets.models.common import TRAINING_OP_TAGS, model_result, score_splits, validation_split, xy


class TorchConfig(dg.Config):
    hidden: list[int] = Field(default=[64, 32], description="Width of each hidden layer.")
    learning_rate: float = Field(default=1e-3, gt=0)
    batch_size: int = Field(default=512, ge=1)
    max_epochs: int = Field(default=30, ge=1)
    patience: int = Field(default=3, ge=1, description="Epochs without validation improvement before stopping.")
    seed: int = 7


# The PyTorch model asks for a GPU when the cluster has one: set this variable
# to 1 where the code location loads (see deployments/k8s/values.yaml).
TORCH_GPU_ENV_VAR = "ASSET_PLATFORM_TORCH_GPU"


def torch_op_tags(gpu: bool | None = None) -> dict:
    """TRAINING_OP_TAGS, plus a limit of one `nvidia.com/gpu` when `gpu` (default: the variable) is on."""
    if gpu is None:
        gpu = os.environ.get(TORCH_GPU_ENV_VAR, "").strip().lower() in ("1", "true", "yes")
    tags = copy.deepcopy(TRAINING_OP_TAGS)
    if gpu:
        # Kubernetes schedules extended resources such as GPUs by their limit.
        resources = tags["dagster-k8s/config"]["container_config"]["resources"]
        resources.setdefault("limits", {})["nvidia.com/gpu"] = "1"
    return tags


TORCH_OP_TAGS = torch_op_tags()


@dg.asset(group_name="models", kinds={"pytorch"}, code_version="1", op_tags=TORCH_OP_TAGS)
def torch_model(
    config: TorchConfig, training_set: pd.DataFrame, holdout_set: pd.DataFrame, feature_pipeline: dict
) -> dg.MaterializeResult:
    """Conversion model: a small neural network; trains on CUDA when available, else the CPU."""
    import torch

    from asset_platform.ml.torch_mlp import build_mlp

    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    features = feature_pipeline["feature_columns"]
    fit, valid = validation_split(training_set)
    fit_x, fit_y = xy(fit, features)
    # Standardize with training statistics, folded into the first layer after training.
    mean, std = fit_x.mean(axis=0), fit_x.std(axis=0) + 1e-6
    architecture = {"n_features": len(features), "hidden": list(config.hidden)}
    network = build_mlp(**architecture).to(device)
    with track_training() as usage:
        curve = _train(
            network,
            config,
            device,
            (fit_x - mean) / std,
            fit_y,
            (xy(valid, features)[0] - mean) / std,
            xy(valid, features)[1],
        )
    network = network.cpu().eval()
    # Importance: how strongly each standardized input feeds the first layer.
    importance = dict(zip(features, network[0].weight.detach().abs().mean(dim=0).tolist(), strict=True))
    _fold_standardization(network, mean, std)
    params = {**config.model_dump(), "optimizer": "Adam", "device": device}
    model = TrainedModel(
        "torch",
        network,
        features,
        params=params,
        extra={"architecture": architecture, "feature_pipeline": feature_pipeline},
    )
    model.metrics = {
        **score_splits(model, {"train": fit, "valid": valid, "holdout": holdout_set}),
        "epochs": float(len(curve["valid loss"])),
    }
    return model_result(model, usage, importance, curve, ("epoch", "log loss"))


def _train(network, config: TorchConfig, device: str, fit_x, fit_y, valid_x, valid_y) -> dict[str, list[float]]:
    """Adam with early stopping on validation loss; leaves the best epoch's weights in `network`."""
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    train_x, train_y = torch.from_numpy(fit_x).to(device), torch.from_numpy(fit_y.astype(np.float32)).to(device)
    check_x, check_y = torch.from_numpy(valid_x).to(device), torch.from_numpy(valid_y.astype(np.float32)).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    curve: dict[str, list[float]] = {"train loss": [], "valid loss": []}
    best_loss, best_state, stale = float("inf"), None, 0
    for _epoch in range(config.max_epochs):
        network.train()
        order = torch.randperm(len(train_x), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(network(train_x[batch]).squeeze(-1), train_y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        network.eval()
        with torch.no_grad():
            valid_loss = float(loss_fn(network(check_x).squeeze(-1), check_y))
        curve["train loss"].append(total / len(order))
        curve["valid loss"].append(valid_loss)
        if valid_loss < best_loss - 1e-5:
            best_loss, stale = valid_loss, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    network.load_state_dict(best_state)
    return curve


def _fold_standardization(network, mean: np.ndarray, std: np.ndarray) -> None:
    """Fold (x - mean) / std into the first linear layer, so the stored model takes raw features."""
    import torch

    first = network[0]
    with torch.no_grad():
        scale = torch.from_numpy(1.0 / std)
        first.bias -= first.weight @ torch.from_numpy(mean / std)
        first.weight *= scale
