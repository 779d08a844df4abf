"""Loan defaults, declared in Python: everything the platform needs to govern the model."""

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration

loans = ModelDeclaration(
    name="loans",
    description="Will this loan application default?",
    owners=["team:credit-risk"],
    task="binary_classification",
    metric="auc",
    id_column="loan_id",
    label_column="defaulted",
    time_column="applied_at",
    columns=[
        Col(name="loan_id", dtype="str"),
        Col(name="applied_at", dtype="datetime"),
        Col(name="income", dtype="float", min=0, nullable=True),
        Col(name="amount", dtype="float", min=0),
        Col(name="term_months", dtype="int", min=6, max=120),
        Col(name="age", dtype="int", min=18, max=100),
        Col(name="employment", dtype="str"),
        Col(name="purpose", dtype="str"),
        Col(name="region", dtype="str"),
        Col(name="defaulted", dtype="int"),
    ],
    models=[
        {"family": "lightgbm", "params": {"num_leaves": 15, "max_rounds": 200}},
        {"family": "sklearn", "name": "hgb_model", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier"},
    ],
    gate={"margin": 0.0, "resamples": 200},
    retraining={"window_days": 3},
    segments=["employment"],
)
