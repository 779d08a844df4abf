"""A team adds the library to its own Dagster project: the README's commands, run as written, in a fresh project.

The wheel is built from this repository and installed into a new virtualenv of
a project that `create-dagster` scaffolds in a temporary folder, beside a
package of the project's own named `assets` (the name the old wheel collided
with). The virtualenv reuses this environment's third-party packages (a `.pth`
entry: no network) but not its editable install of the library, so every import
of `asset_platform` there is the wheel's. Then the README's "Use it in your own
project" block runs line by line from inside that project: scaffold, check,
sample data, `up` with its daemon, a drifted batch, the retrain, the commands
that read it; and the README's pytest example runs there with the testing driver.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from tests import REPO_ROOT
from tests.processes import free_port, running, tail, wait_for

MAIN_BIN = Path(sys.executable).parent
# Console scripts of the dependencies the README's commands call; pip writes only the wheel's own.
DEPENDENCY_SCRIPTS = ("dg", "dagster", "dagster-daemon", "dagster-webserver", "dvc")
README = REPO_ROOT / "README.md"


def readme_block(marker: str) -> str:
    text = README.read_text()
    start = text.index(f"<!-- {marker} -->")
    body = text[start:].split("```", 2)[1]
    return body.split("\n", 1)[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), "."],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    shutil.rmtree(REPO_ROOT / "build" / "lib", ignore_errors=True)  # setuptools' staging copy, not needed
    (path,) = dist.glob("asset_platform-*.whl")
    return path


def test_the_wheel_installs_the_librarys_own_package_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
        entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt"))).decode()
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"asset_platform"}
    assert "asset-platform = asset_platform.app.cli:main" in entry_points
    # dg finds the component types (ModelDeclaration, Platform) through this (dg list components, dg scaffold defs).
    assert "asset_platform_project = asset_platform.project" in entry_points
    with zipfile.ZipFile(wheel) as archive:
        assert "asset_platform/app/dagster.yaml" in archive.namelist()  # the embedded instance `up` writes


class Project:
    """The team's project folder and the environment its commands run in (the venv activated)."""

    def __init__(self, root: Path, home: Path, wheel: Path) -> None:
        self.cwd = root.parent
        self.root = root
        self.wheel = wheel
        venv_bin = root / ".venv" / "bin"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DAGSTER_HOME", "VIRTUAL_ENV")},
            "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(root / ".venv"),
            "ASSET_PLATFORM_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            # Its sensors look every 5 s, not 30 (the declaration components read it): shorter waits, same path.
            "ASSET_PLATFORM_SENSOR_INTERVAL_S": "5",
        }
        self.log = root.parent / "commands.log"

    def run(self, command: str, timeout_s: float = 300) -> str:
        result = subprocess.run(
            ["bash", "-c", command], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )
        with open(self.log, "a") as log:
            log.write(f"$ {command}\n{result.stdout}{result.stderr}\n")
        assert result.returncode == 0, f"{command!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr


