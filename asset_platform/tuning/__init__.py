"""Hyperparameter tuning: Optuna studies that resume, never tune the same data and code twice, and run in parallel.

`storage` says where studies live (SQLite in the platform home, PostgreSQL in
production), `study` names a study from what it tunes, `objective` trains one
trial through the platform's own training code, `worker` runs trials against an
exact budget, and `summary` turns a finished study into tracked evidence.
"""

from asset_platform.tuning.storage import STORAGE_ENV_VAR, TuningStore, open_storage, redacted, storage_url
from asset_platform.tuning.study import StudyIdentity, load_or_create_study, study_identity

__all__ = [
    "STORAGE_ENV_VAR",
    "StudyIdentity",
    "TuningStore",
    "load_or_create_study",
    "open_storage",
    "redacted",
    "storage_url",
    "study_identity",
]
