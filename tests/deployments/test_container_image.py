"""The production image, built and run for real: Docker, PostgreSQL, the daemon, a Kubernetes step.

- The image builds with scripts/build-image.sh as CI runs it (a local Debian base,
  offline from the lock's wheelhouse, `docker build --network none`); a second build
  comes whole from Docker's layer cache; the image is what production expects (uid
  10001, CPU torch, LightGBM's OpenMP runtime, the locked Dagster, none of this
  machine's CA certificates).
- A run launched by `dagster-daemon` through dagster-docker's DockerRunLauncher executes
  in a container of the image, against a fresh PostgreSQL database, with the variables
  the Helm values set, the DVC workspace and remote on a bind-mounted folder and the
  code location served from the image by `dagster code-server start`; it materializes
  the example's training job, and `dvc pull` on the host reads the model back byte
  for byte. Then drifted production batches land: the daemon's own sensors score them
  and launch the retraining, each run in its own container of the image.
- The Job that dagster-k8s's executor builds for a step (command, environment, Secret
  references, volumes, user and limits) runs in the image with `docker run` and
  materializes the step's asset in PostgreSQL and the DVC remote.

Containers use host networking only and serve on 127.0.0.1. Skipped only where no
container engine can start (docker.io missing, or not root to start dockerd) or no
PostgreSQL answers. The names these tests depend on (job, model, step) are at the top
of tests/deployments/containers.py.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import REPO_ROOT
from tests.conftest import DEMO_DAYS, DEMO_ROWS_PER_DAY, DEMO_SEED, VENV_BIN, subprocess_env
from tests.deployments.containers import (
    BUILD_S,
    CONTEXT,
    EXAMPLE_LANDING,
    IMAGE,
    IMAGE_UID,
    JOB,
    LABEL,
    MODEL_ASSET,
    PG,
    ROOT_STEP,
    Build,
    build_image,
    code_server,
    data_mount,
    definitions_module,
    docker,
    docker_run_for,
    engine_answers,
    engine_script,
    helm_env,
    logs,
    owned_by_image_user,
    pg_query,
    remove_labelled,
    start_postgres_if_down,
    step_job,
    user_deployment,
    values,
)
from tests.processes import free_port, running, tail, wait_for

INSTANCE_CONFIG = REPO_ROOT / "deployments" / "postgres" / "dagster.yaml"
LOCATION = "asset-platform"  # the chart's user deployment name, which names the code location
TEST_LOCATION_FILE = Path(__file__).parent / "container_location.py"
TEST_LOCATION_DIR = "/opt/dagster/test-location"  # where containers see it
STARTUP_S = 300  # a code server in the image imports torch and lightgbm on a busy 2-core machine
RUN_S = 900
STEP_S = 300
ARTIFACTS = REPO_ROOT / "artifacts" / "image"
RETRAIN_JOB = "ecommerce_retraining"
# A batch is scored by one of two jobs: with its labels when they landed beside it, else alone.
SCORE_JOBS = ("ecommerce_score_batch", "ecommerce_score_labeled_batch")
DRIFT_SENSOR = "ecommerce_drift_retrain_sensor"
DRIFTED_BATCHES, DRIFTED_ROWS = 2, 1000  # the default policy retrains after two drifted batches of >= 500 rows

# A cold build (base, wheelhouse, every dependency) happens in the first test that asks for the image.
pytestmark = pytest.mark.timeout(BUILD_S + RUN_S + STARTUP_S)


@pytest.fixture(scope="module")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An engine that answers: the running one, or a dockerd started here and stopped at the end."""
    if engine_answers():
        yield
        return
    state = tmp_path_factory.mktemp("dockerd")
    started = engine_script("start", state)
    if started.returncode != 0:
        pytest.skip(f"no container engine can start here: {started.stderr.strip() or started.stdout.strip()}")
    try:
        yield
    finally:
        engine_script("stop", state)


