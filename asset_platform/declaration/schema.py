"""The YAML schema of a declaration keeps its closed sets closed.

Dagster derives the YAML model of every `Resolvable` by widening each field to
`T | str`, so that any field may hold a template (`{{ env.X }}`) resolved at
load. For a closed set (a `Literal`: dtype, family, task, metric, ...) the
widening lets any string through: `dg check yaml` accepted `dtype: double`, and
the mistake surfaced only when the declaration was built, reported at the
enclosing `columns:` line. Narrowing those fields back to their `Literal` puts
the set in the JSON schema `dg check yaml` validates with, and makes the load
refuse the value at its own line. A closed-set field therefore takes no
template: its values are names, not settings of an environment.

Fields holding parts of a declaration (`columns`, `models`, `gate`, ...) are
narrowed the same way, and their schema loses the `null` alternative too: a
JSON-schema validator reports a mistake inside an `anyOf` at the `anyOf`
itself, so `dtype: double` in the third column was reported at `columns:`;
with one alternative it is reported at its own line. Leaving such a field out
still means "not given"; writing it as a template or `null` is refused.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

_NARROWED: dict[type, type[BaseModel]] = {}


def is_closed_set(annotation: Any) -> bool:
    """A `Literal`, or an optional `Literal`: a field whose every valid value is listed."""
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin in (Union, UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(members) and all(is_closed_set(arg) for arg in members)
    return False


class ClosedSets:
    """Mixin for a `dg.Resolvable` pydantic model: its YAML model keeps `Literal` fields as declared."""

    @classmethod
    def model(cls) -> type[BaseModel]:
        if cls not in _NARROWED:
            derived = super().model()  # type: ignore[misc]  # dg.Resolvable.model, next in the MRO
            fields: dict[str, Any] = cls.model_fields  # type: ignore[attr-defined]
            narrowed: dict[str, Any] = {}
            for name, field in fields.items():
                if name not in derived.model_fields:
                    continue
                info = derived.model_fields[name]
                one = FieldInfo.merge_field_infos(info, json_schema_extra=_one_alternative)
                if is_closed_set(field.annotation):
                    narrowed[name] = (field.annotation, one)
                elif _holds_models(info.annotation):
                    narrowed[name] = (_without_str(info.annotation), one)
            _NARROWED[cls] = create_model(derived.__name__, __base__=derived, **narrowed) if narrowed else derived
        return _NARROWED[cls]


def _members(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)


def _holds_models(annotation: Any) -> bool:
    """Does the (derived) annotation hold a pydantic model: a nested part, or a list or dict of parts?"""
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return True
        if get_origin(member) in (list, tuple, dict) and any(_holds_models(arg) for arg in get_args(member)):
            return True
    return False


def _without_str(annotation: Any) -> Any:
    """`T | None | str` -> `T | None`: the template alternative Dagster added, removed."""
    kept = tuple(member for member in _members(annotation) if member is not str)
    return Union[kept] if len(kept) > 1 else kept[0]  # noqa: UP007 - built from a tuple


def _one_alternative(schema: dict[str, Any]) -> None:
    """Drop `null` from a field's `anyOf` so a validator descends into the one alternative left."""
    alternatives = [item for item in schema.get("anyOf", []) if item != {"type": "null"}]
    if len(alternatives) == 1:
        del schema["anyOf"]
        schema.update(alternatives[0])
