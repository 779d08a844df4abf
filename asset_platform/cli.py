"""The `asset-platform` console script.

Subcommands are small functions registered in `_COMMANDS`; each has `--help`.
Heavy libraries are imported inside commands so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from asset_platform.home import PlatformHome


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2.

    Command modules raise it (or any `USER_ERRORS` type) for mistakes a user can fix.
    """


# Errors whose message already tells the user what is wrong; printed without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (CliError, LookupError, ValueError, FileNotFoundError)


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asset_platform.synthetic import write_batches

    home = PlatformHome.from_env().ensure()
    landing = home.history_landing if args.target == "history" else home.production_landing
    if args.if_missing and any(landing.glob("events_*.parquet")):
        print(f"{landing} already has event files; nothing to do")
        return 0
    if args.drift_day is not None and args.scenario is None:
        raise CliError("--drift-day needs --scenario")
    for offset in tqdm(range(args.days), desc=f"writing {args.target} batches", unit="day"):
        drifting = args.scenario is not None and offset >= (args.drift_day or 0)
        write_batches(
            landing,
            start=args.start + dt.timedelta(days=offset),
            days=1,
            rows_per_day=args.rows_per_day,
            seed=args.seed,
            scenario=args.scenario if drifting else None,
            intensity=args.intensity,
        )
    print(f"wrote {args.days} daily files of {args.rows_per_day} sessions to {landing}")
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from asset_platform.serve import serve

    return serve(PlatformHome.from_env(), host=args.host, port=args.port, train_baseline=not args.no_baseline)


def _cmd_demo(args: argparse.Namespace) -> int:
    import json
    import math

    from asset_platform.demo import DemoSettings, run_demo

    if not 0 <= args.drift_day < args.days:
        raise CliError(f"--drift-day must be between 0 and {args.days - 1}, got {args.drift_day}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    root = args.home or PlatformHome.from_env().root / "demos" / f"{args.scenario}-{stamp}"
    home = PlatformHome(root.resolve()).ensure()
    settings = DemoSettings(args.scenario, args.days, args.drift_day, args.rows_per_day, args.history_days, args.seed)
    print(f"demo home: {home.root} (training the baseline first)", flush=True)
    print(f"{'day':>3}  {'batch':22} {'drift?':6} {'status':7} {'share':>6} {'AUC':>6}  {'retrain':10} champion")

    def report(o) -> None:
        share = "" if math.isnan(o.drift_share) else f"{o.drift_share:.2f}"
        auc = "" if math.isnan(o.realized_auc) else f"{o.realized_auc:.3f}"
        print(
            f"{o.day:>3}  {o.batch:22} {'yes' if o.drifting else '':6} {o.drift_status:7} {share:>6} {auc:>6}  "
            f"{o.retrain:10} {o.champion}",
            flush=True,
        )

    summary = run_demo(home, settings, report)
    print(f"browse it: ASSET_PLATFORM_HOME={home.root} make up")
    print(json.dumps(summary, default=str))
    return 0


def _add_demo(commands: argparse._SubParsersAction) -> None:
    from pathlib import Path

    from asset_platform.synthetic import SCENARIOS

    parser = commands.add_parser(
        "demo", help="headless closed loop: batches, drift, sensors, retraining, promotion; prints a timeline"
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="concept", help="drift to inject")
    parser.add_argument("--days", type=int, default=20, help="production batches, one per day (default 20)")
    parser.add_argument("--drift-day", type=int, default=10, help="0-based day the scenario starts (default 10)")
    parser.add_argument("--rows-per-day", type=int, default=2000, help="sessions per batch (default 2000)")
    parser.add_argument("--history-days", type=int, default=21, help="days of history for the baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="platform home for the demo (default: a new folder under demos/)")
    parser.set_defaults(handler=_cmd_demo)


def _add_generate(commands: argparse._SubParsersAction) -> None:
    from asset_platform.synthetic import SCENARIOS

    parser = commands.add_parser("generate", help="write synthetic daily event files into the landing folder")
    parser.add_argument("--target", choices=["history", "production"], default="history")
    parser.add_argument("--days", type=int, default=28, help="number of daily files (default 28)")
    parser.add_argument("--rows-per-day", type=int, default=1500, help="sessions per day (default 1500)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1), help="first day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="drift scenario to inject")
    parser.add_argument("--drift-day", type=int, help="0-based day index where the scenario starts")
    parser.add_argument("--intensity", type=float, default=1.0, help="scenario strength (default 1.0)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing if the folder has files")
    parser.set_defaults(handler=_cmd_generate)


def _add_up(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("up", help="start Dagster (webserver + daemon) on the platform home")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--no-baseline", action="store_true", help="do not launch the first baseline training")
    parser.set_defaults(handler=_cmd_up)


def _registrars() -> list:
    """Each area of the platform adds its own subcommands from its own module."""
    from asset_platform.registry.commands import register as registry_commands
    from asset_platform.storage.commands import register as storage_commands

    return [_add_generate, _add_up, _add_demo, storage_commands, registry_commands]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asset-platform",
        description="ML asset platform on Dagster and DVC. Data lives under $ASSET_PLATFORM_HOME "
        "(default: .platform/ in the repository).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _registrars():
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"asset-platform {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
