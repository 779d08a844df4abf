"""The `asset-platform` console script.

Subcommands are small functions registered in `_COMMANDS`; each has `--help`.
Heavy libraries are imported inside commands so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from asset_platform import interrupts
from asset_platform.home import PlatformHome


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2.

    Command modules raise it (or any `user_errors()` type) for mistakes a user can fix.
    """


def user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message already tells the user what is wrong; printed without a traceback.

    Imported when an error is being judged, not at start: `declaration` imports Dagster, and
    `--help` must not wait for it.
    """
    from asset_platform.app.launcher import LaunchError
    from asset_platform.declaration.errors import DeclarationError
    from asset_platform.project.locate import ProjectNotFoundError
    from asset_platform.recovery import HomeLockError
    from asset_platform.storage.store import IntegrityError

    return (
        CliError,
        LookupError,
        ValueError,
        FileNotFoundError,
        DeclarationError,
        HomeLockError,  # another process holds the platform home, or it is read-only
        IntegrityError,  # a stored object is damaged or lost and no good copy exists: the message names it
        LaunchError,  # the code location did not load, or a run could not be launched: the message says why
        ProjectNotFoundError,  # no Dagster project here, or -m/-w named none
    )


def _model_landing(model: str):
    """The landing folders of declared model `model`, where the code location reads them."""
    from asset_platform.app.location import CodeLocation, resolved
    from asset_platform.landing import LandingZone

    location = CodeLocation.load()
    declaration = location.model(model)
    landing = LandingZone(root=str(resolved(location.resources["landing"].root)))
    return declaration, landing.for_model(declaration).ensure()


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asset_platform.synthetic import demo_dataset, write_batches
    from asset_platform.synthetic.datasets import DEMO_DATASETS

    if args.model not in DEMO_DATASETS:
        return _generate_from_contract(args)
    if args.shift:
        raise CliError(f"--shift is for models without a demo generator; {args.model} has --scenario")
    data = demo_dataset(args.model)
    if args.scenario is not None and args.scenario not in data.scenarios:
        raise CliError(f"unknown scenario {args.scenario!r} for {data.name}; choose from {', '.join(data.scenarios)}")
    if args.drift_day is not None and args.scenario is None:
        raise CliError("--drift-day needs --scenario")
    _declaration, landing = _model_landing(args.model)
    folder = landing.history if args.target == "history" else landing.production
    if args.if_missing and landing.scan(folder).files:
        print(f"{folder} already has data files; nothing to do")
        return 0
    args.start = _first_free_day(data, landing, args.start, args.days)
    for offset in tqdm(range(args.days), desc=f"writing {args.model} {args.target} batches", unit="day"):
        day = args.start + dt.timedelta(days=offset)
        drifting = args.scenario is not None and offset >= (args.drift_day or 0)
        scenario = args.scenario if drifting else None
        if args.target == "history":
            write_batches(folder, day, 1, args.rows_per_day, args.seed, scenario, None, args.intensity, data.name)
        else:
            from asset_platform.synthetic.landing import write_labels, write_production_day

            _path, labels = write_production_day(
                folder, day, args.rows_per_day, args.seed, scenario, args.intensity, data.name
            )
            if args.with_labels:
                write_labels(landing.labels, day, labels, data.name)
    print(f"wrote {args.days} daily files of {args.rows_per_day} rows to {folder}")
    return 0


def _generate_from_contract(args: argparse.Namespace) -> int:
    """Sample files for any declared model, drawn from its data contract (asset_platform/synthetic/contract.py)."""
    from types import SimpleNamespace

    from tqdm import tqdm

    from asset_platform.synthetic.contract import write_contract_day

    if args.scenario is not None:
        raise CliError(f"--scenario is for the example models; {args.model}'s sample data drifts with --shift SIGMA")
    declaration, landing = _model_landing(args.model)
    folder = landing.history if args.target == "history" else landing.production
    if args.if_missing and landing.scan(folder).files:
        print(f"{folder} already has data files; nothing to do")
        return 0
    names = SimpleNamespace(file_prefix=f"{declaration.name}_")
    start = _first_free_day(names, landing, args.start, args.days)
    production = args.target == "production"
    labels = landing.labels if production and args.with_labels else None
    for offset in tqdm(range(args.days), desc=f"writing {args.model} {args.target} files", unit="day"):
        shift = args.shift if args.shift and offset >= (args.drift_day or 0) else 0.0
        day = start + dt.timedelta(days=offset)
        write_contract_day(
            declaration, folder, day, args.rows_per_day, args.seed, shift, production=production, labels_folder=labels
        )
    print(f"wrote {args.days} daily files of {args.rows_per_day} rows to {folder}")
    return 0


def _landed_days(data, landing) -> dict[dt.date, str]:
    """Each day that already has a demo file in the model's history, production or labels folder."""
    days = {}
    for folder in (landing.history, landing.production, landing.labels):
        for path in sorted(folder.glob(f"{data.file_prefix}*.parquet")):
            try:
                days[dt.date.fromisoformat(path.name[len(data.file_prefix) : -len(".parquet")])] = str(path)
            except ValueError:  # not a demo file name: not ours to collide with
                continue
    return days


