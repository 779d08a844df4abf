"""Sensors: production files arriving, labels arriving, and drift → retraining."""

# How often each sensor looks (Dagster's minimum_interval_seconds): a new file waits at most this long
# before its run is asked for. The composition root may choose another (`platform_definitions`).
DEFAULT_SENSOR_INTERVAL_S = 30