@pytest.fixture(scope="module")
def image(docker_engine: None) -> Build:
    """The image, built (or found in the layer cache) once for this module."""
    return build_image()


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database of the test's own, dropped at the end."""
    down = start_postgres_if_down()
    if down:
        pytest.skip(down)
    name = f"asset_platform_image_{uuid.uuid4().hex[:12]}"
    pg_query("postgres", f'CREATE DATABASE "{name}"')
    yield name
    pg_query("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def test_id() -> Iterator[str]:
    """Labels every container the test starts; they are all removed at the end."""
    test_id = uuid.uuid4().hex[:10]
    yield test_id
    remove_labelled(test_id)


def test_the_image_the_chart_and_pyproject_agree_on_the_code():
    """Without Docker: what the image copies and serves is what pyproject.toml and the chart name."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    dockerfile = (REPO_ROOT / "deployments" / "Dockerfile").read_text()
    module = definitions_module(REPO_ROOT)
    (cmd,) = [line.removeprefix("CMD").strip() for line in dockerfile.splitlines() if line.startswith("CMD")]
    command = json.loads(cmd)
    assert command[command.index("-m") + 1] == module, "the image's CMD serves another module than pyproject.toml's"
    assert user_deployment(values())["codeServerArgs"] == ["-m", module], "the chart serves another module"
    packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    missing = [package for package in packages if f"COPY {package}/ {package}/" not in dockerfile]
    assert not missing, f"deployments/Dockerfile does not copy the packages {missing} into the image"

    def patterns(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]

    # The legacy builder reads one, BuildKit the other: the same context either way.
    assert patterns(REPO_ROOT / ".dockerignore") == patterns(REPO_ROOT / "deployments" / "Dockerfile.dockerignore")


def _in_image(*command: str) -> str:
    return docker("run", "--rm", "--network", "host", IMAGE, *command, timeout_s=300).stdout


def test_the_image_builds_offline_and_rebuilds_from_the_layer_cache(image: Build):
    again = build_image()
    assert again.id == image.id, "a rebuild with nothing changed made a different image"
    assert again.step_cached("-c constraints/lock.txt"), "the dependency layer was rebuilt:\n" + again.output[-3000:]
    assert again.step_cached("pip install --no-deps --no-build-isolation -e ."), "the code layer was rebuilt"

    config = json.loads(docker("image", "inspect", IMAGE).stdout)[0]["Config"]
    assert config["User"] == str(IMAGE_UID)
    assert not config.get("Entrypoint"), "an ENTRYPOINT would be prepended to the chart's and the launchers' args"
    assert config["Cmd"][:3] == ["dagster", "code-server", "start"]
    probe = (
        "import json, os, dagster, lightgbm, torch; "
        "print(json.dumps({'uid': os.getuid(), 'torch': torch.__version__, 'cuda': torch.version.cuda, "
        "'dagster': dagster.__version__}))"
    )
    facts = json.loads(_in_image("python", "-c", probe).strip().splitlines()[-1])
    assert facts["uid"] == IMAGE_UID
    assert facts["cuda"] is None and facts["torch"].endswith("+cpu"), f"not the CPU build of torch: {facts}"
    locked = dict(
        line.split("==") for line in (CONTEXT / "constraints" / "lock.txt").read_text().split() if "==" in line
    )
    assert facts["dagster"] == locked["dagster"]
    # No CA certificate of this machine (a proxy's, a company's) went into the image.
    bundle = _in_image("cat", "/etc/ssl/certs/ca-certificates.crt")
    local_cas = [path for path in Path("/usr/local/share/ca-certificates").rglob("*.crt") if path.is_file()]
    for path in local_cas:
        body = "".join(line for line in path.read_text().splitlines() if line and not line.startswith("-----"))
        assert body[:200] not in bundle.replace("\n", ""), f"{path} is in the image's CA bundle"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    note = {"image": IMAGE, "id": image.id, "size_mb": image.size_mb}
    note |= {"first_build_s": round(image.seconds), "cached_rebuild_s": round(again.seconds)}
    (ARTIFACTS / "build.json").write_text(json.dumps(note, indent=2) + "\n")
    print(f"\nimage {IMAGE}: {image.size_mb} MB; build {image.seconds:.0f}s, cached rebuild {again.seconds:.0f}s")


def _health(port: int) -> bool:
    probe = [str(VENV_BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


def _write_demo_history(data: Path, env: dict[str, str], mount: str) -> None:
    """The example's history in the landing folder, where the values' landing root puts it."""
    import datetime as dt

    from asset_platform.resources.production import DVC_REMOTE_URL_VAR, DVC_WORKSPACE_VAR, LANDING_ROOT_VAR
    from asset_platform.synthetic import write_batches

    missing = {DVC_WORKSPACE_VAR, DVC_REMOTE_URL_VAR, LANDING_ROOT_VAR} - set(env)
    assert not missing, (
        f"deployments/k8s/values.yaml does not set {sorted(missing)}, which resources/production.py reads"
    )
    landing = data / Path(env[LANDING_ROOT_VAR]).relative_to(mount)
    write_batches(landing.joinpath(*EXAMPLE_LANDING), dt.date(2026, 1, 1), DEMO_DAYS, DEMO_ROWS_PER_DAY, seed=DEMO_SEED)


def _shared_folder(tmp_path: Path, mount: str) -> tuple[Path, dict[str, str]]:
    """The claim's stand-in with the demo history and an empty DVC remote, and the pods' variables."""
    data = tmp_path / "data"
    (data / "dvc-remote").mkdir(parents=True)
    env = helm_env(values(), remote_url=f"{mount}/dvc-remote")
    _write_demo_history(data, env, mount)
    return owned_by_image_user(data), env


def _launch(run_id: str, env: dict[str, str], *target: str) -> None:
    """`dagster job launch`: the run is queued (QueuedRunCoordinator) for the daemon to launch."""
    command = [str(VENV_BIN / "dagster"), "job", "launch", *target, "-j", JOB, "--run-id", run_id]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=STARTUP_S)
    assert result.returncode == 0, f"dagster job launch failed:\n{result.stdout}\n{result.stderr}"


def _event_types(instance, run_id: str) -> list[tuple[str, object, str | None]]:
    """(event type, asset key, step key) of each Dagster event of the run."""
    return [
        (entry.dagster_event.event_type_value, entry.dagster_event.asset_key, entry.step_key)
        for entry in instance.all_logs(run_id)
        if entry.dagster_event
    ]


def _dvc(folder: Path, *args: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), *args], cwd=folder, env=subprocess_env(DVC_NO_ANALYTICS="1"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def _same_tree(left: Path, right: Path) -> list[str]:
    """Files that differ between two folders (or files), byte for byte; [] when identical."""
    if left.is_file() or right.is_file():
        return [] if filecmp.cmp(left, right, shallow=False) else [str(left)]
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    other = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    if names != other:
        return [f"only on one side: {sorted(map(str, names ^ other))}"]
    return [str(name) for name in sorted(names) if not filecmp.cmp(left / name, right / name, shallow=False)]


def _pull_model_on_the_host(workspace: Path, remote: Path, reader: Path) -> tuple[Path, Path]:
    """`dvc pull` of the model's latest version into a fresh DVC repository on the host."""
    model = workspace / "data" / Path(*MODEL_ASSET)
    assert (model / "LATEST").exists(), (
        f"no version of {MODEL_ASSET} in the workspace: {sorted(workspace.rglob('LATEST'))}"
    )
    assert (model / "LATEST").stat().st_uid == IMAGE_UID, "the model was not written by the image's user"
    md5 = (model / "LATEST").read_text().strip()
    (pointer,) = [p for p in model.glob("*.dvc") if f"md5: {md5}" in p.read_text()]
    reader.mkdir()
    _dvc(reader, "init", "--no-scm", "-q")
    _dvc(reader, "remote", "add", "-d", "storage", str(remote))
    shutil.copyfile(pointer, reader / pointer.name)
    _dvc(reader, "pull", pointer.name)
    entry = yaml.safe_load(pointer.read_text())["outs"][0]["path"]
    return reader / entry, model / entry


def test_the_daemon_runs_training_and_a_sensor_triggered_retraining_in_containers_of_the_image(
    image: Build, database: str, test_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from dagster import DagsterEventType, DagsterInstance

    mount = data_mount(values())
    data, env = _shared_folder(tmp_path, mount)
    # The instance folder, at the same path in every container (the run worker's instance
    # reference names its storage folders); the instance config is the PostgreSQL one,
    # copied unchanged, plus dagster-docker's run launcher.
    home = tmp_path / "dagster_home"
    (home / "storage").mkdir(parents=True)
    pods_env = {**env, **PG, "DAGSTER_PG_DB": database}
    pods_env |= {"PYTHONPATH": TEST_LOCATION_DIR, "ASSET_PLATFORM_DEFINITIONS_MODULE": definitions_module()}
    pods_env["ASSET_PLATFORM_SENSOR_INTERVAL_S"] = "5"  # definitions.py reads it: shorter waits, the same path
    mounts = {data: mount, home: str(home), TEST_LOCATION_FILE: f"{TEST_LOCATION_DIR}/{TEST_LOCATION_FILE.name}"}
    launcher = {
        "module": "dagster_docker",
        "class": "DockerRunLauncher",
        "config": {
            "network": "host",
            "env_vars": [f"{name}={value}" for name, value in pods_env.items()],
            "container_kwargs": {
                "volumes": {str(host): {"bind": inside, "mode": "rw"} for host, inside in mounts.items()},
                "labels": {LABEL: test_id},
            },
        },
    }
    (home / "dagster.yaml").write_text(INSTANCE_CONFIG.read_text() + "\n" + yaml.safe_dump({"run_launcher": launcher}))
    owned_by_image_user(home)

    port = free_port()
    server = code_server(test_id, port, "container_location", pods_env, mounts, ("--location-name", LOCATION))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        json.dumps({"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": LOCATION}}]})
    )
    host_env = subprocess_env(DAGSTER_HOME=str(home), **PG, DAGSTER_PG_DB=database)
    for name in (*PG, "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, host_env[name])
    server_log, daemon_log = tmp_path / "code-server.log", tmp_path / "daemon.log"
    with (
        running(["docker", "logs", "-f", server], server_log, host_env, tmp_path) as server_logs,
        running(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)], daemon_log, host_env, tmp_path
        ) as daemon,
    ):
        alive = [server_logs, daemon]
        wait_for(lambda: _health(port), STARTUP_S, "the code server in the image", alive, interval_s=2)
        run_id = str(uuid.uuid4())
        _launch(run_id, host_env, "-w", str(workspace), "-l", LOCATION)
        instance = DagsterInstance.from_config(str(home))

        def finished():
            run = instance.get_run_by_id(run_id)
            return run if run and run.is_finished else None

        run = wait_for(finished, RUN_S, f"run {run_id} of {JOB} to finish", alive, interval_s=3)
        container = run.tags.get("docker/container_id")
        diagnosis = "\n".join([tail(daemon_log), tail(server_log), logs(container) if container else "(no container)"])
        assert run.status.value == "SUCCESS", f"run {run_id} ended {run.status}:\n{diagnosis}"

        # Production: drifted batches land; the daemon's own sensors score them and, after
        # the policy's consecutive drifted batches, launch the retraining, each in a container.
        _land_drifted_batches(data, env, mount)
        retraining = wait_for(
            lambda: _finished_run(instance, RETRAIN_JOB), RUN_S * 2, f"a sensor-launched {RETRAIN_JOB} run", alive,
            interval_s=5,
        )  # fmt: skip
        retrain_container = retraining.tags.get("docker/container_id")
        diagnosis = "\n".join(
            [tail(daemon_log), tail(server_log), logs(retrain_container) if retrain_container else "(no container)"]
        )
        assert retraining.status.value == "SUCCESS", f"{RETRAIN_JOB} ended {retraining.status}:\n{diagnosis}"

    # The run worker ran in a container of this image, as its user, on the host's network.
    state = json.loads(docker("inspect", container).stdout)[0]
    assert state["Image"] == image.id and state["Config"]["Image"] == IMAGE
    assert state["Config"]["User"] == str(IMAGE_UID)
    assert state["HostConfig"]["NetworkMode"] == "host"
    assert state["State"]["ExitCode"] == 0
    assert state["Config"]["Cmd"][:3] == ["dagster", "api", "execute_run"]

    # The retraining was the drift sensor's decision on batches the batch sensor had scored,
    # and ran in its own container of the image.
    assert retraining.tags.get("dagster/sensor_name") == DRIFT_SENSOR, retraining.tags
    scored = [run for job in SCORE_JOBS for run in instance.get_runs(_runs_filter(job_name=job, statuses=["SUCCESS"]))]
    assert len(scored) >= 2, f"{len(scored)} scoring runs succeeded; the policy needs two drifted batches"
    for launched in (retraining, *scored):
        inside = json.loads(docker("inspect", launched.tags["docker/container_id"]).stdout)[0]
        assert inside["Image"] == image.id and inside["State"]["ExitCode"] == 0

    # Every planned materialization happened; the events are in PostgreSQL.
    events = _event_types(instance, run_id)
    planned = {key for kind, key, _ in events if kind == DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value}
    done = {key for kind, key, _ in events if kind == DagsterEventType.ASSET_MATERIALIZATION.value}
    assert planned and done == planned, f"planned {sorted(map(str, planned))}, materialized {sorted(map(str, done))}"
    success = DagsterEventType.RUN_SUCCESS.value  # stored under the enum's value, PIPELINE_SUCCESS
    sql = f"SELECT count(*) FROM event_logs WHERE run_id = '{run_id}' AND dagster_event_type = '{success}'"
    assert pg_query(database, sql)[0][0] == 1

    # The model, stored by the container in the shared folder's DVC remote, read back on the host.
    workspace_dir = data / Path(env["ASSET_PLATFORM_DVC_WORKSPACE"]).relative_to(mount)
    pulled, stored = _pull_model_on_the_host(workspace_dir, data / "dvc-remote", tmp_path / "reader")
    assert _same_tree(pulled, stored) == []