def _first_free_day(data, landing, start: dt.date | None, days: int) -> dt.date:
    """Where new demo files start: the day after the newest landed one unless `--start` says.

    A demo file's ids are made from its day, so a day landed twice (history and production) lands
    the same ids twice, and the combined history breaks the contract's id uniqueness on every
    retraining. An explicit `--start` over landed days is refused, naming them.
    """
    landed = _landed_days(data, landing)
    if start is None:
        return max(landed) + dt.timedelta(days=1) if landed else _DEFAULT_START
    wanted = {start + dt.timedelta(days=offset) for offset in range(days)}
    clashes = sorted(wanted & landed.keys())
    if clashes:
        free = max(landed) + dt.timedelta(days=1)
        raise CliError(
            f"{len(clashes)} of the {days} days from {start} already landed for {data.name} "
            f"(e.g. {landed[clashes[0]]}): the same days carry the same ids, which the data contract refuses "
            f"twice. Leave out --start (new files then start on {free}) or pick a later one"
        )
    return start


_DEFAULT_START = dt.date(2026, 1, 1)


def _cmd_up(args: argparse.Namespace) -> int:
    from asset_platform.app.serve import serve

    auth_args = None
    if args.auth:
        mode = "single-user" if args.single_user else "users" if args.users_file else "proxy"
        auth_args = ["--auth", args.auth, "--auth-mode", mode]
        auth_args += ["--single-user", args.single_user] if args.single_user else []
        auth_args += ["--users-file", args.users_file] if args.users_file else []
    home = PlatformHome.from_env()
    return serve(home, host=args.host, port=args.port, train_baselines=not args.no_baseline, auth_args=auth_args)


