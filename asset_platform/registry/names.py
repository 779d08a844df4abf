"""Asset names the registry works with; importable without loading Dagster."""

CHAMPION_ASSET = "champion_model"
MODEL_ASSETS = ("lgbm_model", "sklearn_model", "torch_model")
