"""The Kubernetes deployment, checked without a cluster.

- deployments/k8s/values.yaml, merged over the official chart's defaults as Helm
  does, validates against the chart's JSON schema (shared/reference/dagster-helm);
- its Kubernetes objects (volumes, env, resources, security contexts) are what
  the kubernetes client's models accept, key for key;
- the Job that dagster-k8s builds for each training step carries the step's
  resources and the Secrets by reference, and deserializes into a V1Job;
- no file under deployments/ holds a secret value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_k8s_job_name, get_user_defined_k8s_config
from kubernetes.client import ApiClient, V1Job

from asset_platform.lifecycle.training import TRAINING_OP_TAGS, torch_op_tags
from tests import REPO_ROOT
from tests.manifests import as_model, round_trip

DEPLOYMENTS = REPO_ROOT / "deployments"
VALUES = DEPLOYMENTS / "k8s" / "values.yaml"
# CI lays shared/ beside the repository; a developer's checkout may lack it.
HELM_REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "dagster-helm"
K8S_CONFIG_TAG = "dagster-k8s/config"
PG_PASSWORD_KEY = "postgresql-password"  # the key the chart reads from global.postgresqlSecretName
# The example model whose training job is checked, and its model steps' op names (`<model>__<asset>`).
MODEL = "ecommerce"
LGBM_STEP, TORCH_STEP = "ecommerce__lgbm_model", "ecommerce__torch_model"


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def _deployment(values: dict) -> dict:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def _helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's value coalescing: maps merge key by key, null deletes, anything else replaces."""
    if not (isinstance(defaults, dict) and isinstance(overrides, dict)):
        return overrides
    merged = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _helm_merge(defaults.get(key), value)
    return merged


def _offline(schema: Any) -> Any:
    """The schema with its external Kubernetes $refs dropped, so those parts accept anything.

    Those objects are checked against the kubernetes client's models instead
    (test_kubernetes_objects_match_the_client_models).
    """
    if isinstance(schema, dict):
        return {k: _offline(v) for k, v in schema.items() if not (k == "$ref" and not str(v).startswith("#"))}
    if isinstance(schema, list):
        return [_offline(item) for item in schema]
    return schema


def _schema_errors(chart_folder: Path, values: dict) -> list[str]:
    schema = _offline(json.loads((chart_folder / "values.schema.json").read_text()))
    merged = _helm_merge(yaml.safe_load((chart_folder / "values.yaml").read_text()), values)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(merged)]


@pytest.fixture
def helm_reference() -> Path:
    if not (HELM_REFERENCE / "values.schema.json").exists():
        pytest.skip(f"the Dagster Helm chart reference is not at {HELM_REFERENCE} (CI lays shared/ beside the repo)")
    return HELM_REFERENCE


def test_values_validate_against_the_chart_schema(helm_reference: Path):
    values = _values()
    assert _schema_errors(helm_reference, values) == []
    subchart = helm_reference / "charts" / "dagster-user-deployments"
    assert _schema_errors(subchart, values["dagster-user-deployments"]) == []


def test_schema_check_rejects_a_misspelt_key(helm_reference: Path):
    # The external $refs are made permissive: prove the rest still bites.
    values = _helm_merge(_values(), {"dagsterDaemon": {"runCoordinator": {"config": {"queuedRunCoordinator": {}}}}})
    values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurentRuns"] = 4
    assert any("maxConcurentRuns" in error for error in _schema_errors(helm_reference, values))


@pytest.mark.parametrize(
    ("field", "klass"),
    [
        ("volumes", "list[V1Volume]"),
        ("volumeMounts", "list[V1VolumeMount]"),
        ("env", "list[V1EnvVar]"),
        ("envSecrets", "list[V1SecretEnvSource]"),
        ("resources", "V1ResourceRequirements"),
        ("podSecurityContext", "V1PodSecurityContext"),
        ("securityContext", "V1SecurityContext"),
    ],
)
def test_kubernetes_objects_match_the_client_models(field: str, klass: str):
    value = _deployment(_values())[field]
    # A misspelt key is dropped by the model, so the round trip would differ.
    assert round_trip(value, klass) == value


