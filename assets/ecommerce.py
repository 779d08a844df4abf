"""E-commerce conversion: will this shopping session end in an order? (binary classification)."""

from asset_platform.declaration import ColumnSpec as Col
from asset_platform.declaration import ModelDeclaration

ecommerce = ModelDeclaration(
    name="ecommerce",
    description="Conversion of shopping sessions, on the synthetic demo events.",
    owners=["team:ml-platform"],
    task="binary_classification",
    metric="auc",
    id_column="event_id",
    label_column="converted",
    time_column="event_time",
    columns=[
        Col(name="event_id", dtype="str"),
        Col(name="event_time", dtype="datetime"),
        Col(name="price", dtype="float", min=0.01, max=100_000),
        Col(name="discount_pct", dtype="float", min=0, max=100),
        Col(name="session_duration_s", dtype="float", min=0, max=86_400, nullable=True),
        Col(name="pages_viewed", dtype="int", min=1, max=10_000),
        Col(name="past_purchases", dtype="int", min=0),
        Col(name="days_since_last_visit", dtype="float", min=0, nullable=True),
        Col(name="hour_of_day", dtype="int", min=0, max=23),
        Col(name="device", dtype="str"),
        Col(name="channel", dtype="str"),
        Col(name="country", dtype="str"),
        Col(name="product_category", dtype="str"),
        Col(name="converted", dtype="int"),
    ],
    models=[
        {"family": "lightgbm", "name": "lgbm_model", "params": {"num_leaves": 31, "learning_rate": 0.05}},
        {"family": "sklearn", "params": {"C": 1.0}},
        {"family": "torch", "params": {"hidden": [64, 32]}},
    ],
    segments=["device", "channel"],
    # Report only (no tolerance): per-device figures on the evaluation and champion pages, never a block.
    fairness={"attributes": ["device"]},
    # A batch lands every day and conversions are known within hours: the freshness checks say when either
    # stops arriving (labels_fresh names the scored batches still without labels after 6 h).
    monitoring={"freshness": {"data_hours": 24, "labels_hours": 6}},
)
