"""Monitoring group: production batches, their scores, drift and realized performance."""
