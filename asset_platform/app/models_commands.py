"""`asset-platform models ...`, `reproduce` and `lineage`: the registry from the terminal.

Text for people by default, `--json` for scripts; unknown or ambiguous versions
are errors that exit non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.app.launcher import LocationLauncher, failure_message
from asset_platform.app.location import CodeLocation
from asset_platform.home import PlatformHome
from asset_platform.registry.trigger import TRIGGER_TAG, USER_TAG

# What a promotion or rollback costs, measured on a 2-core machine (README says the same): a private webserver
# loads the code location, then the run's own process loads it again, then the pointer is written.
SET_CHAMPION_COST = "about a minute on a laptop, most of it loading the code location twice"

if TYPE_CHECKING:
    from asset_platform.declaration import ModelDeclaration
    from asset_platform.registry.models import ModelLineup, ModelVersion
    from asset_platform.registry.pointer import ChampionPointer


def _selected(args: argparse.Namespace) -> tuple[CodeLocation, ModelDeclaration, ModelLineup]:
    location = CodeLocation.load()
    declaration = location.model(args.model)
    return location, declaration, location.lineup(declaration)


def _dagster_home() -> Path:
    """$DAGSTER_HOME, or the platform home's Dagster folder (prepared on first use)."""
    from asset_platform.app.serve import prepare_dagster_home

    os.environ.setdefault("DAGSTER_HOME", str(prepare_dagster_home(PlatformHome.from_env())))
    return Path(os.environ["DAGSTER_HOME"])


def _instance():
    import dagster as dg

    _dagster_home()
    return dg.DagsterInstance.get()