def make_venv(root: Path) -> None:
    """`python -m venv .venv`, seeded with this environment's third-party packages but not its editable library."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    (target,) = (root / ".venv" / "lib").glob("python3*/site-packages")
    # A plain path entry: the .pth files in it (this repository's editable install) are not processed.
    (target / "_shared_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    for name in DEPENDENCY_SCRIPTS:
        script = (MAIN_BIN / name).read_text().split("\n", 1)[1]
        (root / ".venv" / "bin" / name).write_text(f"#!{root / '.venv' / 'bin' / 'python'}\n{script}")
        (root / ".venv" / "bin" / name).chmod(0o755)


def translate(line: str, project: Project, port: int) -> str | None:
    """A README command as the test runs it: the same command, with what a test machine must do differently."""
    if line.startswith("create-dagster "):
        return f"{MAIN_BIN / 'create-dagster'} {line.split(' ', 1)[1]}"
    if line.startswith("cd "):
        project.cwd = project.cwd / line.split()[1]
        return None
    if line.startswith("python -m venv"):
        make_venv(project.root)
        return None
    if line.startswith("pip install"):
        # The published package is this wheel; pip comes from this environment (the venv has none).
        packages = line.split("install", 1)[1].replace("asset-platform", str(project.wheel))
        return f"{sys.executable} -m pip --python .venv/bin/python install -q --no-deps --no-build-isolation{packages}"
    if line.startswith("asset-platform up"):
        return f"{line} --port {port}"
    return line


@pytest.mark.timeout(900)
def test_a_team_project_runs_the_readme_commands_from_scaffold_to_retrain(wheel, tmp_path):
    root = tmp_path / "loans-project"
    project = Project(root, tmp_path / "home", wheel)
    port = free_port()
    lines = [
        part.strip()
        for line in readme_block("own-project:commands").splitlines()
        if line.strip() and not line.startswith("#")
        for part in line.split("  #")[0].split(" && ")
    ]
    assert lines[0].startswith("create-dagster project loans-project")
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("asset-platform up"):
            # `up` runs until stopped: the next command (the drifted batch) runs while it does.
            _up_until_the_baseline_and_a_retrain(project, translate(line, project, port), lines[index + 1])
            index += 2
            continue
        translated = translate(line, project, port)
        if translated is not None and not line.startswith(". .venv/bin/activate"):  # the env is the activated one
            _check(line, project.run(translated), project)
        if line.startswith("dg scaffold defs asset_platform.project.Platform"):
            _prove_no_collision_with_an_own_assets_package(project)
        index += 1
    listing = project.run("asset-platform models list")
    assert "loans (binary classification, auc)" in listing
    (champion,) = re.findall(r"^\* loans/lightgbm_model\s+([0-9a-f]{32})", listing, re.MULTILINE)
    assert f"loans/lightgbm_model {champion}" in project.run("asset-platform models show --model loans")
    _run_the_readme_pytest_example(project)


def _check(command: str, output: str, project: Project) -> None:
    if command.startswith("dg scaffold defs asset_platform.project.ModelDeclaration"):
        yaml_file = project.root / "src" / "loans_project" / "defs" / "loans" / "defs.yaml"
        assert "REQUIRED" in yaml_file.read_text()
    elif command == "dg check defs":
        assert "All definitions loaded successfully" in output
    elif command.startswith("asset-platform models history"):
        # The baseline's promotion, then the drift retrain's decision with the sensor as its actor.
        assert "promoted" in output and "by sensor:loans_drift_retrain_sensor" in output
    elif command.startswith("asset-platform storage verify"):
        assert re.search(r"checked \d+ versions: 0 objects repaired, 0 not repaired, 0 versions incomplete", output)
    elif command.startswith("asset-platform lineage"):
        assert "loans/champion" in output and "loans/raw_data" in output and "landing file history/" in output


def _prove_no_collision_with_an_own_assets_package(project: Project) -> None:
    """The project's own top-level `assets` package, used by one of its definitions, loads beside the library."""
    own = project.root / "src" / "assets"
    own.mkdir()
    (own / "__init__.py").write_text('TEAM_TABLE = "reference_table"\n')
    (site_packages,) = (project.root / ".venv" / "lib").glob("python3*/site-packages")
    (site_packages / "_project_src.pth").write_text(str(project.root / "src") + "\n")
    (project.root / "src" / "loans_project" / "defs" / "reference.py").write_text(
        textwrap.dedent(
            """
            import dagster as dg
            from assets import TEAM_TABLE


            @dg.asset(name=TEAM_TABLE)
            def reference_table() -> None:
                '''A plain asset of the team's own, from its own `assets` package.'''
            """
        )
    )
    where = project.run('python -c "import assets, asset_platform; print(assets.__file__, asset_platform.__file__)"')
    assert str(project.root / "src" / "assets") in where
    assert str(project.root / ".venv") in where.split()[1]  # the wheel's library, not this repository's


def _up_until_the_baseline_and_a_retrain(project: Project, up: str, drifted: str) -> None:
    """`asset-platform up` in the background: its daemon trains the baseline, scores a drifted batch, retrains."""
    home = Path(project.env["ASSET_PLATFORM_HOME"])
    log = project.cwd.parent / "up.log"
    with running(shlex.split(up), log, project.env, project.cwd) as process:
        instance_folder = home / "dagster"
        baseline = wait_for(
            lambda: _finished_run(instance_folder, "loans_training"), 300, "the baseline training", [process], 3
        )
        assert baseline.is_success, tail(log)
        assert "--shift" in drifted
        project.run(drifted)
        retrain = wait_for(
            lambda: _finished_run(instance_folder, "loans_retraining"), 420, "the drift retrain", [process], 3
        )
        assert retrain.is_success, tail(log)


def _finished_run(instance_folder: Path, job_name: str):
    if not (instance_folder / "dagster.yaml").exists():
        return None
    with dg.DagsterInstance.from_config(str(instance_folder)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=job_name), limit=1)
    return runs[0] if runs and runs[0].is_finished else None


def _run_the_readme_pytest_example(project: Project) -> None:
    """The README's CI example, in the project's own tests/, on sample files of its own."""
    samples = project.root / "tests" / "samples"
    project.run(
        "python - <<'EOF'\n"
        "import datetime as dt\n"
        "from asset_platform.synthetic.contract import write_contract_day\n"
        "from asset_platform.testing import declared_model\n"
        "loans = declared_model('loans')\n"
        f"s = '{samples}'\n"
        "for i in range(10):\n"
        "    write_contract_day(loans, s + '/history', dt.date(2026, 2, 1) + dt.timedelta(days=i), 600)\n"
        "for day, shift in [(dt.date(2026, 2, 20), 0), (dt.date(2026, 2, 21), 0),\n"
        "                   (dt.date(2026, 3, 1), 1.5), (dt.date(2026, 3, 2), 1.5)]:\n"
        "    write_contract_day(loans, s + '/production', day, 600, shift=shift, production=True,\n"
        "                       labels_folder=s + '/labels')\n"
        "EOF"
    )
    (project.root / "tests" / "test_loans_loop.py").write_text(readme_block("own-project:pytest"))
    project.cwd = project.root
    pytest = "python -m pytest -q -s -p no:cacheprovider -p no:hydra_pytest tests/test_loans_loop.py"
    output = project.run(pytest, timeout_s=600)
    assert "1 passed" in output
    assert "'detection_delay_batches': " in output and "'gate_decisions': [" in output
