"""deployments/k8s/access-control.yaml, checked without a cluster: client models, loopback, policy, no secrets."""

from __future__ import annotations

import yaml

from asset_platform.access.policy import parse_policy
from tests import REPO_ROOT
from tests.manifests import documents_by_kind, round_trip

MANIFEST = REPO_ROOT / "deployments" / "k8s" / "access-control.yaml"
VALUES = REPO_ROOT / "deployments" / "k8s" / "values.yaml"
KINDS = {"ConfigMap": "V1ConfigMap", "Deployment": "V1Deployment", "Service": "V1Service"}


def _documents() -> dict[str, dict]:
    return documents_by_kind(MANIFEST)


def test_every_object_is_what_the_kubernetes_client_models_accept_key_for_key() -> None:
    documents = _documents()
    assert set(documents) == set(KINDS)
    for kind, doc in documents.items():
        assert round_trip(doc, KINDS[kind]) == doc, kind


def test_the_webserver_listens_on_loopback_behind_the_proxy() -> None:
    pod = _documents()["Deployment"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    command = containers["webserver"]["command"]
    assert command[:2] == ["asset-platform", "serve"]
    assert command[command.index("--host") + 1] == "127.0.0.1" and "--audit-stdout" in command
    port = command[command.index("--port") + 1]
    assert "ports" not in containers["webserver"], "the webserver must not be reachable but through the proxy"
    proxy_args = containers["oauth2-proxy"]["args"]
    assert f"--upstream=http://127.0.0.1:{port}/" in proxy_args and "--pass-user-headers=true" in proxy_args
    service = _documents()["Service"]["spec"]["ports"][0]
    assert service["targetPort"] == containers["oauth2-proxy"]["ports"][0]["name"]


def test_the_policy_config_map_is_a_valid_policy_mounted_where_serve_reads_it() -> None:
    documents = _documents()
    policy = parse_policy(documents["ConfigMap"]["data"]["policy.yaml"], "access-control.yaml")
    assert policy.grants
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    webserver = next(c for c in pod["containers"] if c["name"] == "webserver")
    mount = next(m for m in webserver["volumeMounts"] if m["name"] == "access-policy")
    assert webserver["command"][webserver["command"].index("--auth") + 1] == f"{mount['mountPath']}/policy.yaml"
    volume = next(v for v in pod["volumes"] if v["name"] == "access-policy")
    assert volume["configMap"]["name"] == documents["ConfigMap"]["metadata"]["name"]


def test_secrets_come_by_reference_and_the_charts_open_webserver_is_off() -> None:
    pod = _documents()["Deployment"]["spec"]["template"]["spec"]
    for container in pod["containers"]:
        for var in container.get("env", []):
            if any(word in var["name"] for word in ("SECRET", "PASSWORD")):
                assert "value" not in var and var["valueFrom"]["secretKeyRef"]["name"], var["name"]
    webserver = yaml.safe_load(VALUES.read_text())["dagsterWebserver"]
    assert webserver["replicaCount"] == 0 and webserver["enableReadOnly"] is False
