"""Model bundles shared by training, storage, evaluation and the registry."""

from asset_platform.ml.trained_model import MODEL_FLAVORS, TrainedModel

__all__ = ["MODEL_FLAVORS", "TrainedModel"]
