"""The `asset-platform` console script: help on every command, clear errors on bad arguments."""

from __future__ import annotations

import pytest

from asset_platform.cli import build_parser, main

COMMANDS = ("generate", "up", "demo", "storage", "models", "reproduce", "lineage")


def test_every_command_has_help(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: asset-platform" in capsys.readouterr().out
    assert set(COMMANDS) <= set(build_parser()._subparsers._group_actions[0].choices)


def test_generate_writes_the_demo_history(platform_home, capsys):
    assert main(["generate", "--days", "2", "--rows-per-day", "50"]) == 0
    assert sorted(p.name for p in platform_home.history_landing.iterdir()) == [
        "events_2026-01-01.parquet",
        "events_2026-01-02.parquet",
    ]
    assert main(["generate", "--if-missing"]) == 0
    assert "already has event files" in capsys.readouterr().out


def test_drift_day_without_scenario_is_a_clear_error(platform_home, capsys):
    assert main(["generate", "--days", "3", "--drift-day", "1"]) == 2
    assert "--drift-day needs --scenario" in capsys.readouterr().err
    assert not any(platform_home.history_landing.iterdir())


def test_unknown_scenario_is_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--scenario", "earthquake"])
    assert exit_info.value.code == 2
    assert "covariate" in capsys.readouterr().err


def test_demo_drift_day_outside_the_days_is_a_clear_error(platform_home, tmp_path, capsys):
    assert main(["demo", "--days", "3", "--drift-day", "5", "--home", str(tmp_path / "demo")]) == 2
    assert "--drift-day must be between 0 and 2" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # refused before anything was written
