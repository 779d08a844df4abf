"""DVC-backed asset storage: every materialization a content-addressed DVC object."""

from asset_platform.storage.catalog import VersionNotFoundError, VersionRecord
from asset_platform.storage.formats import FORMAT_METADATA_KEY, UnsupportedValueError
from asset_platform.storage.keys import UnsafeKeyError
from asset_platform.storage.remote import RemoteError
from asset_platform.storage.store import AssetStore, FormatMismatchError, IntegrityError, PutResult

__all__ = [
    "FORMAT_METADATA_KEY",
    "AssetStore",
    "FormatMismatchError",
    "IntegrityError",
    "PutResult",
    "RemoteError",
    "UnsafeKeyError",
    "UnsupportedValueError",
    "VersionNotFoundError",
    "VersionRecord",
]