def _job_config(values: dict) -> DagsterK8sJobConfig:
    """What a run or step pod inherits: the code location's deployment, as the chart passes it on."""
    deployment = _deployment(values)
    image = deployment["image"]
    return DagsterK8sJobConfig(
        job_image=f"{image['repository']}:{image['tag']}",
        dagster_home=values["global"]["dagsterHome"],
        image_pull_policy=values["runLauncher"]["config"]["k8sRunLauncher"]["imagePullPolicy"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        env_secrets=[source["name"] for source in deployment["envSecrets"]],
        env_vars=[f"{var['name']}={var['value']}" for var in deployment["env"]],
        volumes=deployment["volumes"],
        volume_mounts=deployment["volumeMounts"],
        resources=deployment["resources"],
    )


def _step_job(values: dict, step: str, tags: dict[str, str]) -> V1Job:
    """The Kubernetes Job of one step, through JSON and back into the client's V1Job."""
    run_k8s_config = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    for_runs = UserDefinedDagsterK8sConfig(
        container_config=run_k8s_config["containerConfig"],
        pod_spec_config=run_k8s_config["podSpecConfig"],
        job_spec_config=run_k8s_config["jobSpecConfig"],
    )
    from_tags = get_user_defined_k8s_config(tags)
    # The run launcher's container settings and the step's tags set different keys.
    assert not set(for_runs.container_config) & set(from_tags.container_config)
    user_config = for_runs._replace(container_config={**for_runs.container_config, **from_tags.container_config})
    job = construct_dagster_k8s_job(
        _job_config(values),
        args=["dagster", "api", "execute_step"],
        job_name=get_k8s_job_name("0f1e2d3c-run", step),
        user_defined_k8s_config=user_config,
        labels={"dagster/op": step},
    )
    return as_model(ApiClient().sanitize_for_serialization(job), "V1Job")


def _training_steps() -> dict[str, dict[str, str]]:
    from asset_platform.lifecycle import LifecycleNames
    from definitions import defs

    job = defs.resolve_job_def(LifecycleNames(MODEL).training_job)
    steps = {node.name: dict(node.tags) for node in job.graph.nodes if K8S_CONFIG_TAG in node.tags}
    assert steps, f"no step of {job.name} carries {K8S_CONFIG_TAG}"
    return steps


def _assert_secrets_by_reference(job: V1Job, values: dict) -> None:
    (container,) = job.spec.template.spec.containers
    env = {var.name: var for var in container.env}
    password = env["DAGSTER_PG_PASSWORD"]
    assert password.value is None
    assert password.value_from.secret_key_ref.name == values["global"]["postgresqlSecretName"]
    assert password.value_from.secret_key_ref.key == PG_PASSWORD_KEY
    secret_sources = {source.secret_ref.name for source in container.env_from if source.secret_ref}
    assert {source["name"] for source in _deployment(values)["envSecrets"]} <= secret_sources
    secret_volumes = {volume.secret.secret_name for volume in job.spec.template.spec.volumes if volume.secret}
    assert "asset-platform-dvc-ssh" in secret_volumes
    assert job.spec.template.spec.security_context.fs_group == 10001
    assert container.security_context.allow_privilege_escalation is False


def test_each_training_step_gets_its_resources_and_the_secrets_by_reference():
    values = _values()
    wanted = TRAINING_OP_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"]["requests"]
    steps = _training_steps()
    assert {LGBM_STEP, TORCH_STEP} <= set(steps), sorted(steps)
    for step, tags in steps.items():
        job = _step_job(values, step, tags)
        assert isinstance(job, V1Job)
        assert job.spec.template.metadata.labels["dagster/op"] == step
        (container,) = job.spec.template.spec.containers
        assert container.resources.requests == wanted, f"step {step}"
        assert container.image == _job_config(values).job_image
        _assert_secrets_by_reference(job, values)


def test_the_torch_step_asks_for_a_gpu_when_configured():
    tags = {key: json.dumps(value) for key, value in torch_op_tags(gpu=True).items()}
    (container,) = _step_job(_values(), TORCH_STEP, tags).spec.template.spec.containers
    assert container.resources.limits == {"nvidia.com/gpu": "1"}
    assert container.resources.requests == TRAINING_OP_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"]["requests"]

    without = {key: json.dumps(value) for key, value in torch_op_tags(gpu=False).items()}
    (container,) = _step_job(_values(), TORCH_STEP, without).spec.template.spec.containers
    assert not (container.resources.limits or {}).get("nvidia.com/gpu")


def test_the_code_server_loads_the_code_location_module():
    args = _deployment(_values())["codeServerArgs"]
    assert args[args.index("-m") + 1] == "definitions"


def test_values_set_the_landing_root_the_production_resources_read():
    from asset_platform.resources.production import LANDING_ROOT_VAR

    env = {var["name"]: var.get("value") for var in _deployment(_values())["env"]}
    assert env[LANDING_ROOT_VAR].startswith("/data/")
    assert not [name for name in env if name.startswith("ASSET_PLATFORM_LANDING_") and name != LANDING_ROOT_VAR]


# A value after one of these keys must be empty, a reference ($VAR, {env: ...})
# or a placeholder (<...>); anything else is taken for a written-down secret.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b[\w.-]*(password|passwd|passphrase|secret_access_key|secret_key|api_key|token)[\w.-]*\s*[:=]\s*(.*)$"
)
_ALLOWED_VALUE = re.compile(r"^(|~|null|true|false|\$.*|<.*|\{.*|#.*)$")
_SECRET_SHAPES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # an AWS access key id
    re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@$<]+:[^\s/@$<]+@"),  # user:password@ in a URL
]


def secret_findings(text: str) -> list[str]:
    """Lines of `text` that look like they hold a credential."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _SECRET_ASSIGNMENT.search(line)
        if match and not _ALLOWED_VALUE.match(match.group(2).strip().rstrip(",").strip("\"'")):
            findings.append(f"{number}: {line.strip()}")
        findings += [f"{number}: {line.strip()}" for shape in _SECRET_SHAPES if shape.search(line)]
    return findings


def test_secret_scan_flags_written_down_secrets():
    assert secret_findings("postgresqlPassword: hunter2")
    assert secret_findings("--from-literal=AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI")
    assert secret_findings("url: postgresql://dagster:hunter2@db:5432/dagster")
    assert secret_findings("-----BEGIN OPENSSH PRIVATE KEY-----")
    clean = ["password:", "  env: DAGSTER_PG_PASSWORD", 'postgresqlPassword: ""', '--from-literal=password="$PGPASS"']
    assert secret_findings("\n".join(clean)) == []


def test_no_secret_value_under_deployments():
    files = [path for path in DEPLOYMENTS.rglob("*") if path.is_file()]
    assert VALUES in files
    findings = {str(path.relative_to(REPO_ROOT)): secret_findings(path.read_text()) for path in files}
    assert {path: lines for path, lines in findings.items() if lines} == {}
