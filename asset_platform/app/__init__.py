"""The application layer: the console script, the headless demo, `up`, and the composition root."""
