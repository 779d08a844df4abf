"""Docker for the image tests: the engine, the image, and containers on host networking only.

Every container these helpers start runs with `--network host` and serves on
127.0.0.1 only; the default bridge network is never used (and the engine that
scripts/docker-engine.sh starts has none). Each container carries the label
LABEL with its test's id, so a test removes exactly the containers it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests import REPO_ROOT

# What the container tests run, in one place: change these when the example changes.
JOB = "ecommerce_training"  # the example's baseline training job
MODEL_ASSET = ["ecommerce", "lgbm_model"]  # the model read back from the DVC remote
ROOT_STEP = "ecommerce__raw_data"  # a step without inputs: the one run as its Kubernetes Job would run it
EXAMPLE_LANDING = ["ecommerce", "history"]  # under the landing root: where the example's history lands

IMAGE = os.environ.get("ASSET_PLATFORM_TEST_IMAGE", "asset-platform:test")
# What the image is built from: the working tree, or another folder (a `git archive` of a commit).
CONTEXT = Path(os.environ.get("ASSET_PLATFORM_IMAGE_CONTEXT", str(REPO_ROOT))).resolve()
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-image.sh"
ENGINE_SCRIPT = REPO_ROOT / "scripts" / "docker-engine.sh"
VALUES = REPO_ROOT / "deployments" / "k8s" / "values.yaml"
LABEL = "asset-platform.test"
IMAGE_UID = 10001  # the image's user (deployments/Dockerfile)
BUILD_S = 2400  # a cold build on a small CI machine: base, wheelhouse, every dependency


def definitions_module(root: Path = CONTEXT) -> str:
    """The composition root the image serves: pyproject.toml's [tool.dagster] module_name."""
    return tomllib.loads((root / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]


def docker(*args: str, timeout_s: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:4])} ... failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def engine_answers() -> bool:
    try:
        return docker("info", timeout_s=30, check=False).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def engine_script(action: str, state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSET_PLATFORM_DOCKERD_STATE": str(state)}
    return subprocess.run(["bash", str(ENGINE_SCRIPT), action], env=env, capture_output=True, text=True, timeout=180)


@dataclass(frozen=True)
class Build:
    tag: str
    id: str
    size_mb: int
    seconds: float
    output: str

    def step_cached(self, marker: str) -> bool:
        """Whether the Dockerfile step whose instruction contains `marker` came from the layer cache."""
        steps = self.output.split("\nStep ")
        matching = [step for step in steps if marker in step.splitlines()[0]]
        assert matching, f"no build step with {marker!r} in the build output"
        return all(" ---> Using cache" in step for step in matching)


def build_image() -> Build:
    """scripts/build-image.sh as CI runs it: a local Debian base, offline from the lock's wheelhouse."""
    command = ["bash", str(BUILD_SCRIPT), "--local-base", "--offline", "--context", str(CONTEXT), "-t", IMAGE]
    env = {**os.environ, "PYTHON": sys.executable}
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=BUILD_S)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"build-image.sh failed ({result.returncode}):\n{output[-6000:]}"
    inspected = json.loads(docker("image", "inspect", IMAGE).stdout)[0]
    return Build(IMAGE, inspected["Id"], inspected["Size"] // 1_000_000, seconds, output)


def remove_labelled(test_id: str) -> None:
    """Remove every container (running or not) that the test `test_id` started."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}={test_id}").stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)


def container_state(container: str) -> dict:
    return json.loads(docker("inspect", container).stdout)[0]


def logs(container: str, lines: int = 60) -> str:
    result = docker("logs", "--tail", str(lines), container, check=False)
    return f"--- docker logs {container[:12]} ---\n{result.stdout}{result.stderr}"


# --- the deployment's settings, from deployments/k8s/values.yaml -----------------------------------


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def user_deployment(chart_values: dict) -> dict:
    (deployment,) = chart_values["dagster-user-deployments"]["deployments"]
    return deployment


def data_mount(chart_values: dict) -> str:
    """Where run and step pods mount the shared claim (the DVC workspace and the landing folders)."""
    deployment = user_deployment(chart_values)
    claims = {v["name"] for v in deployment["volumes"] if "persistentVolumeClaim" in v}
    (mount,) = [m["mountPath"] for m in deployment["volumeMounts"] if m["name"] in claims]
    return mount


def helm_env(chart_values: dict, remote_url: str) -> dict[str, str]:
    """The variables the Helm values set on the code server and every run and step pod.

    Two changes for a machine without the SSH host: the DVC remote is a folder on
    the shared volume, and the SSH-only options are dropped (DVC refuses them on a
    local remote; tests/deployments/test_ssh_remote.py covers SSH).
    """
    env = {var["name"]: var["value"] for var in user_deployment(chart_values)["env"] if "value" in var}
    env = {name: value for name, value in env.items() if not name.startswith("ASSET_PLATFORM_DVC_SSH_")}
    env["ASSET_PLATFORM_DVC_REMOTE_URL"] = remote_url
    return env


def env_args(env: dict[str, str]) -> list[str]:
    return [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]


def owned_by_image_user(folder: Path) -> Path:
    """A host folder the image's user owns, as a pod's fsGroup makes its volumes writable."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    return folder


def code_server(
    test_id: str,
    port: int,
    module: str,
    env: dict[str, str],
    volumes: dict[Path, str],
    extra_args: tuple[str, ...] = (),
) -> str:
    """A code server from the image, as the chart's user deployment runs it, on 127.0.0.1:`port`."""
    mounts = [arg for host, inside in volumes.items() for arg in ("-v", f"{host}:{inside}")]
    command = [
        "run", "-d", "--network", "host", "--label", f"{LABEL}={test_id}", "--name", f"ap-code-{test_id}-{port}",
        *mounts, *env_args({**env, "DAGSTER_CURRENT_IMAGE": IMAGE}), IMAGE,
        "dagster", "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-m", module, *extra_args,
    ]  # fmt: skip
    return docker(*command).stdout.strip()


# --- PostgreSQL on 127.0.0.1:5432 (trust authentication), as tests/deployments/test_postgres_instance.py ----------

PG = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "postgres",
    "DAGSTER_PG_PASSWORD": "",
}


