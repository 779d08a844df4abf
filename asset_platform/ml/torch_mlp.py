"""The PyTorch multilayer perceptron, rebuilt from its recorded layer sizes."""

from __future__ import annotations

from typing import Any


def build_mlp(n_features: int, hidden: list[int], dropout: float = 0.0) -> Any:
    """A feed-forward network with one logit output; layer sizes fully describe it."""
    import torch.nn as nn

    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
