"""Sensors: production files arriving, labels arriving, and drift → retraining."""
