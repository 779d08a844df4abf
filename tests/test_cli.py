"""The `asset-platform` console script: help on every command, clear errors on bad arguments."""

from __future__ import annotations

import pytest

from asset_platform.app.cli import build_parser, main
from tests.conftest import ecommerce_history

COMMANDS = ("generate", "up", "demo", "storage", "models", "reproduce", "lineage")


def _landed_files(platform_home) -> list:
    return [path for path in platform_home.landing.rglob("*") if path.is_file()]


def test_every_command_has_help(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: asset-platform" in capsys.readouterr().out
    assert set(COMMANDS) <= set(build_parser()._subparsers._group_actions[0].choices)


def test_generate_writes_the_demo_history(platform_home, capsys):
    assert main(["generate", "--days", "2", "--rows-per-day", "50"]) == 0
    assert sorted(p.name for p in ecommerce_history(platform_home).iterdir()) == [
        "events_2026-01-01.parquet",
        "events_2026-01-02.parquet",
    ]
    assert main(["generate", "--if-missing"]) == 0
    assert "already has data files" in capsys.readouterr().out


def test_generate_writes_into_the_chosen_models_landing_folder(platform_home):
    assert main(["generate", "--model", "deliveries", "--days", "1", "--rows-per-day", "40"]) == 0
    assert [p.relative_to(platform_home.landing).as_posix() for p in _landed_files(platform_home)] == [
        "deliveries/history/deliveries_2026-01-01.parquet"
    ]
    command = ["generate", "--model", "deliveries", "--target", "production", "--with-labels"]
    assert main([*command, "--days", "1", "--rows-per-day", "40", "--start", "2026-02-01"]) == 0
    model = platform_home.landing / "deliveries"
    for folder in ("production", "labels"):
        assert [p.name for p in (model / folder).iterdir()] == ["deliveries_2026-02-01.parquet"], folder
    assert not (platform_home.landing / "ecommerce" / "history").exists()


def test_generate_for_an_undeclared_model_is_refused_naming_the_declared_ones(platform_home, capsys):
    assert main(["generate", "--model", "loans"]) == 2
    error = capsys.readouterr().err
    assert "no declared model is named 'loans'" in error and "deliveries" in error
    assert not _landed_files(platform_home)


def test_drift_day_without_scenario_is_a_clear_error(platform_home, capsys):
    assert main(["generate", "--days", "3", "--drift-day", "1"]) == 2
    assert "--drift-day needs --scenario" in capsys.readouterr().err
    assert not _landed_files(platform_home)


def test_unknown_scenario_is_refused_with_the_valid_names(platform_home, capsys):
    assert main(["generate", "--scenario", "earthquake"]) == 2
    assert "covariate" in capsys.readouterr().err
    assert not _landed_files(platform_home)


def test_demo_drift_day_outside_the_days_is_a_clear_error(platform_home, tmp_path, capsys):
    assert main(["demo", "--days", "3", "--drift-day", "5", "--home", str(tmp_path / "demo")]) == 2
    assert "--drift-day must be between 0 and 2" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # refused before anything was written


@pytest.mark.parametrize("day", ["-1", "3"])
def test_demo_labels_stop_day_outside_the_days_is_a_clear_error(platform_home, tmp_path, capsys, day):
    command = ["demo", "--days", "3", "--drift-day", "1", "--labels-stop-day", day, "--home", str(tmp_path / "demo")]
    assert main(command) == 2
    assert f"--labels-stop-day must be between 0 and 2, got {day}" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_demo_unknown_scenario_is_refused_before_anything_is_written(platform_home, tmp_path, capsys):
    command = ["demo", "--model", "deliveries", "--scenario", "earthquake", "--home", str(tmp_path / "demo")]
    assert main(command) == 2
    assert "covariate" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_help_and_the_audit_command_start_without_importing_dagster_or_pandas(tmp_path):
    # Dagster and pandas take seconds to import on a small machine: `--help` and commands that only
    # read a file must not wait for them (benchmarks/load_time.py measures the start-up).
    import subprocess
    import sys

    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "access.jsonl").write_text("")
    probe = (
        "import sys\nfrom asset_platform.app.cli import main\n"
        "for argv in (['--help'], ['audit']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('dagster', 'pandas', 'numpy') if m in sys.modules))\n"
        "main(['generate', '--help'])\n"  # names the scenarios, importing them only now
    )
    env = {"ASSET_PLATFORM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]  # the exit of `generate --help`
    assert "\n[]\n" in done.stdout, done.stdout[-1000:]
    assert "Scenarios (both example models): category_mix" in done.stdout


def test_generate_production_starts_after_the_newest_landed_day_so_no_id_lands_twice(platform_home):
    import pandas as pd

    assert main(["generate", "--days", "2", "--rows-per-day", "30"]) == 0
    production = ["generate", "--target", "production", "--with-labels", "--days", "2", "--rows-per-day", "30"]
    assert main(production) == 0  # as the README runs it: no --start
    model = platform_home.landing / "ecommerce"
    produced = sorted(p.name for p in (model / "production").iterdir())
    assert produced == ["events_2026-01-03.parquet", "events_2026-01-04.parquet"]
    assert main(["generate", "--days", "1", "--rows-per-day", "30"]) == 0  # history again: after production
    assert sorted(p.name for p in (model / "history").iterdir())[-1] == "events_2026-01-05.parquet"
    files = [*(model / "history").iterdir(), *(model / "production").iterdir()]  # labels repeat their batch's ids
    ids = [pd.read_parquet(path)["event_id"] for path in files]
    landed = pd.concat(ids)
    assert landed.is_unique, landed[landed.duplicated()].head()


def test_generate_refuses_a_start_over_landed_days_and_writes_nothing(platform_home, capsys):
    assert main(["generate", "--days", "3", "--rows-per-day", "30"]) == 0
    before = sorted(_landed_files(platform_home))
    command = ["generate", "--target", "production", "--days", "2", "--start", "2026-01-03"]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "1 of the 2 days from 2026-01-03 already landed" in error and "events_2026-01-03.parquet" in error
    assert "new files then start on 2026-01-04" in error
    assert sorted(_landed_files(platform_home)) == before


@pytest.mark.parametrize("interrupt", ["KeyboardInterrupt", "DagsterExecutionInterruptedError"])
def test_an_interrupted_command_says_so_in_one_line_and_exits_130(monkeypatch, capsys, interrupt):
    """SIGTERM inside a step reaches the command as Dagster's own interrupt error, outside one as
    KeyboardInterrupt: both end the command the same way, never as a traceback with exit code 1."""
    import dagster as dg

    from asset_platform.app import cli

    error = KeyboardInterrupt if interrupt == "KeyboardInterrupt" else dg.DagsterExecutionInterruptedError

    def add_stopped(commands) -> None:
        def stopped(args):
            raise error()

        commands.add_parser("stopped").set_defaults(handler=stopped)

    monkeypatch.setattr(cli, "_registrars", lambda: [add_stopped])
    assert main(["stopped"]) == 130
    assert capsys.readouterr().err.strip() == "asset-platform stopped: interrupted"
