"""pydantic's validation errors of a declaration, said as a user needs them: which field, what to write instead.

pydantic lists a misspelt keyword twice, as the field it meant ("Field
required", quoting the whole declaration) and as an extra input; the first is
all a user saw. The unknown field is the mistake, so it is named first, with
the closest field of the part it was written in.
"""

from __future__ import annotations

import difflib
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

_AT = re.compile(r" at \S+:\d+$")


def explain(error: ValidationError, model: type[BaseModel], skip: int = 0) -> tuple[str, str]:
    """(dotted field path, what is wrong) for the error a user should fix first.

    `model` is the pydantic model validated; `skip` leading location parts are not
    the model's own (Dagster prefixes YAML locations with `attributes`).
    """
    errors = error.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    loc = _parts(first["loc"])[skip:]
    field = ".".join(str(part) for part in loc) or "?"
    if first["type"] == "extra_forbidden" and loc:
        return field, unknown_field_message(str(loc[-1]), fields_at(model, loc[:-1]))
    detail = first["msg"]
    if "input" in first and loc and first["type"] != "missing":
        detail += f" (got {first['input']!r})"
    return field, detail


def _parts(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A location as parts: Dagster's YAML models give "gate.margn at <file>:<line>" as one part."""
    parts: list[Any] = []
    for part in loc:
        if isinstance(part, str):
            parts += [int(p) if p.isdigit() else p for p in _AT.sub("", part).split(".")]
        else:
            parts.append(part)
    return tuple(parts)


def unknown_field_message(name: str, known: list[str]) -> str:
    """The message for an unknown field: the closest known one, else the list of them."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}; did you mean {close[0]!r}?"
    return f"unknown field {name!r}; the fields here are: {', '.join(known) or 'none'}"


def fields_at(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at `path` inside `model` (list indexes and dict keys included)."""
    current: Any = model
    for part in path:
        current = _unwrap(current, part)
        if current is None:
            return []
    target = _model_in(current)
    return list(target.model_fields) if target is not None else []


def _unwrap(annotation: Any, part: Any) -> Any:
    """The type one location part further into `annotation`."""
    target = _model_in(annotation)
    if target is not None and isinstance(part, str) and part in target.model_fields:
        return target.model_fields[part].annotation
    for candidate in _members(annotation):
        origin = get_origin(candidate)
        if origin in (list, tuple) and isinstance(part, int):
            return get_args(candidate)[0]
        if origin is dict and isinstance(part, str):
            return get_args(candidate)[1]
    return None


def _members(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None
