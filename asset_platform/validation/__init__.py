"""Validation results in the shape an asset check reports (`check_against_schema`).

Imports pandera (slow): import it where data is validated, not at load.
"""