def _land_drifted_batches(data: Path, env: dict[str, str], mount: str) -> None:
    """Two covariate-drifted production days after the history, with their labels, as upstream writes them."""
    import datetime as dt

    from asset_platform.resources.production import LANDING_ROOT_VAR
    from asset_platform.synthetic.landing import write_labels, write_production_day

    landing = data / Path(env[LANDING_ROOT_VAR]).relative_to(mount) / EXAMPLE_LANDING[0]
    for index in range(DRIFTED_BATCHES):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=DEMO_DAYS + index)
        _, labels = write_production_day(landing / "production", day, DRIFTED_ROWS, DEMO_SEED, "covariate", 1.5)
        write_labels(landing / "labels", day, labels)
    owned_by_image_user(landing)


def _finished_run(instance, job_name: str):
    """The newest run of `job_name` once it has finished, else None."""
    runs = instance.get_runs(_runs_filter(job_name=job_name), limit=1)
    return runs[0] if runs and runs[0].is_finished else None


def _runs_filter(**fields):
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus(status) for status in fields.pop("statuses", [])]
    return RunsFilter(**fields, statuses=statuses)


def _chart_instance_config(folder: Path, database: str) -> Path:
    """The instance config the chart writes into its ConfigMap: PostgreSQL by name, the password from its Secret."""
    config = {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": PG["DAGSTER_PG_HOST"],
                    "port": int(PG["DAGSTER_PG_PORT"]),
                    "username": PG["DAGSTER_PG_USER"],
                    "password": {"env": "DAGSTER_PG_PASSWORD"},
                    "db_name": database,
                    "scheme": "postgresql+psycopg2",
                }
            }
        },
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "compute_logs": {"module": "dagster.core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"},
    }
    folder.mkdir()
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_a_step_runs_in_the_image_as_its_kubernetes_job_would(
    image: Build, database: str, test_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
    from dagster._core.execution.plan.state import KnownExecutionState
    from dagster._core.execution.retries import RetryMode
    from dagster._core.instance.ref import InstanceRef
    from dagster._grpc.types import ExecuteStepArgs

    chart = values()
    mount = data_mount(chart)
    data, env = _shared_folder(tmp_path, mount)
    # The run, as the run worker would hold it: created through the image's code server
    # (the chart's user deployment: the composition root, production mode) and queued.
    home = _chart_instance_config(tmp_path / "instance", database)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", PG["DAGSTER_PG_PASSWORD"])
    port = free_port()
    server = code_server(test_id, port, definitions_module(), env, {data: mount})
    server_log = tmp_path / "code-server.log"
    host_env = subprocess_env(DAGSTER_HOME=str(home), DAGSTER_PG_PASSWORD=PG["DAGSTER_PG_PASSWORD"])
    with running(["docker", "logs", "-f", server], server_log, host_env, tmp_path) as server_logs:
        wait_for(lambda: _health(port), STARTUP_S, "the code server in the image", [server_logs], interval_s=2)
        run_id = str(uuid.uuid4())
        _launch(run_id, host_env, "--grpc-host", "127.0.0.1", "--grpc-port", str(port))
    instance = DagsterInstance.from_config(str(home))
    run = instance.get_run_by_id(run_id)
    assert run.status == DagsterRunStatus.QUEUED  # no daemon: nothing launched it
    assert run.job_code_origin.repository_origin.container_image == IMAGE
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    tags = {step.key: dict(step.tags or {}) for step in plan.steps}
    assert ROOT_STEP in tags, f"no step {ROOT_STEP} in {JOB}: {sorted(tags)}"

    # What k8s_job_executor passes a step worker: the run's origin and the run worker's
    # instance (whose DAGSTER_HOME is the chart's in every pod).
    step_args = ExecuteStepArgs(
        job_origin=run.job_code_origin,
        run_id=run_id,
        step_keys_to_execute=[ROOT_STEP],
        instance_ref=InstanceRef.from_dir(chart["global"]["dagsterHome"], config_dir=str(home)),
        retry_mode=RetryMode.DISABLED,
        known_state=KnownExecutionState(),
        should_verify_step=True,
        print_serialized_events=False,
    )
    job = step_job(chart, env, step_args, run.job_name, tags[ROOT_STEP])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["dagster", "api", "execute_step"]
    assert "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS" in {var["name"] for var in container["env"]}

    deployment = user_deployment(chart)
    secrets = {chart["global"]["postgresqlSecretName"]: {"postgresql-password": PG["DAGSTER_PG_PASSWORD"]}}
    secrets |= {source["name"]: {} for source in deployment["envSecrets"]}
    ssh = tmp_path / "dvc-ssh"  # the SSH key Secret's volume: empty, the remote here is a folder
    ssh.mkdir()
    claims = {
        v["persistentVolumeClaim"]["claimName"]: data for v in deployment["volumes"] if "persistentVolumeClaim" in v
    }
    secret_files = {v["secret"]["secretName"]: ssh for v in deployment["volumes"] if "secret" in v}
    arguments = docker_run_for(job, claims, secrets, secret_files)
    name = f"ap-step-{test_id}"
    result = docker("run", "--name", name, "--label", f"{LABEL}={test_id}", *arguments, timeout_s=STEP_S, check=False)
    assert result.returncode == 0, f"the step's container failed ({result.returncode}):\n{logs(name, 80)}"

    events = _event_types(instance, run_id)
    assert (DagsterEventType.STEP_SUCCESS.value, None, ROOT_STEP) in events, f"events: {events}"
    materialized = [key for kind, key, step in events if kind == DagsterEventType.ASSET_MATERIALIZATION.value]
    assert materialized, f"the step materialized nothing: {events}"
    assert any(path.is_file() for path in (data / "dvc-remote").rglob("*")), "nothing was pushed to the DVC remote"
    assert container["image"] == IMAGE
    assert json.loads(docker("inspect", name).stdout)[0]["Image"] == image.id
