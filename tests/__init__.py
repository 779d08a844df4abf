"""The test suite. REPO_ROOT: this repository (the library and its example project)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