def pg_query(dbname: str, sql: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(
        host=PG["DAGSTER_PG_HOST"], port=int(PG["DAGSTER_PG_PORT"]), user=PG["DAGSTER_PG_USER"], dbname=dbname,
        connect_timeout=5,
    )  # fmt: skip
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def start_postgres_if_down() -> str | None:
    """None once PostgreSQL answers, else why it cannot (to skip with)."""
    import psycopg2

    try:
        pg_query("postgres", "SELECT 1")
        return None
    except psycopg2.OperationalError as error:
        down = str(error).strip()
    versions = sorted(path.name for path in Path("/etc/postgresql").glob("*"))
    if not versions:
        return f"no PostgreSQL answers on 127.0.0.1:5432 and none is installed here ({down})"
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pg_query("postgres", "SELECT 1")
            return None
        except psycopg2.OperationalError:
            time.sleep(1)
    return f"PostgreSQL did not come up on 127.0.0.1:5432 ({down})"


# --- a step's Kubernetes Job, as dagster-k8s's executor builds it, run by `docker run` ---------------


def step_job(chart_values: dict, env: dict[str, str], execute_step_args, job_name: str, step_tags: dict) -> dict:
    """The Job that k8s_job_executor creates for one step (K8sStepHandler.launch_step), as JSON.

    Its inputs are the chart's: the user deployment's image, env, Secrets, volumes and
    resources (includeConfigInLaunchedRuns), the run launcher's container and pod settings,
    and the step's `dagster-k8s/config` tag; its command and environment are the executor's.
    """
    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_k8s_job_name, get_user_defined_k8s_config
    from kubernetes.client import ApiClient

    deployment = user_deployment(chart_values)
    launcher = chart_values["runLauncher"]["config"]["k8sRunLauncher"]
    config = DagsterK8sJobConfig(
        job_image=IMAGE,
        dagster_home=chart_values["global"]["dagsterHome"],
        image_pull_policy=launcher["imagePullPolicy"],
        instance_config_map="dagster-instance",
        postgres_password_secret=chart_values["global"]["postgresqlSecretName"],
        env_secrets=[source["name"] for source in deployment["envSecrets"]],
        env_vars=[f"{name}={value}" for name, value in env.items()],
        volumes=deployment["volumes"],
        volume_mounts=deployment["volumeMounts"],
        resources=deployment["resources"],
    )
    run_config = launcher["runK8sConfig"]
    for_runs = UserDefinedDagsterK8sConfig(
        container_config=run_config["containerConfig"],
        pod_spec_config=run_config["podSpecConfig"],
        job_spec_config=run_config["jobSpecConfig"],
    )
    from_tags = get_user_defined_k8s_config(step_tags)
    user_config = for_runs._replace(container_config={**for_runs.container_config, **from_tags.container_config})
    (step_key,) = execute_step_args.step_keys_to_execute
    name = f"dagster-step-{get_k8s_job_name(execute_step_args.run_id, step_key)}"
    job = construct_dagster_k8s_job(
        config,
        args=list(execute_step_args.get_command_args(skip_serialized_namedtuple=True)),
        job_name=name,
        pod_name=name,
        component="step_worker",
        user_defined_k8s_config=user_config,
        labels={"dagster/job": job_name, "dagster/op": step_key, "dagster/run-id": execute_step_args.run_id},
        env_vars=[
            *execute_step_args.get_command_env(),
            {"name": "DAGSTER_RUN_JOB_NAME", "value": job_name},
            {"name": "DAGSTER_RUN_STEP_KEY", "value": step_key},
        ],
    )
    return ApiClient().sanitize_for_serialization(job)


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity (2Gi, 512Mi) as `docker run --memory` takes it."""
    for suffix, unit in (("Gi", "g"), ("Mi", "m"), ("Ki", "k")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


def docker_run_for(
    job: dict, claims: dict[str, Path], secrets: dict[str, dict[str, str]], secret_files: dict[str, Path]
) -> list[str]:
    """`docker run` arguments that run the Job's pod as the kubelet would, on host networking.

    Its image, args, environment (values and Secret references), volume mounts, user,
    group, security settings and limits carry over; `claims` and `secret_files` stand
    for the PersistentVolumeClaims and secret volumes, `secrets` for the Secrets' data.
    """
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert not container.get("command"), "the Job overrides the image's command; the image has no ENTRYPOINT to keep"
    args = ["--network", "host"]
    pod_security, security = pod.get("securityContext", {}), container.get("securityContext", {})
    user, group = (
        security.get("runAsUser", pod_security.get("runAsUser")),
        security.get("runAsGroup", pod_security.get("runAsGroup")),
    )
    if user is not None:
        args += ["--user", f"{user}:{group}" if group is not None else str(user)]
    if "fsGroup" in pod_security:
        args += ["--group-add", str(pod_security["fsGroup"])]
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for capability in security.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", capability]
    for capability in security.get("capabilities", {}).get("add", []):
        args += ["--cap-add", capability]
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        args += ["--memory", _memory(limits["memory"])]
    if "cpu" in limits:
        args += ["--cpus", _cpus(limits["cpu"])]
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            raise AssertionError(f"no stand-in for the environment variable {var}")
    for source in container.get("envFrom", []):
        assert "secretRef" in source, f"no stand-in for the env source {source}"
        env.update(secrets[source["secretRef"]["name"]])
    args += env_args(env)
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            host = claims[volume["persistentVolumeClaim"]["claimName"]]
        elif "secret" in volume:
            host = secret_files[volume["secret"]["secretName"]]
        else:
            raise AssertionError(f"no stand-in for the volume {volume}")
        host = host / mount["subPath"] if mount.get("subPath") else host
        args += ["-v", f"{host}:{mount['mountPath']}" + (":ro" if mount.get("readOnly") else "")]
    if container.get("workingDir"):
        args += ["-w", container["workingDir"]]
    return [*args, container["image"], *container.get("args", [])]
