"""Import an object a declaration names by its path (`module:attr` or `module.attr`).

A module of its own, importing nothing of the library, so that the contract and the model
families (a custom trainer, a scikit-learn estimator) resolve paths the same way without
one importing the other.
"""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """Import `module:attr` (or `module.attr`); errors name the path."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"cannot import {module_name!r} (from {path!r}): {error}") from error
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ImportError(f"{module_name!r} has no {attr!r} (from {path!r})")
        target = getattr(target, part)
    return target