def _cmd_demo(args: argparse.Namespace) -> int:
    import json
    import math

    from asset_platform.app.demo import DemoSettings, run_demo

    if not 0 <= args.drift_day < args.days:
        raise CliError(f"--drift-day must be between 0 and {args.days - 1}, got {args.drift_day}")
    if args.labels_stop_day is not None and not 0 <= args.labels_stop_day < args.days:
        raise CliError(f"--labels-stop-day must be between 0 and {args.days - 1}, got {args.labels_stop_day}")
    from asset_platform.synthetic import demo_dataset

    scenarios = demo_dataset(args.model).scenarios
    if args.scenario not in scenarios:
        raise CliError(f"unknown scenario {args.scenario!r}; choose from {', '.join(scenarios)}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    root = args.home or PlatformHome.from_env().root / "demos" / f"{args.model}-{args.scenario}-{stamp}"
    home = PlatformHome(root.resolve()).ensure()
    settings = DemoSettings(
        args.scenario,
        args.days,
        args.drift_day,
        args.rows_per_day,
        args.history_days,
        args.seed,
        model=args.model,
        in_process=args.in_process,
        labels_stop_day=args.labels_stop_day,
    )
    print(f"demo home: {home.root} (training the baseline first)", flush=True)
    print(f"{'day':>3}  {'batch':22} {'drift?':6} {'status':7} {'share':>6} {'metric':>6}  {'retrain':10} champion")

    def report(o) -> None:
        share = "" if math.isnan(o.drift_share) else f"{o.drift_share:.2f}"
        auc = "" if math.isnan(o.realized_metric) else f"{o.realized_metric:.3f}"
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

    from asset_platform.synthetic.datasets import DEMO_DATASETS

    parser = commands.add_parser(
        "demo", help="headless closed loop: batches, drift, sensors, retraining, promotion; prints a timeline"
    )
    parser.add_argument(
        "--model",
        default="ecommerce",
        help=f"a declared model (default ecommerce): the examples ({', '.join(DEMO_DATASETS)}) have their own "
        "generators and scenarios; any other model gets rows drawn from its data contract",
    )
    parser.add_argument("--scenario", default="concept", help="drift to inject (see `generate --help`)")
    parser.add_argument("--days", type=int, default=20, help="production batches, one per day (default 20)")
    parser.add_argument("--drift-day", type=int, default=10, help="0-based day the scenario starts (default 10)")
    parser.add_argument("--rows-per-day", type=int, default=2000, help="sessions per batch (default 2000)")
    parser.add_argument(
        "--labels-stop-day",
        type=int,
        help="0-based day from which no labels land (default: every batch gets its labels): with "
        "monitoring.freshness.labels_hours declared, labels_fresh fails once those batches are late",
    )
    parser.add_argument("--history-days", type=int, default=21, help="days of history for the baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="platform home for the demo (default: a new folder under demos/)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="execute runs inside this process: faster, but the UI cannot re-execute them "
        "(default: launched through the code location, as the daemon launches them)",
    )
    parser.set_defaults(handler=_cmd_demo)


class _ScenariosFormatter(argparse.HelpFormatter):
    """Lists the drift scenarios in `generate --help` only: naming them imports pandas and numpy."""

    def add_text(self, text: str | None) -> None:
        if text == _SCENARIOS_PLACEHOLDER:
            from asset_platform.synthetic.scenarios import SCENARIOS

            text = "Scenarios (both example models): " + ", ".join(sorted(SCENARIOS))
        super().add_text(text)


_SCENARIOS_PLACEHOLDER = "Scenarios (both example models): listed here"


def _add_generate(commands: argparse._SubParsersAction) -> None:
    from asset_platform.synthetic.datasets import DEMO_DATASETS

    parser = commands.add_parser(
        "generate",
        help="write synthetic daily files into a declared model's landing folder",
        description=_SCENARIOS_PLACEHOLDER,
        formatter_class=_ScenariosFormatter,
    )
    parser.add_argument(
        "--model",
        default="ecommerce",
        help=f"a declared model (default ecommerce): the examples ({', '.join(DEMO_DATASETS)}) have their own "
        "generators and scenarios; any other model gets rows drawn from its data contract",
    )
    parser.add_argument("--target", choices=["history", "production"], default="history")
    parser.add_argument("--days", type=int, default=28, help="number of daily files (default 28)")
    parser.add_argument("--rows-per-day", type=int, default=1500, help="rows per day (default 1500)")
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        help="first day (default: the day after the newest file already landed for the model, or 2026-01-01)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario", help="drift scenario to inject")
    parser.add_argument("--drift-day", type=int, help="0-based day index where the scenario starts")
    parser.add_argument("--intensity", type=float, default=1.0, help="scenario strength (default 1.0)")
    parser.add_argument(
        "--shift",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="models without a demo generator: move every numeric feature by SIGMA standard deviations "
        "(from --drift-day on), a drift the policy should notice",
    )
    parser.add_argument("--with-labels", action="store_true", help="production: also land each batch's labels")
    parser.add_argument("--if-missing", action="store_true", help="do nothing if the folder has files")
    parser.set_defaults(handler=_cmd_generate)


