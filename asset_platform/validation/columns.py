"""Column names of the event contract, importable without loading pandera."""

LABEL_COLUMN = "converted"
NUMERIC_FEATURES = (
    "price",
    "discount_pct",
    "session_duration_s",
    "pages_viewed",
    "past_purchases",
    "days_since_last_visit",
    "hour_of_day",
)
CATEGORICAL_FEATURES = ("device", "channel", "country", "product_category")
