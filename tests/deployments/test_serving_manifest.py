"""deployments/k8s/serving.yaml, checked without a cluster.

- its objects are what the kubernetes client's models accept, key for key;
- its command is one `asset-platform` parses, serving a model the image's project declares, on the
  ports the container and the Service name, probed on MLServer's V2 health endpoints;
- its pod reads the store and landing folders the code location's pods write (values.yaml), with
  the same image, claim, SSH key and credentials by reference: resolved through the project's
  production resources as `serve-model` resolves them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests import REPO_ROOT
from tests.manifests import documents_by_kind, round_trip

MANIFEST = REPO_ROOT / "deployments" / "k8s" / "serving.yaml"
VALUES = REPO_ROOT / "deployments" / "k8s" / "values.yaml"
KINDS = {"Deployment": "V1Deployment", "Service": "V1Service"}
# What the serving pod shares with the code location's pods: the store, its remote, the landing folders.
SHARED_ENV = (
    "ASSET_PLATFORM_ENV",
    "ASSET_PLATFORM_DVC_WORKSPACE",
    "ASSET_PLATFORM_DVC_REMOTE_URL",
    "ASSET_PLATFORM_DVC_SSH_PORT",
    "ASSET_PLATFORM_DVC_SSH_KEYFILE",
    "ASSET_PLATFORM_LANDING_ROOT",
)


def _documents() -> dict[str, dict]:
    return documents_by_kind(MANIFEST)


def _pod() -> dict:
    return _documents()["Deployment"]["spec"]["template"]["spec"]


def _container() -> dict:
    (container,) = _pod()["containers"]
    return container


def _code_location() -> dict:
    (deployment,) = yaml.safe_load(VALUES.read_text())["dagster-user-deployments"]["deployments"]
    return deployment


def _args() -> Any:
    from asset_platform.app.cli import build_parser

    command = _container()["command"]
    assert command[0] == "asset-platform"
    return build_parser().parse_args(command[1:])


def _option(flag: str) -> str:
    command = _container()["command"]
    return command[command.index(flag) + 1]


def test_every_object_is_what_the_kubernetes_client_models_accept_key_for_key() -> None:
    documents = _documents()
    assert set(documents) == set(KINDS)
    for kind, doc in documents.items():
        assert round_trip(doc, KINDS[kind]) == doc, kind


def test_the_command_is_serve_model_of_the_code_locations_module_on_the_named_ports() -> None:
    args = _args()
    assert args.command == "serve-model" and args.host == "0.0.0.0"
    code_server_args = _code_location()["codeServerArgs"]
    assert args.module == code_server_args[code_server_args.index("-m") + 1]
    ports = {port["name"]: port["containerPort"] for port in _container()["ports"]}
    assert ports == {"http": args.port, "grpc": args.grpc_port, "metrics": args.metrics_port}
    annotations = _documents()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(args.metrics_port)


def test_the_service_selects_the_pods_and_forwards_each_named_port() -> None:
    documents = _documents()
    deployment, service = documents["Deployment"], documents["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"].items() <= labels.items()
    assert labels["app.kubernetes.io/instance"] == _args().model
    named = {port["name"] for port in _container()["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} == named


def test_probes_ask_mlservers_v2_health_endpoints_on_the_http_port() -> None:
    import mlserver.rest.app

    routes = inspect.getsource(mlserver.rest.app)
    container = _container()
    paths = {}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["port"] == "http", probe
        assert f'"{check["path"]}"' in routes, f"{probe}: MLServer serves no {check['path']}"
        paths[probe] = check["path"]
    assert paths["readinessProbe"] == "/v2/health/ready"


def test_one_server_per_capture_folder_one_replica_replaced_not_rolled() -> None:
    # serve-model takes its capture folder's lock at start: a second server there is refused, so a
    # rolling update (new pod beside the old) would never become ready.
    spec = _documents()["Deployment"]["spec"]
    args = _args()
    if spec["replicas"] > 1 or spec["strategy"]["type"] != "Recreate":
        assert args.capture_dir and "$(POD_NAME)" in args.capture_dir, "give each replica its own --capture-dir"


def test_image_claim_key_and_credentials_are_the_code_locations() -> None:
    location, container, pod = _code_location(), _container(), _pod()
    image = location["image"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    assert {source["secretRef"]["name"] for source in container["envFrom"]} == {"asset-platform-dvc-remote"}
    assert "asset-platform-dvc-remote" in {source["name"] for source in location["envSecrets"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for volume in location["volumes"]:
        assert volumes[volume["name"]] == volume
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    for mount in location["volumeMounts"]:
        assert mounts[mount["name"]] == mount
    assert pod["securityContext"] == location["podSecurityContext"]
    assert container["securityContext"] == location["securityContext"]
    env = {var["name"]: var for var in container["env"]}
    assert all("value" in var for var in env.values()), "credentials come from the Secret, by reference"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"} and container["resources"]["limits"]["memory"]


@pytest.fixture
def manifest_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from asset_platform.app.location import select_project

    env = {var["name"]: var["value"] for var in _container()["env"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = _args()
    select_project(args.module, None, str(REPO_ROOT), None)  # the image's working directory holds the project
    yield env
    select_project()


def test_serve_model_resolves_the_store_and_landing_the_code_location_writes(manifest_environment) -> None:
    from asset_platform.app.location import CodeLocation, resolved

    code_location_env = {var["name"]: var["value"] for var in _code_location()["env"]}
    assert {name: manifest_environment[name] for name in SHARED_ENV} == {
        name: code_location_env[name] for name in SHARED_ENV
    }
    location = CodeLocation.load()
    location.model(_args().model)  # a model the project declares; its resources are the ones served from
    assert str(location.workspace) == code_location_env["ASSET_PLATFORM_DVC_WORKSPACE"]
    assert resolved(location.resources["registry"].workspace) == code_location_env["ASSET_PLATFORM_DVC_WORKSPACE"]
    assert resolved(location.resources["landing"].root) == code_location_env["ASSET_PLATFORM_LANDING_ROOT"]
    mounts = [mount["mountPath"] for mount in _container()["volumeMounts"]]
    for path in (str(location.workspace), manifest_environment["ASSET_PLATFORM_HOME"]):
        assert any(path == mount or path.startswith(f"{mount}/") for mount in mounts), path
