"""Turning asset and partition keys into folder names that cannot escape the storage root."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Letters, digits and a few separators; no path separators, no leading dot.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=@+-]{0,199}$")


class UnsafeKeyError(ValueError):
    """An asset or partition key that would not map to a folder inside the storage root."""


def safe_segment(value: str, what: str) -> str:
    """Return `value` unchanged if it is a single safe path segment, else raise.

    `what` names the key in the error ("asset key", "partition key") so a user
    sees which of their inputs was refused.
    """
    # fullmatch, not match: `$` also matches before a trailing newline.
    if not _SAFE_SEGMENT.fullmatch(value) or ".." in value:
        raise UnsafeKeyError(
            f"{what} {value!r} cannot be stored: use letters, digits and '_.=@+-' only, "
            "not starting with '.', without '..' or path separators (at most 200 characters)"
        )
    return value


def asset_folder_parts(asset_path: Sequence[str], partition: str | None) -> list[str]:
    """The relative folder of one asset (and partition) inside the storage root."""
    if not asset_path:
        raise UnsafeKeyError("asset key is empty")
    parts = [safe_segment(part, "asset key part") for part in asset_path]
    if partition is not None:
        parts.append(safe_segment(partition, "partition key"))
    return parts
