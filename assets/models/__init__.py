"""Models group: three model families and their holdout evaluation."""

from assets.models.lightgbm_model import LightGBMConfig
from assets.models.sklearn_model import SklearnConfig
from assets.models.torch_model import TorchConfig

# The config class of each model asset, for rebuilding a version with its recorded config.
MODEL_CONFIGS = {"lgbm_model": LightGBMConfig, "sklearn_model": SklearnConfig, "torch_model": TorchConfig}
