"""Kubernetes manifests read as the official client's models: a misspelt key is dropped by the model,
so a manifest that does not round-trip through it key for key has a key Kubernetes would ignore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import ApiClient


class _Payload:
    """What ApiClient.deserialize reads: a response with a JSON body."""

    def __init__(self, obj: Any):
        self.data = json.dumps(obj)


def as_model(obj: Any, klass: str) -> Any:
    """`obj` (plain YAML data) as the client's model `klass`, e.g. "V1Deployment" or "list[V1EnvVar]"."""
    return ApiClient().deserialize(_Payload(obj), klass)


def round_trip(obj: Any, klass: str) -> Any:
    """`obj` as the model `klass` and back to plain data: equal to `obj` only if every key is known."""
    return ApiClient().sanitize_for_serialization(as_model(obj, klass))


def documents_by_kind(path: Path) -> dict[str, dict]:
    """The YAML documents of a manifest file, by their `kind`."""
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}
