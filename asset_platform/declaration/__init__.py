"""A governed model, declared once: the data, the contract, the task, the models and the policies.

`ModelDeclaration` is plain data (a pydantic model), written in Python or, as
the component `asset_platform.project.ModelDeclaration` (the same fields), as
`type: asset_platform.project.ModelDeclaration` in a `defs.yaml`.
`asset_platform.lifecycle.build_lifecycle` turns one into every asset, check,
job and sensor of the model's lifecycle.
"""

from asset_platform.declaration.errors import DeclarationError
from asset_platform.declaration.fairness import ExplanationSpec, FairnessSpec
from asset_platform.declaration.model import (
    ColumnSpec,
    GateSpec,
    LandingSpec,
    ModelDeclaration,
    ModelFamilySpec,
    MonitoringSpec,
    RetrainingSpec,
    TrainingSpec,
)
from asset_platform.declaration.tuning import ParamSpec, TuningSpec

__all__ = [
    "ColumnSpec",
    "DeclarationError",
    "ExplanationSpec",
    "FairnessSpec",
    "GateSpec",
    "LandingSpec",
    "ModelDeclaration",
    "ModelFamilySpec",
    "MonitoringSpec",
    "ParamSpec",
    "RetrainingSpec",
    "TrainingSpec",
    "TuningSpec",
]
