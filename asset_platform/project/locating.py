"""Where a declaration's mistake is: the file and line of the offending value, in YAML or in Python.

Dagster reports a bad YAML component at the field it was resolving (a whole
`columns:` list), and a Python declaration's error surfaces as a traceback
through the import machinery. A user needs the one line to change.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import sysconfig
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from pydantic import ValidationError

from asset_platform.declaration.errors import DeclarationError

# Frames in these folders are the library's or an installed package's, never the user's declaration.
_YAML_AT = re.compile(r"(/[^\s`'\"]+\.ya?ml):\d+")
_LIBRARY = (
    str(Path(__file__).resolve().parents[1]),
    sysconfig.get_paths()["stdlib"],
    *(p for p in sys.path if "-packages" in p),
)


def as_declaration_error(error: BaseException, name: str = "?") -> DeclarationError | None:
    """The `DeclarationError` behind `error` (a wrapped chain), or one made from a pydantic error; None if neither."""
    from asset_platform.declaration.explain import explain

    seen: set[int] = set()
    current: BaseException | None = error
    validation: ValidationError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DeclarationError):
            return current
        if isinstance(current, ValidationError) and validation is None:
            validation = current
        current = current.__cause__ or current.__context__
    if validation is None:
        return None
    field, detail = explain(validation, _model_named(validation.title))
    return DeclarationError(name, field, detail)


def located(error: BaseException, root: Path | None = None) -> DeclarationError | None:
    """The declaration error behind a failed code-location import, at its file and line (None: not one).

    `root`: the location's folder, searched for the `defs.yaml` declaring the model when Dagster's
    component tree raised the error without naming the file.
    """
    found = as_declaration_error(error)
    if found is None:
        return None
    if found.field.startswith("attributes."):  # a YAML location from Dagster's component model
        found = DeclarationError(found.declaration, found.field.removeprefix("attributes."), found.problem)
    where = _dagster_yaml_where(error, found.field)
    if where is None and root is not None and "defs.yaml" in str(error):
        where = _declaring_file(root, found.declaration, found.field)
    where = where or python_where(error, found.field)
    return found.at(where) if where else found


def _declaring_file(root: Path, name: str, field: str) -> str | None:
    """`file:line` of `field` in the `defs.yaml` under `root` that declares model `name` (hidden folders skipped)."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [s for s in subfolders if not s.startswith((".", "__")) and s != "node_modules"]
        if "defs.yaml" not in files:
            continue
        path = Path(folder) / "defs.yaml"
        text = path.read_text()
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue
        for index, document in enumerate(documents):
            attributes = document.get("attributes") if isinstance(document, dict) else None
            if isinstance(attributes, dict) and attributes.get("name") == name:
                return f"{path}:{yaml_line(text, index, ['attributes', *_field_path(field)])}"
    return None


def _field_path(field: str) -> list[str]:
    return [] if field in ("", "?") else field.split(".")


def _dagster_yaml_where(error: BaseException, field: str) -> str | None:
    """For a YAML component loaded by Dagster's component tree: the file Dagster names, at `field`'s line."""
    current: BaseException | None = error
    for _ in range(20):  # a chain of wrapped errors, never a cycle
        if current is None:
            return None
        match = _YAML_AT.search(str(current))
        if match and Path(match.group(1)).is_file():
            path = Path(match.group(1))
            path_in_file = ["attributes", *_field_path(field)]
            return f"{path}:{yaml_line(path.read_text(), 0, path_in_file)}"
        current = current.__cause__ or current.__context__
    return None


def _model_named(title: str) -> Any:
    """The declaration part a pydantic error's title names (Dagster's YAML models are `<Part>Model`)."""
    import asset_platform.declaration as declaration

    found = getattr(declaration, title, None) or getattr(declaration, title.removesuffix("Model"), None)
    return found if isinstance(found, type) else declaration.ModelDeclaration


# -- YAML ------------------------------------------------------------------------------------------


def yaml_line(text: str, document: int, path: list[Any]) -> int:
    """1-based line of the node at `path` in the `document`-th YAML document of `text` (the deepest found)."""
    try:
        node = list(yaml.compose_all(text))[document]
    except (yaml.YAMLError, IndexError):
        return 1
    line = node.start_mark.line + 1 if node is not None else 1
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        node, line = child[1], child[0]
    return line


def _child(node: Any, part: Any) -> tuple[int, Any] | None:
    """(line of the key or item, value node) one step into `node`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and str(part).isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item.start_mark.line + 1, item
    return None


# -- Python ----------------------------------------------------------------------------------------


def python_where(error: BaseException, field: str | None) -> str | None:
    """`file:line` of the user's code that raised `error`: the keyword of `field` where it can be found."""
    frame = _user_frame(error.__traceback__)
    if frame is None:
        return None
    filename, line = frame
    return f"{filename}:{_keyword_line(filename, line, field.split('.') if field else [])}"


def _user_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost traceback frame outside the library, installed packages and the import machinery."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith(("<", *_LIBRARY)):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _keyword_line(filename: str, line: int, path: list[str]) -> int:
    """The line of `path` (keyword, list index, dict key, ...) inside the call that starts at `line`."""
    try:
        tree = ast.parse(Path(filename).read_text())
    except (OSError, SyntaxError, ValueError):
        return line
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and node.lineno <= line <= node.end_lineno]
    if not calls or not path:
        return line
    node: ast.AST = max(calls, key=lambda call: call.lineno)  # the innermost call on that line
    found = line
    for part in path:
        child = _ast_child(node, part)
        if child is None:
            break
        found, node = child
    return found


def _ast_child(node: ast.AST, part: str) -> tuple[int, ast.AST] | None:
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg == part:
                return keyword.lineno, keyword.value
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == part:
                return key.lineno, value
    if isinstance(node, (ast.List, ast.Tuple)) and part.isdigit() and int(part) < len(node.elts):
        item = node.elts[int(part)]
        return item.lineno, item
    return None