def _when(version: ModelVersion) -> str:
    return dt.datetime.fromtimestamp(version.record.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _summary(version: ModelVersion, champion: ChampionPointer | None, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "asset": version.asset,
        "version": version.version,
        "flavor": version.manifest["flavor"],
        "created_at": _when(version),
        "run_id": version.record.run_id,
        "champion": bool(champion and champion.version == version.version),
        "metrics": version.metrics,
        **({"error": version.manifest["error"]} if "error" in version.manifest else {}),
    }


def _print(args: argparse.Namespace, payload: Any, text_lines: list[str]) -> int:
    print(json.dumps(payload, indent=2, default=str) if args.json else "\n".join(text_lines))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    location = CodeLocation.load()
    chosen = [location.model(args.model)] if args.model else list(location.declarations.values())
    rows, lines = [], []
    for declaration in chosen:
        lineup = location.lineup(declaration)
        champion = lineup.champion()
        found = [_summary(v, champion, declaration.name) for v in lineup.versions(args.asset)]
        rows += found
        lines += _list_lines(declaration, found, champion)
    return _print(args, rows, lines or ["no models are declared"])


def _list_lines(declaration: ModelDeclaration, rows: list[dict], champion: ChampionPointer | None) -> list[str]:
    from asset_platform.lifecycle import lifecycle_names

    metric = declaration.metric_name
    header = f"{declaration.name} ({declaration.task.replace('_', ' ')}, {metric})"
    if not rows:
        return [header, f"  no model versions yet: run the {lifecycle_names(declaration).training_job} job", ""]
    lines = [header, f"{'':2}{'asset':30} {'version':34} {'created (UTC)':20} {'holdout ' + metric:>14}"]
    for row in rows:
        value = row["metrics"].get(f"holdout_{metric}", float("nan"))
        lines.append(
            f"{'*' if row['champion'] else ' ':2}{row['asset']:30} {row['version']:34} {row['created_at']:20} "
            f"{value:14.4f}"
        )
    unreadable = [row for row in rows if row["flavor"] == "unreadable"]
    lines += [f"! {row['asset']} {row['version']}: {row['error']}" for row in unreadable]
    lines += ["* = champion (in production)" if champion else "no champion yet", ""]
    return lines


def _cmd_show(args: argparse.Namespace) -> int:
    _location, declaration, lineup = _selected(args)
    if args.version is None:
        champion = lineup.champion()
        if champion is None:
            raise LookupError(f"{declaration.name} has no champion yet: name a version (see `models list`)")
        args.version = champion.version
    version = lineup.find(args.version)
    payload = {**_summary(version, lineup.champion(), declaration.name), "params": version.params}
    payload["manifest"] = {k: v for k, v in version.manifest.items() if k not in ("extra",)}
    lines = [f"{version.asset} {version.version}  ({version.manifest['flavor']}, created {_when(version)} UTC)"]
    lines.append(f"  run: {version.record.run_id}   champion: {'yes' if payload['champion'] else 'no'}")
    lines.append("  params:")
    lines += [f"    {k}: {v}" for k, v in sorted(version.params.items())]
    lines.append("  metrics:")
    lines += [f"    {k}: {v:.6g}" for k, v in sorted(version.metrics.items())]
    return _print(args, payload, lines)


def _cmd_compare(args: argparse.Namespace) -> int:
    import dagster as dg

    location, declaration, lineup = _selected(args)
    left, right = lineup.find(args.a), lineup.find(args.b)
    instance = _instance()
    inputs = [_inputs_of(instance, dg, v) for v in (left, right)]
    sections = {
        "params": (left.params, right.params),
        "metrics": (left.metrics, right.metrics),
        "inputs": tuple(inputs),
    }
    payload = {"a": left.version, "b": right.version, **{k: {"a": a, "b": b} for k, (a, b) in sections.items()}}
    lines = [f"{'':28} {left.asset + ' ' + left.version[:8]:>24} {right.asset + ' ' + right.version[:8]:>24}"]
    for title, (a, b) in sections.items():
        lines.append(f"{title}:")
        for key in sorted(set(a) | set(b)):
            mark = " " if a.get(key) == b.get(key) else "≠"
            lines.append(f"{mark} {key:26} {_cell(a.get(key)):>24} {_cell(b.get(key)):>24}")
    if declaration.task == "multiclass":
        payload["confusion"], confusion_lines = _confusions(
            declaration, location.names(declaration), lineup, left, right
        )
        lines += confusion_lines
    return _print(args, payload, lines)


def _confusions(declaration, names, lineup, left, right) -> tuple[dict[str, Any], list[str]]:
    """Both versions' confusion matrices on the same rows: each version's own evaluation may have scored another
    holdout, so both are counted here on the newest one, each through its own feature pipeline."""
    from asset_platform.registry.holdout import confusion_on, newest_holdout
    from asset_platform.reports.multiclass import confusion_text

    holdout = newest_holdout(lineup, names)
    found = {side: confusion_on(declaration, lineup, holdout, v) for side, v in (("a", left), ("b", right))}
    payload = {
        "holdout": {
            "dataset_version": holdout.dataset_version,
            "feature_pipeline_version": holdout.pipeline_version,
            "rows": len(holdout.rows),
        },
        **found,
    }
    lines = [f"confusion on {holdout.describe()}; rows: actual class, columns: predicted class:"]
    for side, version in (("a", left), ("b", right)):
        lines.append(f"  {version.asset} {version.version[:8]}")
        lines += ["    " + line for line in confusion_text(found[side]["classes"], found[side]["counts"])]
    return payload, lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    text = str(value) if value is not None else "-"
    return text if len(text) <= 24 else text[:21] + "..."


def _inputs_of(instance, dg, version: ModelVersion) -> dict[str, str]:
    from asset_platform.registry.lineage import find_materialization

    try:
        record = find_materialization(instance, version.asset, version.version)
    except LookupError:
        return {}
    inputs = record.asset_materialization.metadata.get("dvc/inputs")
    return dict(inputs.value) if inputs is not None else {}


def _set_champion(args: argparse.Namespace, action: str, version: str | None, reason: str) -> int:
    from asset_platform.access.policy import USER_ENV, AccessDenied, Role, cli_refusal
    from asset_platform.declaration.names import CHAMPION

    location, declaration, lineup = _selected(args)
    # With ASSET_PLATFORM_POLICY set, a promotion or rollback needs the editor role on the model's owners.
    refusal = cli_refusal(Role.EDITOR, declaration.owners, f"{action} of {declaration.name}", os.environ)
    if refusal:
        raise AccessDenied(refusal)
    if version:
        lineup.find(version)  # a clear error before any run starts
    names = location.names(declaration)
    # The actor of the audit trail is the person the policy check above judged, not the process's login.
    tags = {TRIGGER_TAG: "cli", USER_TAG: os.environ.get(USER_ENV) or getpass.getuser()}
    config = {"action": action, "version": version, "reason": reason}
    instance = _instance()
    # Through the code location, as a click in the UI would: the run can be re-executed from the UI.
    # Most of the cost is loading the code location in a private webserver: the steps go to stderr as they happen.
    print(f"{declaration.name}: {action} runs as {names.set_champion_job} ({SET_CHAMPION_COST})", file=sys.stderr)

    def progress(message: str) -> None:
        print(f"{declaration.name}: {message}", file=sys.stderr, flush=True)

    with LocationLauncher(_dagster_home(), progress=progress) as launcher:
        run = launcher.launch(
            names.set_champion_job, tags, run_config={"ops": {names.op(CHAMPION): {"config": config}}}
        )
    if not run.success:
        raise LookupError(f"{action} failed (run {run.run_id}): {failure_message(instance, run.run_id)}")
    pointer = lineup.champion()
    print(f"{declaration.name}: champion is now {pointer.describe()}: {pointer.reason} (run {run.run_id})")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    return _set_champion(args, "promote", args.version, args.reason)


def _cmd_rollback(args: argparse.Namespace) -> int:
    return _set_champion(args, "rollback", args.to, args.reason)


def _cmd_history(args: argparse.Namespace) -> int:
    from asset_platform.registry.decisions import champion_decisions

    _location, declaration, lineup = _selected(args)
    # Each decision as it was (a rejection is not a repeat of the last promotion): read from the event log.
    decisions = champion_decisions(lineup, _instance())
    rows = [{"model": declaration.name, **row.to_dict(), "changed_at": row.at} for row in decisions]
    lines = [
        f"{r['at'][:19]}  {r['decision']:11} {r['model_asset']:30} {r['version'][:12]}  by {r['changed_by']}: "
        f"{r['reason']}"
        for r in rows
    ]
    return _print(args, rows, lines or [f"{declaration.name}: no champion yet"])


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from asset_platform.registry.lineage import find_materialization
    from asset_platform.registry.reproduce import reproduce

    location, declaration, lineup = _selected(args)
    names = location.names(declaration)
    asset = args.asset.split("/")[-1]
    if asset not in names.model_assets:
        raise ValueError(
            f"{args.asset!r} is not a model asset of {declaration.name}; choose one of {names.model_assets}"
        )
    instance = _instance()
    key = names.key(asset)
    record = find_materialization(instance, key.to_user_string(), args.version)
    assets_def = location.definitions.resolve_assets_def(key)
    result = reproduce(instance, lineup.store, assets_def, record)
    payload = {**result.__dict__, "identical": result.identical}
    verdict = "byte-identical" if result.identical else f"NOT identical (rebuilt {result.rebuilt_version})"
    lines = [f"{result.asset} {result.version}: rebuilt from the recorded inputs: {verdict}"]
    lines += [f"  input {name}: {md5}" for name, md5 in result.inputs.items()]
    lines += [f"  metric {name} differs by {diff:+.6g}" for name, diff in result.metric_differences.items()]
    _print(args, payload, lines)
    return 0 if result.identical else 1


def _cmd_lineage(args: argparse.Namespace) -> int:
    from asset_platform.registry.lineage import find_materialization, render, trace

    location = CodeLocation.load()
    declaration = location.model(args.model)
    asset = args.asset if "/" in args.asset else location.names(declaration).key(args.asset).to_user_string()
    instance = _instance()
    tree = trace(instance, find_materialization(instance, asset, args.version))
    return _print(args, tree.to_dict(), render(tree))


def register(commands: argparse._SubParsersAction) -> None:
    """Add `models`, `reproduce` and `lineage` to the `asset-platform` parser."""
    models = commands.add_parser("models", help="model versions, the champion, promotion and rollback")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="SUBCOMMAND")
    listing = _add(sub, "list", _cmd_list, "model versions with metrics per declared model; * marks the champion")
    listing.add_argument("--asset", help="only this model asset (e.g. lgbm_model)")
    _add(sub, "show", _cmd_show, "params and metrics of one version (default: the champion)").add_argument(
        "version", nargs="?", help="a model version or its prefix (default: the champion)"
    )
    compare = _add(
        sub,
        "compare",
        _cmd_compare,
        "params, metrics and input data versions side by side; a multiclass model's confusion matrices, both "
        "counted on the newest holdout",
    )
    compare.add_argument("a")
    compare.add_argument("b")
    promote = _add(
        sub,
        "promote",
        _cmd_promote,
        f"make VERSION the champion (recorded like any promotion; {SET_CHAMPION_COST}, progress on stderr)",
        json=False,
    )
    promote.add_argument("version")
    promote.add_argument("--reason", default="", help="why, recorded in the alias history")
    rollback = _add(
        sub,
        "rollback",
        _cmd_rollback,
        f"return to the previous champion or --to VERSION ({SET_CHAMPION_COST}, progress on stderr)",
        json=False,
    )
    rollback.add_argument("--to", help="model version to roll back to (default: the previous champion)")
    rollback.add_argument("--reason", default="", help="why, recorded in the alias history")
    _add(
        sub,
        "history",
        _cmd_history,
        "every decision about the champion (promoted, rejected, rolled back, shadowed, retired), oldest first",
    )
    reproduce = _add(commands, "reproduce", _cmd_reproduce, "retrain a model version from its recorded inputs")
    reproduce.add_argument("asset", metavar="MODEL_ASSET", help="model asset, e.g. lgbm_model")
    reproduce.add_argument("--version", required=True, help="data version (or prefix) to rebuild")
    lineage = _add(commands, "lineage", _cmd_lineage, "the chain from an asset version back to the raw data")
    lineage.add_argument("asset", metavar="ASSET", help="asset name (e.g. champion) or full key (ecommerce/champion)")
    lineage.add_argument("--version", help="data version or prefix (default: the latest)")


def _add(sub, name: str, handler, help_text: str, json: bool = True) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--model", metavar="NAME", help="declared model (required when several are declared)")
    if json:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=handler)
    return parser
