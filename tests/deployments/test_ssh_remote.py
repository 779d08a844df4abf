"""The storage against a real SSH remote: OpenSSH's sshd on a loopback port, DVC's dvc-ssh.

Assets are materialized with the production resources (every setting from the
environment, as on Kubernetes) and pushed over SSH; a fresh DVC workspace then
gets a version back byte for byte, once with the `dvc pull` CLI and once
through the platform's own AssetStore.
"""

from __future__ import annotations

import filecmp
import getpass
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from asset_platform.storage import AssetStore
from asset_platform.storage.workspace import ensure_workspace
from tests.conftest import VENV_BIN, subprocess_env
from tests.processes import free_port, running, tail, wait_for

SSHD = Path("/usr/sbin/sshd")
ASSET = ["ssh_probe_frame"]
REMOTE_NAME = "storage"


@dg.asset
def ssh_probe_frame() -> pd.DataFrame:
    """A small frame, stored through the IO manager like any platform asset."""
    return pd.DataFrame({"session": range(500), "converted": [i % 7 == 0 for i in range(500)]})


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
    return path


def _sshd_config(folder: Path, port: int, host_key: Path, authorized: Path) -> Path:
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        # The test's own user may be root; only the generated key gets in.
        "PermitRootLogin prohibit-password\nUsePAM no\n"
        # Temporary folders are world-traversable: don't refuse the key for that.
        "StrictModes no\n"
        # DVC talks SFTP; the built-in server needs no sftp-server binary.
        "Subsystem sftp internal-sftp\n"
    )
    return config


def _ssh_banner(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        return connection.recv(64).startswith(b"SSH-2.0-")


@pytest.fixture
def ssh_remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An sshd of this test's own on 127.0.0.1, trusted through a temporary $HOME/.ssh/known_hosts."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed: run scripts/install-system-deps.sh (make install does)")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    folder, home = tmp_path / "sshd", tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    folder.mkdir()
    host_key, client_key = _keygen(folder / "host_ed25519"), _keygen(home / ".ssh" / "id_ed25519")
    authorized = folder / "authorized_keys"
    shutil.copyfile(f"{client_key}.pub", authorized)
    port, user = free_port(), getpass.getuser()
    # dvc-ssh (asyncssh) checks the host key against ~/.ssh/known_hosts, as OpenSSH does.
    host_public = Path(f"{host_key}.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_public[0]} {host_public[1]}\n")
    monkeypatch.setenv("HOME", str(home))
    env = subprocess_env(HOME=str(home))
    config = _sshd_config(folder, port, host_key, authorized)
    log = folder / "sshd.log"
    with running([str(SSHD), "-D", "-e", "-f", str(config)], log, env, tmp_path) as sshd:
        try:
            wait_for(lambda: _ssh_banner(port), 30, "sshd to greet on its port", [sshd])
        except AssertionError as error:
            raise AssertionError(f"{error}\nsshd log:\n{tail(log)}") from error
        remote = tmp_path / "remote"
        remote.mkdir()
        yield {
            "port": str(port),
            "user": user,
            "keyfile": str(client_key),
            "path": str(remote),
            "home": str(home),
            "log": str(log),
        }


def _production_env(monkeypatch: pytest.MonkeyPatch, ssh: dict[str, str], root: Path) -> None:
    """The variables deployments/k8s/values.yaml sets, pointing at the test's sshd and folders."""
    variables = {
        "ASSET_PLATFORM_DVC_WORKSPACE": str(root / "workspace"),
        "ASSET_PLATFORM_DVC_REMOTE_URL": f"ssh://127.0.0.1{ssh['path']}",
        "ASSET_PLATFORM_DVC_SSH_USER": ssh["user"],
        "ASSET_PLATFORM_DVC_SSH_PORT": ssh["port"],
        "ASSET_PLATFORM_DVC_SSH_KEYFILE": ssh["keyfile"],
        "ASSET_PLATFORM_LANDING_ROOT": str(root / "landing"),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def _materialize_over_ssh(monkeypatch: pytest.MonkeyPatch, ssh: dict[str, str], root: Path) -> AssetStore:
    from asset_platform.resources.production import production_resources

    _production_env(monkeypatch, ssh, root)
    result = dg.materialize([ssh_probe_frame], resources=production_resources())
    assert result.success
    return AssetStore(root / "workspace", REMOTE_NAME, push=False)


def _fresh_workspace(path: Path, ssh: dict[str, str]) -> Path:
    options = {"user": ssh["user"], "port": ssh["port"], "keyfile": ssh["keyfile"]}
    ensure_workspace(path, REMOTE_NAME, f"ssh://127.0.0.1{ssh['path']}", options)
    return path


def test_dvc_pull_cli_gets_a_pushed_version_back(ssh_remote: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = _materialize_over_ssh(monkeypatch, ssh_remote, tmp_path / "producer")
    record = store.record(ASSET)
    assert any(Path(ssh_remote["path"]).rglob("*")), "nothing arrived in the SSH remote's folder"
    pointer = store.catalog.folder(ASSET, None) / f"{record.entry_name}.dvc"

    fresh = _fresh_workspace(tmp_path / "consumer", ssh_remote)
    shutil.copyfile(pointer, fresh / pointer.name)
    pulled = subprocess.run(
        [str(VENV_BIN / "dvc"), "pull", pointer.name],
        cwd=fresh,
        env=subprocess_env(HOME=ssh_remote["home"], DVC_NO_ANALYTICS="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pulled.returncode == 0, f"dvc pull failed:\n{pulled.stdout}\n{pulled.stderr}"
    assert filecmp.cmp(fresh / record.entry_name, store.cache.path(record.md5), shallow=False)
    _assert_went_through_sshd(ssh_remote)


def _assert_went_through_sshd(ssh: dict[str, str]) -> None:
    log = Path(ssh["log"]).read_text(errors="replace")
    assert f"Accepted publickey for {ssh['user']}" in log, f"no SSH login in the sshd log:\n{log[-2000:]}"


def test_asset_store_in_a_fresh_workspace_fetches_over_ssh(
    ssh_remote: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = _materialize_over_ssh(monkeypatch, ssh_remote, tmp_path / "producer")
    record = store.record(ASSET)

    # A new machine with the version catalog but an empty cache: every byte comes over SSH.
    fresh = _fresh_workspace(tmp_path / "consumer", ssh_remote)
    catalog = store.catalog.folder(ASSET, None)
    target = AssetStore(fresh, REMOTE_NAME, push=False)
    copy = target.catalog.folder(ASSET, None)
    copy.mkdir(parents=True)
    for name in ("versions.jsonl", "LATEST", f"{record.entry_name}.dvc"):
        shutil.copyfile(catalog / name, copy / name)
    assert not target.cache.path(record.md5).exists()

    loaded = target.get(ASSET)
    assert filecmp.cmp(target.cache.path(record.md5), store.cache.path(record.md5), shallow=False)
    pd.testing.assert_frame_equal(loaded, store.get(ASSET))
    _assert_went_through_sshd(ssh_remote)