def _add_up(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("up", help="start Dagster (webserver + daemon) on the platform home")
    parser.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    parser.add_argument("--no-baseline", action="store_true", help="do not launch each model's first training")
    parser.add_argument("--auth", metavar="POLICY", help="serve with users and roles (see `serve --help`)")
    parser.add_argument("--single-user", metavar="NAME", help="with --auth: every request is NAME (loopback)")
    parser.add_argument("--users-file", help="with --auth: HTTP Basic users with argon2 hashes")
    parser.set_defaults(handler=_cmd_up)


def _registrars() -> list:
    """Each area of the platform adds its own subcommands from its own module."""
    from asset_platform.app.audit_commands import register as access_commands
    from asset_platform.app.models_commands import register as registry_commands
    from asset_platform.app.serve_model_commands import register as serving_commands
    from asset_platform.app.storage_commands import register as storage_commands
    from asset_platform.app.tune_commands import register as tune_commands

    return [
        _add_generate,
        _add_up,
        _add_demo,
        storage_commands,
        registry_commands,
        access_commands,
        tune_commands,
        serving_commands,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asset-platform",
        description="ML asset platform on Dagster and DVC. Commands work on the Dagster project of the current "
        "folder, found as Dagster finds it: the nearest pyproject.toml with [tool.dagster] module_name or a "
        "[tool.dg] project, or a workspace.yaml (or name it with -m/-w). Data lives under $ASSET_PLATFORM_HOME "
        "(default: .platform/ in the project).",
    )
    project = parser.add_argument_group("project (default: found from the current folder upwards)")
    project.add_argument("-m", "--module", help="the code location's module (e.g. my_project.definitions)")
    project.add_argument("-d", "--working-directory", help="with -m: the folder it is imported from (default: .)")
    project.add_argument("-w", "--workspace", dest="project_workspace", help="a Dagster workspace.yaml")
    project.add_argument(
        "--location", help="with several code locations: only this one (by default a model is looked up in all)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _registrars():
        add(commands)
    return parser


def _interrupted_run() -> type[BaseException]:
    """What Dagster raises where it has guarded a step against interrupts, loaded only once one comes."""
    import dagster as dg

    return dg.DagsterExecutionInterruptedError


def main(argv: Sequence[str] | None = None) -> int:
    # `kill PID` stops a command a shell started in the background, and a signal that lands while Dagster holds
    # signals back between steps is not lost (asset_platform/interrupts.py).
    interrupts.watch()
    args = build_parser().parse_args(argv)
    from asset_platform.app.location import select_project

    select_project(args.module, args.project_workspace, args.working_directory, args.location)
    mark = _broken_so_far()
    # The command names broken declarations itself, once, at the end; the code location's log line
    # (asset_platform/project/broken.py) would say the same thing first.
    logging.getLogger("asset_platform.declarations").propagate = False
    logging.getLogger("asset_platform.declarations").addHandler(logging.NullHandler())
    try:
        status = args.handler(args)
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        print(f"asset-platform {args.command}: error: {error}", file=sys.stderr)
        status = 2
    except (KeyboardInterrupt, _interrupted_run()):
        # Ctrl-C or SIGTERM: what ran so far stays recorded in the instance. Inside a step Dagster turns the
        # signal into its own DagsterExecutionInterruptedError (a BaseException), which leaves the run the same way.
        print(f"asset-platform {args.command}: interrupted", file=sys.stderr)
        return 130
    # A declaration that did not load leaves the other models working, but never silently: each is
    # named at its file and line, and the command fails (exit 2) once it has done what it could.
    broken = _broken_since(mark)
    for item in broken:
        print(f"asset-platform {args.command}: error: declaration not loaded: {item}", file=sys.stderr)
    return 2 if broken and status == 0 else status


# Declarations that did not load are recorded where a project is loaded; the module is imported
# only then, so `--help` and commands that load no project import nothing for it.
_BROKEN_MODULE = "asset_platform.project.broken"


def _broken_so_far() -> int:
    module = sys.modules.get(_BROKEN_MODULE)
    return module.broken_so_far() if module else 0


def _broken_since(mark: int) -> list:
    module = sys.modules.get(_BROKEN_MODULE)
    return module.broken_since(mark) if module else []


if __name__ == "__main__":
    sys.exit(main())
