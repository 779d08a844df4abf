"""Model versions and the champion pointer of each declared model, read from the asset store.

A model version is one stored version of a model asset (its DVC md5); the
champion is the pointer held by the model's `champion` asset. Reading them needs
only the DVC workspace, so the CLI works without a running Dagster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from asset_platform.ml import TrainedModel
from asset_platform.registry.pointer import ChampionPointer
from asset_platform.storage import AssetStore, VersionNotFoundError, VersionRecord

if TYPE_CHECKING:
    from asset_platform.declaration.names import LifecycleNames


@dataclass(frozen=True)
class ModelVersion:
    asset: str  # the asset key as a path string, e.g. "loans/lightgbm_model"
    record: VersionRecord
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return self.record.data_version

    @property
    def metrics(self) -> dict[str, float]:
        return self.manifest.get("metrics", {})

    @property
    def params(self) -> dict[str, Any]:
        return self.manifest.get("params", {})


class ModelRegistry(dg.ConfigurableResource):
    """Read access to the platform's DVC workspace, for model versions and champion pointers."""

    workspace: str

    _store: AssetStore | None = PrivateAttr(default=None)

    @property
    def store(self) -> AssetStore:
        if self._store is None:
            self._store = AssetStore(Path(self.workspace), push=False)
        return self._store

    def lineup(self, champion: list[str], models: list[list[str]]) -> ModelLineup:
        """One declared model's view: its champion pointer asset and its model assets (key paths)."""
        return ModelLineup(self.store, champion, models)


def lineup_for(registry: ModelRegistry, names: LifecycleNames) -> ModelLineup:
    """The lineup of the declared model named by `names`: its champion asset and its model assets."""
    from asset_platform.declaration.names import CHAMPION

    return registry.lineup(names.path(CHAMPION), [names.path(asset) for asset in names.model_assets])


class ModelLineup:
    """The model versions and champion pointer of one declared model."""

    def __init__(self, store: AssetStore, champion: list[str], models: list[list[str]]):
        self.store, self.champion_path, self.model_paths = store, champion, models

    def versions(self, asset: str | None = None) -> list[ModelVersion]:
        """Every retained model version (of one model asset, or all), newest first."""
        paths = [p for p in self.model_paths if asset is None or "/".join(p) == asset or p[-1] == asset]
        found = []
        for path in paths:
            for record in self.store.catalog.retained(path, None):
                found.append(ModelVersion("/".join(path), record, self._manifest(record)))
        return sorted(found, key=lambda v: -v.record.created_at)

    def find(self, ref: str) -> ModelVersion:
        """The model version whose data version starts with `ref` (at least 4 characters)."""
        if len(ref) < 4:
            raise VersionNotFoundError(f"version {ref!r} is too short: give at least 4 characters of it")
        matches = {v.version: v for v in self.versions() if v.version.startswith(ref)}
        if not matches:
            raise VersionNotFoundError(f"no model version starts with {ref!r}; `asset-platform models list` shows them")
        if len(matches) > 1:
            raise VersionNotFoundError(f"version prefix {ref!r} is ambiguous: {', '.join(sorted(matches))}")
        return next(iter(matches.values()))

    def load(self, asset: str, version: str) -> TrainedModel:
        return self.store.get(asset.split("/"), None, version)

    def load_champion(self, pointer: ChampionPointer) -> TrainedModel:
        return self.load(pointer.model_asset, pointer.version)

    def champion(self) -> ChampionPointer | None:
        """The current champion pointer, or None before the first promotion."""
        try:
            return ChampionPointer.from_dict(self.store.get(self.champion_path))
        except VersionNotFoundError:
            return None

    def champion_history(self, last: int | None = None) -> list[tuple[VersionRecord, ChampionPointer]]:
        """Materializations of the champion pointer (the `last` ones, or all), oldest first, with content."""
        history = self.store.catalog.history(self.champion_path, None)
        if last is not None:
            history = history[-last:] if last > 0 else []
        # Rejections repeat the same pointer: read each distinct version once. One whose bytes are lost
        # (cache and remote) is left out, so the rest of the history, and a rollback, stay usable.
        from asset_platform.storage.store import IntegrityError

        pointers = {}
        for md5 in {r.md5 for r in history}:
            try:
                pointers[md5] = ChampionPointer.from_dict(self.store.get(self.champion_path, None, md5))
            except IntegrityError:
                continue
        return [(record, pointers[record.md5]) for record in history if record.md5 in pointers]

    def _manifest(self, record: VersionRecord) -> dict[str, Any]:
        """The version's model.json; a version whose bytes are lost or damaged is listed with why."""
        from asset_platform.storage.store import IntegrityError

        try:
            folder = self.store.ensure_local(record)
            return json.loads((folder / "model.json").read_text())
        except (IntegrityError, OSError, ValueError) as error:
            return {"flavor": "unreadable", "error": str(error), "metrics": {}, "params": {}}
