"""The builder: one declaration → every asset, check, job and sensor of its model's lifecycle.

The built definitions are ordinary Dagster assets under the declaration's key
prefix, so the UI, selection syntax and tests treat them like hand-written ones.
Resources are shared by all declarations and bound once by the composition root.
"""

from asset_platform.declaration.names import LifecycleNames
from asset_platform.lifecycle.build import build_lifecycle, lifecycle_names

__all__ = ["LifecycleNames", "build_lifecycle", "lifecycle_names"]
