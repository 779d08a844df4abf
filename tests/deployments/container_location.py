"""The platform's code location as tests/deployments/test_container_image.py serves it from the image.

Mounted into the code server's and every run's container (it is not part of the
image). It loads the composition root named by $ASSET_PLATFORM_DEFINITIONS_MODULE
(pyproject.toml's [tool.dagster] module_name) as the image does, in production
mode with every setting from the Helm values' variables, and changes one thing:
a run's steps execute in the run worker's container. The production executor,
k8s_job_executor, starts a Kubernetes Job per step and there is no cluster here;
the test of the step command covers that path (a step run as its Job would run it).
"""

from __future__ import annotations

import importlib
import os

import dagster as dg


def _steps_in_the_run_worker(platform: dg.Definitions) -> dg.Definitions:
    return dg.Definitions(
        assets=platform.assets,
        asset_checks=platform.asset_checks,
        jobs=platform.jobs,
        schedules=platform.schedules,
        sensors=platform.sensors,
        resources=platform.resources,
        loggers=platform.loggers,
        metadata=platform.metadata,
        executor=dg.in_process_executor,
    )


# One Definitions object at module scope: Dagster refuses a module with two.
defs = _steps_in_the_run_worker(importlib.import_module(os.environ["ASSET_PLATFORM_DEFINITIONS_MODULE"]).defs)
