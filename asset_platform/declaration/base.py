"""The base of every part of a declaration."""

import dagster as dg

from asset_platform.declaration.schema import ClosedSets


class Spec(ClosedSets, dg.Model, dg.Resolvable):
    """A part of a declaration. dg.Model forbids unknown fields: a typo is an error, not an ignored setting.

    `ClosedSets` keeps its `Literal` fields closed in the YAML schema `dg check yaml` validates with.
    """
