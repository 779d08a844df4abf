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
from typing import TYPE_CHECKING, Any

from asset_platform.home import PlatformHome
from asset_platform.registry.names import MODEL_ASSETS
from asset_platform.registry.trigger import TRIGGER_TAG, USER_TAG

if TYPE_CHECKING:
    from asset_platform.registry.models import ModelRegistry, ModelVersion

_SHOWN_METRICS = ("holdout_auc", "holdout_log_loss", "valid_auc", "train_auc")


def _registry() -> ModelRegistry:
    from asset_platform.registry.models import ModelRegistry

    return ModelRegistry(workspace=str(PlatformHome.from_env().dvc_workspace))


def _instance():
    import dagster as dg

    from asset_platform.serve import prepare_dagster_home

    os.environ.setdefault("DAGSTER_HOME", str(prepare_dagster_home(PlatformHome.from_env())))
    return dg.DagsterInstance.get()


def _when(version: ModelVersion) -> str:
    return dt.datetime.fromtimestamp(version.record.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _summary(version: ModelVersion, champion: dict | None) -> dict[str, Any]:
    return {
        "asset": version.asset,
        "version": version.version,
        "flavor": version.manifest["flavor"],
        "created_at": _when(version),
        "run_id": version.record.run_id,
        "champion": bool(champion and champion["version"] == version.version),
        "metrics": version.metrics,
    }


def _print(args: argparse.Namespace, payload: Any, text_lines: list[str]) -> int:
    print(json.dumps(payload, indent=2, default=str) if args.json else "\n".join(text_lines))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    registry = _registry()
    champion = registry.champion()
    rows = [_summary(v, champion) for v in registry.versions(args.asset)]
    lines = [f"{'':2}{'asset':14} {'version':34} {'created (UTC)':20} {'holdout AUC':>11} {'valid AUC':>9}"]
    for row in rows:
        metrics = row["metrics"]
        lines.append(
            f"{'*' if row['champion'] else ' ':2}{row['asset']:14} {row['version']:34} {row['created_at']:20} "
            f"{metrics.get('holdout_auc', float('nan')):11.4f} {metrics.get('valid_auc', float('nan')):9.4f}"
        )
    lines.append("* = champion (in production)" if champion else "no champion yet")
    return _print(args, rows, lines if rows else ["no model versions yet: run the baseline_training job"])


def _cmd_show(args: argparse.Namespace) -> int:
    registry = _registry()
    version = registry.find(args.version)
    payload = {**_summary(version, registry.champion()), "params": version.params, "manifest": version.manifest}
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

    registry = _registry()
    left, right = registry.find(args.a), registry.find(args.b)
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
    return _print(args, payload, lines)


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


def _set_champion(action: str, version: str | None, reason: str) -> int:
    from asset_platform.definitions import defs

    if version:
        _registry().find(version)  # a clear error before any run starts
    job = defs.resolve_job_def("set_champion")
    tags = {TRIGGER_TAG: "cli", USER_TAG: getpass.getuser()}
    config = {"action": action, "version": version, "reason": reason}
    result = job.execute_in_process(
        run_config={
            "ops": {"champion_model": {"config": config}},
            # Keep the terminal quiet; the full log is in the run (UI).
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        instance=_instance(),
        tags=tags,
        raise_on_error=False,
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        message = failure.event_specific_data.error.message if failure else "see the run in the UI"
        raise LookupError(f"{action} failed (run {result.run_id}): {message.strip()}")
    pointer = _registry().champion()
    print(f"champion is now {pointer['model_asset']} {pointer['version']}: {pointer['reason']} (run {result.run_id})")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    return _set_champion("promote", args.version, args.reason)


def _cmd_rollback(args: argparse.Namespace) -> int:
    return _set_champion("rollback", args.to, args.reason)


def _cmd_history(args: argparse.Namespace) -> int:
    registry = _registry()
    rows = [
        {"run_id": record.run_id, "at": dt.datetime.fromtimestamp(record.created_at, dt.UTC).isoformat(), **pointer}
        for record, pointer in registry.champion_history()
    ]
    lines = [
        f"{r['at'][:19]}  {r['model_asset']:14} {r['version'][:12]}  by {r['changed_by']}: {r['reason']}" for r in rows
    ]
    return _print(args, rows, lines or ["no champion yet"])


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from asset_platform.definitions import defs
    from asset_platform.registry.lineage import find_materialization
    from asset_platform.registry.reproduce import reproduce
    from assets.models import MODEL_CONFIGS

    if args.asset not in MODEL_CONFIGS:
        raise ValueError(f"{args.asset!r} is not a model asset; choose one of {sorted(MODEL_CONFIGS)}")
    instance = _instance()
    record = find_materialization(instance, args.asset, args.version)
    assets_def = defs.resolve_assets_def(args.asset)
    result = reproduce(instance, _registry().store, assets_def, MODEL_CONFIGS[args.asset], record)
    payload = {**result.__dict__, "identical": result.identical}
    verdict = "byte-identical" if result.identical else f"NOT identical (rebuilt {result.rebuilt_version})"
    lines = [f"{result.asset} {result.version}: rebuilt from the recorded inputs and config: {verdict}"]
    lines += [f"  input {name}: {md5}" for name, md5 in result.inputs.items()]
    lines += [f"  metric {name} differs by {diff:+.6g}" for name, diff in result.metric_differences.items()]
    _print(args, payload, lines)
    return 0 if result.identical else 1


def _cmd_lineage(args: argparse.Namespace) -> int:
    from asset_platform.registry.lineage import find_materialization, render, trace

    instance = _instance()
    tree = trace(instance, find_materialization(instance, args.asset, args.version))
    return _print(args, tree.to_dict(), render(tree))


def register(commands: argparse._SubParsersAction) -> None:
    """Add `models`, `reproduce` and `lineage` to the `asset-platform` parser."""
    models = commands.add_parser("models", help="model versions, the champion, promotion and rollback")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="SUBCOMMAND")
    _add(sub, "list", _cmd_list, "model versions with metrics; * marks the champion")
    sub.choices["list"].add_argument("--asset", choices=MODEL_ASSETS, help="only this model asset")
    _add(sub, "show", _cmd_show, "params and metrics of one version").add_argument("version")
    compare = _add(sub, "compare", _cmd_compare, "params, metrics and input data versions side by side")
    compare.add_argument("a")
    compare.add_argument("b")
    promote = _add(sub, "promote", _cmd_promote, "make VERSION the champion (recorded like any promotion)", json=False)
    promote.add_argument("version")
    promote.add_argument("--reason", default="", help="why, recorded in the alias history")
    rollback = _add(sub, "rollback", _cmd_rollback, "return to the previous champion or --to VERSION", json=False)
    rollback.add_argument("--to", help="model version to roll back to (default: the previous champion)")
    rollback.add_argument("--reason", default="", help="why, recorded in the alias history")
    _add(sub, "history", _cmd_history, "every change of the champion, oldest first")
    reproduce = _add(commands, "reproduce", _cmd_reproduce, "retrain a model version from its recorded inputs")
    reproduce.add_argument("asset", metavar="MODEL_ASSET")
    reproduce.add_argument("--version", required=True, help="data version (or prefix) to rebuild")
    lineage = _add(commands, "lineage", _cmd_lineage, "the chain from an asset version back to the raw data")
    lineage.add_argument("asset", metavar="ASSET")
    lineage.add_argument("--version", help="data version or prefix (default: the latest)")


def _add(sub, name: str, handler, help_text: str, json: bool = True) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    if json:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=handler)
    return parser
