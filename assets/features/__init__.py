"""Features group: split and featurize validated events."""
