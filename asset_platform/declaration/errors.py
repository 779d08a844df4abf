"""The error a bad declaration raises at load time, naming the declaration and the field."""

from __future__ import annotations


class DeclarationError(Exception):
    """A declaration that cannot be built; the message names it, the field, and what to do.

    Not a ValueError on purpose: pydantic would wrap a ValueError raised while
    validating into its own error and lose the declaration's name.
    """

    def __init__(self, declaration: str, field: str, problem: str, where: str | None = None):
        self.declaration, self.field, self.problem, self.where = declaration, field, problem, where
        # `where` is "file:line" once known (the loader finds it), so a user can go straight there.
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}declaration {declaration!r}, field {field!r}: {problem}")

    def at(self, where: str) -> DeclarationError:
        """The same error, located at `where` ("file:line")."""
        return DeclarationError(self.declaration, self.field, self.problem, where)
