"""The model registry on Dagster and DVC: champion pointer, promotion gate, history, reproduce, lineage."""
