"""The base of every part of a declaration."""

import dagster as dg


class Spec(dg.Model, dg.Resolvable):
    """A part of a declaration. dg.Model forbids unknown fields: a typo is an error, not an ignored setting."""
