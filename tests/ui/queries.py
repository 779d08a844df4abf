"""What the webserver's GraphQL API records: the ground truth the pages are checked against."""

from __future__ import annotations

from typing import Any

from tests.ui.webserver import Webserver

_ASSET_NODES = "{ assetNodes { assetKey { path } } }"
_RUNS_BY_TAG = """
query RunsByTag($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId jobName status tags { key value } } }
  }
}"""

_ASSET = """
query Asset($key: AssetKeyInput!, $partitions: [String!]) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      description
      dataVersion
      assetMaterializations(partitions: $partitions) {
        runId
        timestamp
        metadataEntries {
          label
          ... on TextMetadataEntry { text }
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
          ... on JsonMetadataEntry { jsonString }
        }
      }
    }
  }
}"""


def asset_names(server: Webserver) -> list[str]:
    """Every asset of the code location, by its key as the UI writes it (`ecommerce/raw_data`)."""
    return sorted("/".join(node["assetKey"]["path"]) for node in server.graphql(_ASSET_NODES)["assetNodes"])


def runs_with_tag(server: Webserver, key: str, value: str) -> list[dict[str, Any]]:
    """Runs carrying the tag, oldest first, each with its tags as a dict."""
    variables = {"tags": [{"key": key, "value": value}]}
    runs = server.graphql(_RUNS_BY_TAG, variables)["runsOrError"]["results"]
    return [{**run, "tags": {tag["key"]: tag["value"] for tag in run["tags"]}} for run in reversed(runs)]


def asset(server: Webserver, key: str, partition: str | None = None) -> dict[str, Any]:
    """An asset's description, data version and materializations (newest first, metadata as a dict).

    `key` as the UI writes it, its parts joined by `/` (`ecommerce/lgbm_model`).
    """
    variables = {"key": {"path": key.split("/")}, "partitions": [partition] if partition else None}
    node = server.graphql(_ASSET, variables)["assetNodeOrError"]
    node["assetMaterializations"] = [
        {**event, "metadata": {entry["label"]: _value(entry) for entry in event["metadataEntries"]}}
        for event in node["assetMaterializations"]
    ]
    return node


def _value(entry: dict[str, Any]) -> Any:
    for field in ("text", "floatValue", "intValue", "jsonString"):
        if field in entry:
            return entry[field]
    return None
