"""Every model family the platform can train, by the name a declaration gives it.

This is the one place a family is registered: one line, its name and where its
`ModelFamily` lives. The declaration's closed set of families, the stored
models' flavors and the tracked library versions are all derived from it.
Families are imported when first asked for, so reading the names costs nothing
(the declaration does so when a code location loads).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asset_platform.ml.families.base import ModelFamily

_FAMILIES: dict[str, str] = {
    "lightgbm": "asset_platform.ml.families.gbm:LightGBMFamily",
    "sklearn": "asset_platform.ml.families.scikit:SklearnFamily",
    "torch": "asset_platform.ml.families.mlp:TorchFamily",
    "custom": "asset_platform.ml.families.custom:CustomFamily",
    "xgboost": "asset_platform.ml.families.xgb:XGBoostFamily",
}

FAMILY_NAMES: tuple[str, ...] = tuple(_FAMILIES)


class UnknownFamilyError(ValueError):
    """A family name that no module is registered for."""


@cache
def family(name: str) -> ModelFamily:
    """The family registered as `name`."""
    if name not in _FAMILIES:
        raise UnknownFamilyError(f"unknown model family {name!r}; the registered families are {', '.join(_FAMILIES)}")
    module, _, attribute = _FAMILIES[name].partition(":")
    found = getattr(import_module(module), attribute)()
    if found.name != name:
        raise UnknownFamilyError(f"{_FAMILIES[name]} calls itself {found.name!r} but is registered as {name!r}")
    return found


def families() -> list[ModelFamily]:
    """Every registered family, in registration order."""
    return [family(name) for name in FAMILY_NAMES]
