"""Where Optuna studies live: one RDB storage shared by every worker and the CLI.

In order: an explicit SQLAlchemy URL (e.g. a PostgreSQL database of its own);
else, when the Dagster instance stores runs in PostgreSQL (production), that
database with the studies in a schema of their own; else a SQLite file in the
platform home. Trials survive pods and runs.

Steps get these settings from the `TuningStore` resource, which the composition
root builds (from the home it was given, or $ASSET_PLATFORM_TUNING_DB); only
`storage_url`, for the CLI, reads the environment itself.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from asset_platform.home import PlatformHome

STORAGE_ENV_VAR = "ASSET_PLATFORM_TUNING_DB"
# Heartbeats: a worker writes one every interval; a RUNNING trial silent for the grace
# period belongs to a dead worker and is failed and re-queued by the next worker.
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30
# The schema of the instance's PostgreSQL database that holds the studies.
STUDY_SCHEMA = "optuna_studies"
# Table creation on a fresh database races when several workers start at once.
_OPEN_ATTEMPTS = 6


def storage_url(home: PlatformHome | None = None, instance: Any = None) -> str:
    """For a composition root (the CLI): $ASSET_PLATFORM_TUNING_DB, else the instance's PostgreSQL, else the home."""
    import os

    configured = os.environ.get(STORAGE_ENV_VAR, "").strip() or None
    return resolve_url(configured, instance, (home or PlatformHome.from_env()).root)


def configured_url(environ: Mapping[str, str] | None = None) -> dg.EnvVar | None:
    """For a composition root: $ASSET_PLATFORM_TUNING_DB as an EnvVar (read where the step runs) when it is set."""
    import os

    environ = os.environ if environ is None else environ
    return dg.EnvVar(STORAGE_ENV_VAR) if environ.get(STORAGE_ENV_VAR, "").strip() else None


def resolve_url(configured: str | None, instance: Any, home: Path | None) -> str:
    """`configured`, else the instance's PostgreSQL (schema `optuna_studies`), else SQLite under `home`/tuning."""
    if configured and configured.strip():
        return configured.strip()
    # dagster-postgres's run storage keeps its URL in `postgres_url`; any other storage has none.
    instance_url = getattr(getattr(instance, "run_storage", None), "postgres_url", None)
    if isinstance(instance_url, str) and instance_url:
        return in_schema(instance_url, STUDY_SCHEMA)
    if home is None:
        raise ValueError(
            f"no tuning study storage: set ${STORAGE_ENV_VAR} to a SQLAlchemy URL, "
            "or run on a Dagster instance that stores runs in PostgreSQL"
        )
    folder = Path(home) / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'studies.sqlite3'}"


class TuningStore(dg.ConfigurableResource):
    """Where the tuning steps keep their Optuna studies (the rules of `resolve_url`).

    A resource, so a step uses the home its definitions were built with, not
    whatever home the environment of the process that runs it names.
    """

    url: str | None = None  # a SQLAlchemy URL; wins over the instance and the home
    home: str | None = None  # the platform home: SQLite under <home>/tuning when no URL and no PostgreSQL instance

    def url_for(self, instance: Any) -> str:
        return resolve_url(self.url, instance, Path(self.home) if self.home else None)


def in_schema(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections create and find tables in `schema` (libpq's search_path option)."""
    from sqlalchemy.engine import make_url

    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _ensure_schema(url: str) -> None:
    """Create the schema a `in_schema` URL names, once, before Optuna creates its tables there."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = str(parsed.query.get("options", ""))
    if not options.startswith("-csearch_path="):
        return
    schema = options.removeprefix("-csearch_path=").split(",")[0]
    engine = sqlalchemy.create_engine(parsed.difference_update_query(["options"]))
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()


def _write_ahead_log(engine: Any) -> None:
    """SQLite in WAL mode: workers read while one writes, and a commit costs a third less (measured per trial)."""
    import sqlalchemy

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode: a crash loses no committed trial state
        cursor.close()

    sqlalchemy.event.listen(engine, "connect", pragmas)
    engine.dispose()  # connections opened while Optuna created its tables reconnect with the pragmas


def open_storage(url: str, heartbeat_interval: int = HEARTBEAT_INTERVAL_S, grace_period: int = GRACE_PERIOD_S) -> Any:
    """An Optuna RDBStorage with heartbeats; a heartbeat-stale trial is re-queued with the same params."""
    import optuna
    import sqlalchemy.exc

    if url.startswith("sqlite"):
        # Workers in several processes write to one file: wait for the lock instead of failing.
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            if not url.startswith("sqlite"):
                _ensure_schema(url)
            with warnings.catch_warnings():
                # Heartbeats and stale-trial retries are marked experimental since Optuna 2.8; they are
                # exactly what lets a re-run take over a killed worker's trial, so we rely on them.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
            if url.startswith("sqlite"):
                _write_ahead_log(storage.engine)
            return storage
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == _OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def redacted(url: str) -> str:
    """The URL without its password, for metadata and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
