"""Models group: three model families and their holdout evaluation."""
