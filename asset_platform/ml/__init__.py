"""Models: the shared feature pipeline, the model families, metrics and the stored model bundle."""

from asset_platform.ml.trained_model import MODEL_FLAVORS, TrainedModel

__all__ = ["MODEL_FLAVORS", "TrainedModel"]
