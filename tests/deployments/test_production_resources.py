"""resources.production: the same resources as local, every setting from the environment."""

from __future__ import annotations

import dagster as dg
import pytest

from asset_platform.home import PlatformHome
from asset_platform.lifecycle.training import TORCH_GPU_ENV_VAR, torch_op_tags
from asset_platform.resources.production import (
    DVC_REMOTE_OPTION_VARS,
    DVC_REMOTE_URL_VAR,
    DVC_WORKSPACE_VAR,
    LANDING_ROOT_VAR,
    dvc_remote_options,
    production_executor,
    production_resources,
)
from definitions import build_definitions

ALL_VARS = [DVC_WORKSPACE_VAR, DVC_REMOTE_URL_VAR, LANDING_ROOT_VAR]
ALL_VARS += list(DVC_REMOTE_OPTION_VARS.values())
EXAMPLE_MODELS = ("ecommerce", "deliveries")


@pytest.fixture
def no_production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)


def test_production_has_every_resource_that_local_has(no_production_env: None, platform_home: PlatformHome):
    from asset_platform.resources.local import local_resources

    missing = set(local_resources(platform_home)) - set(production_resources())
    assert not missing, f"resources.production lacks {sorted(missing)}: add them with their settings from EnvVar"


def test_definitions_load_in_production_without_any_credential(
    no_production_env: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ASSET_PLATFORM_ENV", "production")
    defs = build_definitions()
    for model in EXAMPLE_MODELS:
        assert defs.resolve_job_def(f"{model}_training")
    assert isinstance(defs.resources["landing"].root, dg.EnvVar)


def test_paths_and_remote_are_environment_variables_read_at_run_time(no_production_env: None):
    resources = production_resources()
    settings = {
        DVC_WORKSPACE_VAR: resources["io_manager"].workspace,
        DVC_REMOTE_URL_VAR: resources["io_manager"].remote_url,
        LANDING_ROOT_VAR: resources["landing"].root,
        f"registry: {DVC_WORKSPACE_VAR}": resources["registry"].workspace,
    }
    for variable, value in settings.items():
        # An EnvVar shows as the variable's name, in the UI too, never as a value.
        assert isinstance(value, dg.EnvVar) and variable.endswith(value), variable


def test_remote_options_are_the_ones_whose_variable_is_set():
    environ = {DVC_REMOTE_OPTION_VARS["user"]: "dvc", DVC_REMOTE_OPTION_VARS["keyfile"]: "/keys/id"}
    options = dvc_remote_options(environ)
    assert options == {"user": DVC_REMOTE_OPTION_VARS["user"], "keyfile": DVC_REMOTE_OPTION_VARS["keyfile"]}
    assert all(isinstance(value, dg.EnvVar) for value in options.values())
    assert dvc_remote_options({}) == {}


def test_production_trainings_run_each_step_in_its_own_pod_and_a_batch_in_one(
    no_production_env: None, monkeypatch: pytest.MonkeyPatch
):
    from dagster_k8s import k8s_job_executor

    assert production_executor() is k8s_job_executor
    # Binding it needs no cluster: Kubernetes is first contacted when a run starts.
    monkeypatch.setenv("ASSET_PLATFORM_ENV", "production")
    jobs = {job.name: job for job in build_definitions().resolve_all_job_defs()}
    assert {f"{model}_training" for model in EXAMPLE_MODELS} <= set(jobs)
    light_jobs = ("score_batch", "score_labeled_batch", "batch_performance")
    light = {f"{model}_{job}" for model in EXAMPLE_MODELS for job in light_jobs}
    assert light <= set(jobs)
    for name, job in jobs.items():
        # A batch's scoring and its performance: one pod for the run, every step in it.
        expected = dg.in_process_executor if name in light else k8s_job_executor
        assert job.executor_def is expected, name


def test_torch_gpu_limit_follows_the_environment_variable(monkeypatch: pytest.MonkeyPatch):
    def gpu_limit() -> str | None:
        resources = torch_op_tags()["dagster-k8s/config"]["container_config"]["resources"]
        return resources.get("limits", {}).get("nvidia.com/gpu")

    monkeypatch.delenv(TORCH_GPU_ENV_VAR, raising=False)
    assert gpu_limit() is None
    monkeypatch.setenv(TORCH_GPU_ENV_VAR, "1")
    assert gpu_limit() == "1"
    monkeypatch.setenv(TORCH_GPU_ENV_VAR, "0")
    assert gpu_limit() is None


def test_the_batch_engine_is_chosen_by_the_environment_and_its_endpoint_stays_a_variable():
    from asset_platform.resources.production import (
        BATCH_ENGINE_VAR,
        SPARK_MASTER_VAR,
        SPARK_REMOTE_VAR,
        batch_engine_from_env,
    )

    assert batch_engine_from_env({}).engine == "local"
    remote = batch_engine_from_env({BATCH_ENGINE_VAR: "spark", SPARK_REMOTE_VAR: "sc://spark:15002/"})
    # The endpoint (a token inside it) is read where the step runs, never written into the definitions.
    assert remote.engine == "spark" and isinstance(remote.spark_remote, dg.EnvVar)
    assert remote.spark_remote == SPARK_REMOTE_VAR
    master = batch_engine_from_env({BATCH_ENGINE_VAR: "spark", SPARK_MASTER_VAR: "spark://master:7077"})
    assert master.spark_master == SPARK_MASTER_VAR and master.spark_remote is None
    with pytest.raises(ValueError, match=f"{SPARK_REMOTE_VAR}.*{SPARK_MASTER_VAR}"):
        batch_engine_from_env({BATCH_ENGINE_VAR: "spark"})
    with pytest.raises(ValueError, match=f"{BATCH_ENGINE_VAR}='dask'"):
        batch_engine_from_env({BATCH_ENGINE_VAR: "dask"})
