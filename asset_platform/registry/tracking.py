"""Experiment tracking for a training step: resources used and the environment it ran in.

What MLflow or W&B would log for a run, recorded instead as Dagster
materialization metadata on the model asset, so the UI plots it across versions.
"""

from __future__ import annotations

import platform
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata as package_metadata

from asset_platform.home import project_root

# Recorded with every model, besides the libraries of each registered model family (ml/families/).
ML_LIBRARIES = ("numpy", "pandas", "scikit-learn", "skops", "pyarrow", "dagster", "dvc")


@dataclass
class TrainingUsage:
    """Filled in when the `track_training` block ends."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    # The process's peak resident memory: under the multiprocess executor a step has
    # its own process, so this is the training step's peak.
    peak_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)


@contextmanager
def track_training() -> Iterator[TrainingUsage]:
    usage = TrainingUsage()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - wall
        usage.cpu_s = time.process_time() - cpu
        usage.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    from asset_platform.ml.families.registry import families

    for name in dict.fromkeys([*ML_LIBRARIES, *(library for family in families() for library in family.libraries)]):
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


@cache
def git_commit() -> str | None:
    """The repository's commit, with `+dirty` when there are uncommitted changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit
