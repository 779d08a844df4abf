"""`asset-platform tune`: the trials of a model's hyperparameter studies, and the Optuna dashboard on them.

Both read the study storage the tuning assets write (`asset_platform.tuning.storage`:
$ASSET_PLATFORM_TUNING_DB, else SQLite in the platform home); neither needs the
code location, so they work while no Dagster process runs.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `tune show` and `tune dashboard` to the `asset-platform` parser."""
    help_text = "hyperparameter studies: each trial's params and score, and the Optuna dashboard"
    tune = commands.add_parser("tune", help=help_text, description=help_text)
    sub = tune.add_subparsers(dest="tune_command", required=True, metavar="SUBCOMMAND")
    show_help = "every trial of a model's newest study per tuned family: number, state, value, params (* = best)"
    show = sub.add_parser("show", help=show_help, description=show_help)
    show.add_argument("--model", required=True, metavar="MODEL", help="declared model name, e.g. ecommerce")
    show.add_argument("--family", metavar="F", help="only this family or model asset (lightgbm, lightgbm_model)")
    show.add_argument("--all-studies", action="store_true", help="every study of the model, not only the newest")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_cmd_show)
    dashboard_help = "serve optuna-dashboard, read-only, on the study storage (Ctrl-C stops it)"
    dashboard = sub.add_parser("dashboard", help=dashboard_help, description=dashboard_help)
    dashboard.add_argument("--model", required=True, metavar="MODEL", help="declared model whose studies to link")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    dashboard.set_defaults(handler=_cmd_dashboard)


def _storage() -> tuple[Any, str]:
    """The storage the tuning assets of this environment write: the same rules, the same instance."""
    import os

    from asset_platform.tuning.storage import open_storage, redacted, storage_url

    url = storage_url()
    if os.environ.get("DAGSTER_HOME"):
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            url = storage_url(instance=instance)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise LookupError(
            f"no tuning studies yet ({redacted(url)} does not exist): materialize a model's <family>_tuning asset first"
        )
    return open_storage(url), redacted(url)


def model_studies(storage: Any, model: str, family: str | None = None, newest_only: bool = True) -> list[Any]:
    """Summaries of `model`'s studies (of one family or model asset), newest first, or the newest of each asset."""
    import optuna

    summaries = [s for s in optuna.get_all_study_summaries(storage) if s.user_attrs.get("model") == model]
    if family:
        summaries = [s for s in summaries if s.user_attrs.get("model_asset") in (family, f"{family}_model")]
    summaries.sort(key=lambda s: (s.datetime_start is None, s.datetime_start), reverse=True)
    if not newest_only:
        return summaries
    newest: dict[str, Any] = {}
    for summary in summaries:
        newest.setdefault(summary.user_attrs.get("model_asset", ""), summary)
    return sorted(newest.values(), key=lambda s: s.user_attrs.get("model_asset", ""))


def _cmd_show(args: argparse.Namespace) -> int:
    import optuna

    storage, where = _storage()
    summaries = model_studies(storage, args.model, args.family, newest_only=not args.all_studies)
    if not summaries:
        which = f" family {args.family!r} of" if args.family else ""
        raise LookupError(f"no tuning study for{which} model {args.model!r} in {where}")
    payload = []
    for summary in summaries:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        payload.append(_study_payload(study))
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
        return 0
    for entry in payload:
        print("\n".join(_study_lines(entry)))
    return 0


def _study_payload(study: Any) -> dict[str, Any]:
    from asset_platform.tuning.worker import counted_states

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    best = study.best_trial.number if complete else None
    return {
        "study": study.study_name,
        "model_asset": study.user_attrs.get("model_asset"),
        "metric": study.user_attrs.get("metric"),
        "direction": study.direction.name.lower(),
        "budget": study.user_attrs.get("budget"),
        "finished": sum(t.state in counted_states() for t in trials),
        "best_trial": best,
        "trials": [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params, "best": t.number == best}
            for t in trials
        ],
    }


def _study_lines(entry: dict[str, Any]) -> list[str]:
    lines = [
        f"{entry['model_asset']}: study {entry['study']}",
        f"  {entry['metric']} ({entry['direction']}), {entry['finished']} of {entry['budget']} trials finished, "
        f"best: trial {entry['best_trial']}",
        f"  {'':1}{'trial':>5}  {'state':<8}  {'value':>10}  params",
    ]
    for trial in entry["trials"]:
        value = "" if trial["value"] is None else f"{trial['value']:.5f}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial["params"].items())
        lines.append(
            f"  {'*' if trial['best'] else ' '}{trial['number']:>5}  {trial['state']:<8}  {value:>10}  {params}"
        )
    return lines


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def read_only(app: Any) -> Any:
    """Wrap a WSGI app so every request that could change a study (POST, PUT, PATCH, DELETE) gets 403.

    optuna-dashboard has no read-only switch; its writes (notes, tell, rename, delete) are all such methods.
    """

    def guarded(environ: dict, start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD", "GET").upper() in _WRITE_METHODS:
            body = b"read-only: asset-platform tune dashboard does not change studies"
            start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return guarded


def dashboard_app(storage: Any) -> Any:
    """The read-only optuna-dashboard WSGI application on `storage`."""
    from optuna_dashboard import wsgi

    return read_only(wsgi(storage))


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from wsgiref.simple_server import make_server

    storage, where = _storage()
    summaries = model_studies(storage, args.model)
    if not summaries:
        raise LookupError(f"no tuning study for model {args.model!r} in {where}")
    server = make_server(args.host, args.port, dashboard_app(storage))

    def stop(_signum: int, _frame: Any) -> None:
        # Ctrl-C or SIGTERM: finish the request in flight, then return. Raising here instead would land
        # inside wsgiref's request handling, which swallows the exception and serves on.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    base = f"http://{args.host}:{server.server_port}/dashboard"
    print(f"optuna-dashboard (read-only) on {where}: {base}")
    for summary in summaries:
        study_id = storage.get_study_id_from_name(summary.study_name)
        print(f"  {summary.user_attrs.get('model_asset')}: {base}/studies/{study_id}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
