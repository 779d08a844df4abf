"""The instance storage over TLS, as the Helm values configure it (`postgresqlParams: {sslmode: require}`).

The test starts a PostgreSQL server of its own on a free loopback port, with TLS on
(a self-signed certificate made here) and `hostssl` as the only way in: a client that
does not speak TLS is refused. A Dagster instance configured with exactly the values'
connection parameters then stores a run, its events and its asset materialization
there. Skipped only where PostgreSQL's server binaries or openssl are missing, or
where the test cannot run the server as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests.deployments.containers import values
from tests.processes import free_port

START_S = 60


def _server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


def _as_postgres(*command: str, timeout_s: float = START_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=timeout_s
    )


@pytest.fixture(scope="module")
def tls_server() -> Iterator[int]:
    """A PostgreSQL server on 127.0.0.1 that accepts TLS connections only; yields its port."""
    bin_dir = _server_bin()
    if bin_dir is None or shutil.which("openssl") is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries, openssl or runuser are not installed here")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a PostgreSQL server as")
    if os.getuid() != 0:
        pytest.skip("starting a PostgreSQL server as the postgres user needs root")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="asset-platform-pg-tls-"))
    os.chown(root, owner.pw_uid, owner.pw_gid)
    data, port = root / "data", free_port()
    try:
        made = _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        assert made.returncode == 0, made.stderr
        key, cert = data / "server.key", data / "server.crt"
        subprocess.run(
            ["openssl", "req", "-new", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for path in (key, cert):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        key.chmod(0o600)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{root}'",
            "ssl": "on",
            "ssl_cert_file": f"'{cert}'",
            "ssl_key_file": f"'{key}'",
        }
        with open(data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        # TLS is the only way in over TCP: no plain `host` line.
        (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
        started = _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "start")
        assert started.returncode == 0, started.stderr + (root / "server.log").read_text()
        yield port
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _chart_params() -> dict[str, str]:
    return dict(values()["postgresql"]["postgresqlParams"])


def test_a_client_without_tls_is_refused_by_the_test_server(tls_server: int):
    with pytest.raises(psycopg2.OperationalError, match="no encryption|SSL off|pg_hba.conf"):
        psycopg2.connect(host="127.0.0.1", port=tls_server, user="postgres", dbname="postgres", sslmode="disable")


def test_the_instance_stores_runs_and_events_over_tls_with_the_values_connection_parameters(
    tls_server: int, tmp_path: Path
):
    import dagster as dg

    params = _chart_params()
    assert params.get("sslmode") in ("require", "verify-ca", "verify-full"), f"the values do not require TLS: {params}"
    config = {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": "127.0.0.1",
                    "port": tls_server,
                    "username": "postgres",
                    "password": "",
                    "db_name": "postgres",
                    "params": params,
                    "scheme": values()["postgresql"]["postgresqlScheme"],
                }
            }
        },
        "telemetry": {"enabled": False},
    }
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    @dg.asset
    def tls_probe() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize([tls_probe], instance=instance)
        assert result.success
        assert instance.get_latest_materialization_event(dg.AssetKey("tls_probe")) is not None

    # Read back over TLS by a separate client: the run's events are in this server's storage,
    # and every client connection the server holds is encrypted.
    connection = psycopg2.connect(host="127.0.0.1", port=tls_server, user="postgres", dbname="postgres", **params)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (result.run_id,))
            assert cursor.fetchone()[0] > 0
            cursor.execute(
                "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid "
                "WHERE a.client_addr IS NOT NULL"
            )
            assert cursor.fetchone()[0] is True
    finally:
        connection.close()
