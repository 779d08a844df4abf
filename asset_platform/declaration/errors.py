"""The error a bad declaration raises at load time, naming the declaration and the field."""

from __future__ import annotations


class DeclarationError(Exception):
    """A declaration that cannot be built; the message names it, the field, and what to do.

    Not a ValueError on purpose: pydantic would wrap a ValueError raised while
    validating into its own error and lose the declaration's name.
    """

    def __init__(self, declaration: str, field: str, problem: str):
        self.declaration, self.field = declaration, field
        super().__init__(f"declaration {declaration!r}, field {field!r}: {problem}")
