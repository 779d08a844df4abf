"""Load `defs.yaml` declarations one file at a time, so that one bad file never takes the others down.

Dagster's component tree is all or nothing: one unparseable `defs.yaml`, or one
`type:` that does not import, fails every file of the folder, and the code
location with it. Here each file (each document of a file) is read and
resolved on its own with Dagster's own resolution (`Resolvable.resolve_from_yaml`,
so templates such as `{{ env.X }}` work as in a component tree); a file that
fails becomes a `BrokenDeclaration` naming the file and the line, and the rest
load.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from asset_platform.declaration import DeclarationError, ModelDeclaration
from asset_platform.project.broken import BrokenDeclaration
from asset_platform.project.locating import as_declaration_error, yaml_line


def load_declaration_file(path: Path) -> tuple[list[ModelDeclaration], list[BrokenDeclaration]]:
    """The declarations of one `defs.yaml`, and what in it could not be loaded (components of other types skip)."""
    text = path.read_text()
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = str(getattr(error, "problem", None) or error).strip()
        context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and start is not None:
            problem = f"{context} (line {start.line + 1}): {problem}"
        return [], [_broken(path, line, DeclarationError(path.parent.name, "yaml", f"not valid YAML: {problem}"))]
    declarations, broken = [], []
    for index, document in enumerate(documents):
        if document is None:
            continue
        try:
            declaration = _load_document(text, index, document, path.parent.name)
        except _FailedAt as failed:
            broken.append(_broken(path, failed.line, failed.error))
            continue
        if declaration is not None:
            declarations.append(declaration)
    return declarations, broken


def _broken(path: Path, line: int, error: DeclarationError) -> BrokenDeclaration:
    return BrokenDeclaration(path, line, error.at(f"{path}:{line}"))


class _FailedAt(Exception):
    def __init__(self, line: int, error: DeclarationError):
        super().__init__(str(error))
        self.line, self.error = line, error


def _load_document(text: str, index: int, document: Any, folder: str) -> ModelDeclaration | None:
    """One component document: a declaration, or None for another component type; `_FailedAt` otherwise.

    Until its `name:` is read, a declaration is called by its folder's name.
    """
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise _at(text, index, [], DeclarationError(folder, "type", "a component needs `type:` and `attributes:`"))
    component_type = _import_type(document["type"])
    if component_type is None:
        raise _at(
            text,
            index,
            ["type"],
            DeclarationError(
                folder,
                "type",
                f"{document['type']!r} does not import; a declaration is asset_platform.project.ModelDeclaration",
            ),
        )
    if not (isinstance(component_type, type) and issubclass(component_type, ModelDeclaration)):
        return None  # another component in the same folder: not a declaration, not ours to load
    attributes = document.get("attributes") or {}
    name = str(attributes.get("name", folder)) if isinstance(attributes, dict) else folder
    try:
        return component_type.resolve_from_yaml(yaml.safe_dump(attributes, sort_keys=False))
    except Exception as error:
        found = as_declaration_error(error, name)
        if found is None:  # a template that does not render, or the like: Dagster's message says which
            found = DeclarationError(name, "attributes", str(error).strip().splitlines()[0])
        raise _at(text, index, ["attributes", *_path(found.field)], found) from None


def _path(field: str) -> list[str]:
    return [] if field in ("", "?") else field.split(".")


def _at(text: str, index: int, path: list[Any], error: DeclarationError) -> _FailedAt:
    return _FailedAt(yaml_line(text, index, path), error)


def _import_type(typename: str) -> Any:
    """The class a component `type:` names (module.Class), or None when it does not import."""
    module_name, _, attribute = typename.rpartition(".")
    if not module_name:
        return None
    try:
        return getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        return None
