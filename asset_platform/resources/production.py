"""Production wiring: every path, URL and credential comes from the environment.

Values are `dagster.EnvVar`s, so the code location loads without any of them
(the UI shows the variable's name, never its value) and each run reads them
where it runs: in the run and step pods on Kubernetes, which get them from the
Secrets and ConfigMaps named in deployments/k8s/values.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_k8s import k8s_job_executor

from asset_platform.batch_engine import BatchEngine
from asset_platform.drift.monitor import DriftMonitor
from asset_platform.landing import LandingZone
from asset_platform.notify import notifier_from_env
from asset_platform.registry.models import ModelRegistry
from asset_platform.storage.io_manager import DvcIOManager
from asset_platform.tuning.storage import TuningStore, configured_url

DVC_WORKSPACE_VAR = "ASSET_PLATFORM_DVC_WORKSPACE"
DVC_REMOTE_URL_VAR = "ASSET_PLATFORM_DVC_REMOTE_URL"
# The landing root: one folder per declared model under it (or where its declaration says).
LANDING_ROOT_VAR = "ASSET_PLATFORM_LANDING_ROOT"

# DVC remote option -> the variable that holds it. An option is configured only
# when its variable is set where the definitions load, so one mapping serves an
# SSH remote (dvc-ssh: user, port, keyfile) and an S3 one. Secret material itself
# (the private key, the S3 keys) never passes through Dagster config: DVC reads
# the key file named by `keyfile`, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
# from the process environment.
DVC_REMOTE_OPTION_VARS = {
    "user": "ASSET_PLATFORM_DVC_SSH_USER",
    "port": "ASSET_PLATFORM_DVC_SSH_PORT",
    "keyfile": "ASSET_PLATFORM_DVC_SSH_KEYFILE",
    # S3 (install dvc-s3; ASSET_PLATFORM_DVC_REMOTE_URL=s3://bucket/prefix):
    # "endpointurl": "ASSET_PLATFORM_DVC_S3_ENDPOINT",  # MinIO, Ceph, any non-AWS S3
    # "region": "ASSET_PLATFORM_DVC_S3_REGION",
    # "profile": "ASSET_PLATFORM_DVC_S3_PROFILE",  # instead of the key variables
}


def dvc_remote_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The DVC remote options whose variable is set, each as an EnvVar read at run time."""
    environ = os.environ if environ is None else environ
    return {option: dg.EnvVar(var) for option, var in DVC_REMOTE_OPTION_VARS.items() if var in environ}


# The batch engine: `local` (the default) or `spark`; with `spark`, the Spark Connect endpoint (a Secret: a
# Databricks or EMR URL carries its token) or, unset, a classic master URL.
BATCH_ENGINE_VAR = "ASSET_PLATFORM_BATCH_ENGINE"
SPARK_REMOTE_VAR = "SPARK_REMOTE"
SPARK_MASTER_VAR = "ASSET_PLATFORM_SPARK_MASTER"


def batch_engine_from_env(environ: Mapping[str, str] | None = None) -> BatchEngine:
    """The batch engine the deployment's variables choose; the endpoint stays an EnvVar, read where steps run."""
    environ = os.environ if environ is None else environ
    engine = environ.get(BATCH_ENGINE_VAR, "local")
    if engine not in ("local", "spark"):
        raise ValueError(f"{BATCH_ENGINE_VAR}={engine!r}: expected local or spark")
    if engine == "local":
        return BatchEngine()
    spark: dict[str, Any] = {}
    if SPARK_REMOTE_VAR in environ:
        spark["spark_remote"] = dg.EnvVar(SPARK_REMOTE_VAR)
    elif SPARK_MASTER_VAR in environ:
        spark["spark_master"] = dg.EnvVar(SPARK_MASTER_VAR)
    else:
        raise ValueError(f"{BATCH_ENGINE_VAR}=spark needs {SPARK_REMOTE_VAR} (Spark Connect) or {SPARK_MASTER_VAR}")
    return BatchEngine(engine="spark", **spark)


def production_resources() -> dict[str, Any]:
    """The same resource keys as resources.local, bound to the environment instead of the platform home."""
    workspace = dg.EnvVar(DVC_WORKSPACE_VAR)
    return {
        "io_manager": DvcIOManager(
            # Must be a volume every run and step pod mounts at this path (a
            # ReadWriteMany claim): it holds the version catalog that steps read.
            workspace=workspace,
            remote_url=dg.EnvVar(DVC_REMOTE_URL_VAR),
            remote_options=dvc_remote_options(),
            # A missing remote is a misconfiguration to report, not a folder to create.
            create_local_remote=False,
        ),
        "drift_monitor": DriftMonitor(),
        # Production batches read, scored and summarized in chunks (a step's memory does not grow with the
        # batch), or by a Spark cluster ($ASSET_PLATFORM_BATCH_ENGINE=spark).
        "batch_engine": batch_engine_from_env(),
        "registry": ModelRegistry(workspace=workspace),
        # Webhook and Slack channels when their variables are set (from a Secret).
        "notifier": notifier_from_env(),
        "landing": LandingZone(root=dg.EnvVar(LANDING_ROOT_VAR)),
        # $ASSET_PLATFORM_TUNING_DB when set, else a schema of the instance's PostgreSQL database.
        "tuning_store": TuningStore(url=configured_url()),
    }


def production_executor() -> dg.ExecutorDefinition:
    """Each step of a production run in its own Kubernetes pod.

    A step's pod takes its resources from the asset's `dagster-k8s/config` op tag
    (training steps ask for more memory, the PyTorch model for a GPU) and its
    image, environment, secrets and volumes from the code location's deployment.
    Kubernetes is first contacted when a run starts, never when definitions load.
    """
    return k8s_job_executor
