"""Scripted fault run: the cases of issues 11 and 30, each on its own copy of a trained demo home.

    python -m benchmarks.faults [--quick] [--workdir DIR]

A small ecommerce home (history landed, baseline champion trained; the same
one the tests in tests/hardening/ use) is prepared once; every case copies it,
does what the fault campaign did (a FIFO in landing, a lost remote, a killed
run worker, a forged catalog entry...), runs the sensors and jobs the way the
daemon would, and checks the outcome the issue asks for: a clear error naming
the thing, nothing lost, nothing wrong served, the loop going on.

"bytes lost" counts the content of landed files and DVC remote objects present
after a case's inputs landed and gone at its end (by md5, so a file moved to
quarantine is not lost). The table goes to stdout; the last line is JSON with
`tried`, `survived` and `bytes_lost`. `--quick` runs a CI-sized subset: no
retraining, at most two runs per case.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from asset_platform.home import PlatformHome
from benchmarks import REPO_ROOT
from tests.hardening import helpers as h


class Unexpected(AssertionError):
    """The platform did not do what the case expects."""


class Skipped(Exception):  # noqa: N818 - a case outcome, not an error
    """The case cannot run on this machine (it is then not counted as tried)."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise Unexpected(message)


@dataclass
class Case:
    name: str
    expected: str
    run: Callable[[PlatformHome, Path], str]
    quick: bool = True


@dataclass
class Result:
    case: str
    expected: str
    survived: bool
    outcome: str
    bytes_lost: int
    seconds: float
    skipped: bool = False


# -- what a case may lose ---------------------------------------------------------------------------


def census(home: PlatformHome) -> dict[str, int]:
    """md5 -> size of every regular file under landing/ and the DVC remote (links and pipes not read)."""
    found: dict[str, int] = {}
    for root in (home.landing, home.dvc_remote):
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_symlink() or not path.is_file() or path.name.endswith(".reason.txt"):
                continue
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            found[digest] = path.stat().st_size
    return found


def lost(before: dict[str, int], home: PlatformHome) -> int:
    after = census(home)
    return sum(size for digest, size in before.items() if digest not in after)


# -- the cases --------------------------------------------------------------------------------------


def _name(index: int) -> str:
    return f"events_{h.day_of(index):%Y-%m-%d}.parquet"


def _runs(state, sensor: str) -> list[bool]:
    return [result.success for result in h.run_tick(state, sensor)]


def case_fifo(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        fifo = state.landing.production / "events_2026-01-01.parquet"
        os.mkfifo(fifo)
        good, _ = h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "the good batch was not scored")
        expect("not a regular file" in h.quarantined(state).get(fifo.name, ""), "the FIFO was not quarantined")
    return "FIFO quarantined with a note; good batch scored"


def case_dev_zero(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        link = state.landing.production / "events_2026-01-02.parquet"
        link.symlink_to("/dev/zero")
        good, _ = h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "the good batch was not scored")
        expect("symbolic link" in h.quarantined(state).get(link.name, ""), "the link was not quarantined")
    return "link quarantined unread; good batch scored"


def case_spark_folder(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        folder = state.landing.production / "events_X.parquet"
        folder.mkdir()
        (folder / "part-00000.parquet").write_bytes(b"PAR1")
        h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "the good batch was not scored")
        expect(h.skip_reason(state, state.names.batch_sensor).startswith("no new"), "the next tick is not clean")
    return "folder quarantined; good batch scored; next tick clean"


def case_unsafe_names(home: PlatformHome, work: Path) -> str:
    names = [
        "events 1.parquet",
        "événements.parquet",
        "a..b.parquet",
        "x\ny.parquet",
        "x\n.parquet",
        "e" * 210 + ".parquet",
    ]
    with h.loop_on(home) as state:
        for index, name in enumerate(names):
            h.write_batch_file(state.landing.production / name, index % 3)
        work.joinpath("census").write_text(json.dumps(census(home)))
        reason = h.skip_reason(state, state.names.batch_sensor)
        expect(reason.count("cannot be a batch key") == len(names), f"not every unsafe name quarantined: {reason}")
        expect(h.partitions(state) == [], "a partition was registered")
    return f"{len(names)} names quarantined with a note; no partition registered"


def case_link_outside(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        outside = h.write_batch_file(home.root / "elsewhere.parquet", 4)
        (state.landing.production / "events_2026-01-11.parquet").symlink_to(outside)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect("outside the landing folder" in h.skip_reason(state, state.names.batch_sensor), "link taken")
        expect(h.partitions(state) == [], "the link was registered")
    return "link quarantined, not scored"


def case_plus_inf(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        frame = h.batch_frame(0).drop(columns=["converted"])
        frame.loc[0, "days_since_last_visit"] = np.inf
        frame.to_parquet(state.landing.production / _name(0), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [False], "a batch with +inf passed")
        expect("days_since_last_visit" in h.quarantined(state).get(_name(0), ""), "not quarantined naming the column")
        expect(not h.scored(state, _name(0)[:-8]), "+inf reached the model")
    return "contract fails naming the column; quarantined; not scored"


def case_being_written(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home, settle_seconds=120) as state:
        path = h.write_batch_file(state.landing.production / _name(0), 0)
        complete = path.read_bytes()
        path.write_bytes(complete[: len(complete) // 2])
        expect("settling" in h.skip_reason(state, state.names.batch_sensor), "a half-written file was taken")
        expect(h.quarantined(state) == {}, "a file being written was quarantined")
        path.write_bytes(complete)
        settled = time.time() - 121
        os.utime(path, (settled, settled))
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect("changed since" in h.skip_reason(state, state.names.batch_sensor), "a file that just changed was taken")
        expect(_runs(state, state.names.batch_sensor) == [True], "the completed file was not scored")
    return "skipped while settling (named); scored once complete"


def case_labeled_batch(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        frame = h.batch_frame(0)
        frame.to_parquet(state.landing.production / _name(0), index=False)
        expect(_runs(state, state.names.batch_sensor) == [True], "a batch carrying the label was not scored")
        frame[["event_id", "converted"]].to_parquet(state.landing.labels / _name(0), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.labels_sensor) == [True], "its performance was not computed")
        result = _retrain(state)
        expect(result.success, "retraining failed")
    return "label dropped with a warning; joined once; retraining succeeds"


def _retrain(state):
    return state.defs.resolve_job_def(state.names.retraining_job).execute_in_process(
        instance=state.instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )


def case_future_rows(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        one = h.batch_frame(1)
        one.loc[0, "event_time"] = pd.Timestamp("2099-01-01", tz="UTC")
        one.drop(columns=["converted"]).to_parquet(state.landing.production / _name(1), index=False)
        ahead = h.batch_frame(2)
        ahead["event_time"] = ahead["event_time"] + pd.Timedelta(days=365)
        ahead.drop(columns=["converted"]).to_parquet(state.landing.production / _name(2), index=False)
        for frame, index in ((one, 1), (ahead, 2)):
            frame[["event_id", "converted"]].to_parquet(state.landing.labels / _name(index), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [False, False], "a future-dated batch was scored")
        notes = h.quarantined(state)
        expect(all("event_time" in notes.get(_name(i), "") for i in (1, 2)), "not quarantined naming event_time")
        expect(_retrain(state).success, "retraining failed")
    return "both quarantined naming event_time; retraining succeeds"


def case_dated_years_back(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        h.write_batch_file(state.landing.production / _name(0), 0)  # the demo's fixed date, whatever today is
        old = h.batch_frame(1).drop(columns=["converted"])
        old["event_time"] = old["event_time"] - pd.Timedelta(days=3650)
        old.to_parquet(state.landing.production / _name(1), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(sorted(_runs(state, state.names.batch_sensor)) == [False, True], "not one scored and one refused")
        note = h.quarantined(state).get(_name(1), "")
        expect("event_time" in note and "champion learned from" in note, f"note names no column or anchor: {note}")
        expect(not h.scored(state, _name(1)[:-8]), "a batch from ten years back was scored")
        expect(h.scored(state, _name(0)[:-8]), "the fixed-date batch was not scored")
    return "old batch quarantined naming event_time; day 0 scored"


def case_unsafe_name_with_labels(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        frame = h.batch_frame(3)
        frame.drop(columns=["converted"]).to_parquet(state.landing.production / "events 3.parquet", index=False)
        frame[["event_id", "converted"]].to_parquet(state.landing.labels / "events 3.parquet", index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_retrain(state).success, "retraining failed")
        expect(len(h.quarantined(state)) == 2, "batch and labels not quarantined")
    return "batch and labels quarantined; retraining succeeds"


def case_labels_first(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        path, labels = h.land(state, 0)
        h.land_labels(state, 0, labels)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect("waiting" in h.skip_reason(state, state.names.labels_sensor), "labels taken before scoring")
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored")
        expect(_runs(state, state.names.labels_sensor) == [True], "realized metric not computed after scoring")
    return "labels wait (named); realized AUC computed after scoring"


def case_model_corruption(home: PlatformHome, work: Path) -> str:
    from asset_platform.ml.scoring import score_rows
    from asset_platform.registry.models import lineup_for
    from asset_platform.storage import AssetStore
    from tests.storage.helpers import swap_digit

    with h.loop_on(home) as state:
        pointer = lineup_for(state.defs.resources["registry"], state.names).champion()
        intact = lineup_for(state.defs.resources["registry"], state.names).load_champion(pointer)
        store = AssetStore(home.dvc_workspace)
        record = store.record(pointer.model_asset.split("/"), version=pointer.version)
        swap_digit(store.cache.path(record.files["model.txt"][0]), after=b"leaf_value=")
        path, _ = h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored")
        batch = store.get(state.names.path("batches"), path.stem)
        served = store.get(state.names.path("predictions"), path.stem)["prediction"].to_numpy()
        wrong = int((served != score_rows(intact, batch)).sum())
        expect(wrong == 0, f"{wrong} wrong predictions served")
    return "refetched from the remote; 0 wrong predictions"


def case_pointer_edit(home: PlatformHome, work: Path) -> str:
    from asset_platform.registry.models import lineup_for
    from asset_platform.storage import AssetStore
    from tests.storage.helpers import swap_digit

    with h.loop_on(home) as state:
        before = lineup_for(state.defs.resources["registry"], state.names).champion()
        store = AssetStore(home.dvc_workspace)
        record = store.record(state.names.path("champion"))
        swap_digit(store.cache.path(record.md5), after=b'"version": "')
        work.joinpath("census").write_text(json.dumps(census(home)))
        after = lineup_for(state.defs.resources["registry"], state.names).champion()
        expect(after == before, f"another version served: {after.version if after else None}")
    return "pointer refetched; the champion is unchanged"


def case_remote_deleted(home: PlatformHome, work: Path) -> str:
    from asset_platform.app.cli import main

    with h.loop_on(home) as state:
        path, _ = h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        os.replace(home.dvc_remote, work / "remote-backup")
        [failed] = h.run_tick(state, state.names.batch_sensor)
        expect(not failed.success, "scored without a remote")
        expect(not home.dvc_remote.exists(), "the remote was recreated empty")
        expect(str(home.dvc_remote) in h.run_text(state, failed.run_id), "the run's error does not name the remote")
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
            verify = main(["storage", "verify", "--model", "ecommerce"])
        expect(verify != 0, "storage verify passed without a remote")
        shutil.move(work / "remote-backup", home.dvc_remote)
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored again once the remote was back")
    return "run fails naming the remote; verify exits 1; scored after restore"


def case_objects_gone(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        path, _ = h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        moves = h.hide(h.champion_objects(state, home), work / "lost")
        expect(_runs(state, state.names.batch_sensor) == [False], "scored without the model")
        expect(path.exists(), "the batch left production/")
        h.restore(moves)
        expect(_runs(state, state.names.batch_sensor) == [True], "not asked for again after the restore")
    return "fails clearly; asked again (attempt 2) and scored after restore"


def case_orphaned_runs(home: PlatformHome, work: Path) -> str:
    import dagster as dg

    from asset_platform.app.serve import recover_runs
    from tests.conftest import subprocess_env

    env = subprocess_env(DAGSTER_HOME=str(home.dagster_home), ASSET_PLATFORM_HOME=str(home.root))
    command = [sys.executable, "-m", "tests.hardening.sleeper"]
    workers = [subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    try:
        run_ids = [worker.stdout.readline().strip().removeprefix("started ") for worker in workers]
        expect(all(run_ids), "the workers did not start")
        with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                instance.get_run_by_id(r) and instance.get_run_by_id(r).status == dg.DagsterRunStatus.STARTED
                for r in run_ids
            ):
                time.sleep(0.5)
            work.joinpath("census").write_text(json.dumps(census(home)))
            for worker in workers:  # the crash: daemon and workers killed together
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=60)
            with redirect_stdout(StringIO()):
                orphaned = recover_runs(home.dagster_home)
            statuses = {instance.get_run_by_id(r).status for r in run_ids}
        expect(len(orphaned) == 2 and statuses == {dg.DagsterRunStatus.FAILURE}, f"runs left {statuses}")
    finally:
        for worker in workers:
            with suppress(ProcessLookupError):
                worker.kill()
            worker.wait(timeout=60)
    return "2 STARTED runs of killed workers marked FAILURE; queue slots free"


def case_two_demos(home: PlatformHome, work: Path) -> str:
    from asset_platform.app.cli import main
    from tests.conftest import subprocess_env

    env = subprocess_env(DAGSTER_HOME=str(home.dagster_home), ASSET_PLATFORM_HOME=str(home.root))
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.sleeper", "lock", str(home.root), "demo"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        expect(holder.stdout.readline().strip() == "locked", "the first demo did not take the lock")
        work.joinpath("census").write_text(json.dumps(census(home)))
        err = StringIO()
        with redirect_stdout(StringIO()), redirect_stderr(err):
            code = main(["demo", "--home", str(home.root), "--days", "2", "--drift-day", "1"])
        expect(code == 2 and f"pid {holder.pid}" in err.getvalue(), f"second demo: exit {code}: {err.getvalue()}")
    finally:
        holder.kill()
        holder.wait(timeout=60)
    return "second demo exits 2 naming the home and the holder's pid"


def case_webhook_token(home: PlatformHome, work: Path) -> str:
    import logging
    import socket

    import dagster as dg

    from asset_platform.notify import WEBHOOK_AUTH_ENV, WEBHOOK_URL_ENV, DriftConfirmed, notifier_from_env

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "tok-faults-7f3e"
    saved = {name: os.environ.get(name) for name in (WEBHOOK_URL_ENV, WEBHOOK_AUTH_ENV)}
    os.environ[WEBHOOK_URL_ENV] = f"http://127.0.0.1:{port}/hooks/pathSecret\n"
    os.environ[WEBHOOK_AUTH_ENV] = f"Bearer {token}\n"
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        notifier = notifier_from_env(max_attempts=2, initial_backoff_s=0.01, timeout_s=2.0)

        @dg.asset
        def drift_alert(context) -> None:
            event = DriftConfirmed(
                asset="ecommerce/drift", batch_keys=("b",), drifted_features=("price",), drift_share=0.5, max_psi=0.3
            )
            notifier.notify(event, log=context.log)

        with dg.instance_for_test() as instance:
            result = dg.materialize([drift_alert], instance=instance)
            text = "\n".join(e.user_message for e in instance.all_logs(result.run_id)) + stream.getvalue()
    finally:
        logging.getLogger().removeHandler(handler)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    work.joinpath("census").write_text(json.dumps(census(home)))
    expect(result.success, "a failed delivery failed the run")
    expect(token not in text and "pathSecret" not in text, "the token or URL path reached the log")
    return "newline stripped; failure logged by origin only"


def case_forged_pickle(home: PlatformHome, work: Path) -> str:
    from asset_platform.app.cli import main

    marker = work / "code-ran"
    with h.loop_on(home) as state:
        h.forge_pickle_version(home, state.names.path("champion"), marker)
        work.joinpath("census").write_text(json.dumps(census(home)))
        err = StringIO()
        with redirect_stdout(StringIO()), redirect_stderr(err):
            try:
                code, refusal = main(["models", "list", "--model", "ecommerce"]), err.getvalue()
            except Exception as error:  # a refusal the CLI does not turn into exit 2 still counts if it is clear
                code, refusal = None, str(error)
    expect(not marker.exists(), "the forged pickle ran code")
    expect(code != 0 and "format 'pickle'" in refusal, f"not refused by format (exit {code}): {refusal[:200]}")
    return "refused naming asset, version and format; no code ran"


def case_read_only_home(home: PlatformHome, work: Path) -> str:
    from asset_platform.app.cli import main

    mounted = work / "read-only"
    mounted.mkdir()
    if subprocess.run(["mount", "--bind", str(home.root), str(mounted)], capture_output=True).returncode:
        raise Skipped("cannot bind-mount here to make a read-only home")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], check=True, capture_output=True)
        work.joinpath("census").write_text(json.dumps(census(home)))
        err = StringIO()
        with redirect_stdout(StringIO()), redirect_stderr(err):
            code = main(["demo", "--home", str(mounted), "--days", "2", "--drift-day", "1"])
        expect(code == 2 and "not writable" in err.getvalue(), f"exit {code}: {err.getvalue()[-300:]}")
    finally:
        subprocess.run(["umount", str(mounted)], capture_output=True)
    return "exit 2: the home is not writable (no traceback)"


def case_extra_columns(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        h.write_batch_file(state.landing.production / _name(0), 0, referrer="newsletter")
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "a batch with an extra column was not scored")
    return "extra column ignored; scored"


def case_reexecute_cli_run(home: PlatformHome, work: Path) -> str:
    """The UI's "Re-execute all" on a run the CLI launched (the same GraphQL call the button makes)."""
    import re

    from asset_platform.app.cli import main
    from tests.hardening.test_location_launch import REEXECUTE
    from tests.ui.webserver import start_webserver, stop_webserver

    work.joinpath("census").write_text(json.dumps(census(home)))
    with h.env(home):
        listed = StringIO()
        with redirect_stdout(listed), redirect_stderr(StringIO()):
            main(["models", "list", "--model", "ecommerce", "--json"])
        [version] = [row["version"] for row in json.loads(listed.getvalue()) if row["champion"]]
        out = StringIO()
        with redirect_stdout(out), redirect_stderr(StringIO()):
            code = main(["models", "promote", version[:12], "--model", "ecommerce"])
    match = re.search(r"\(run ([0-9a-f-]{36})\)", out.getvalue())
    expect(code == 0 and match, f"promote: exit {code}: {out.getvalue()[-200:]}")
    server = start_webserver(home.root, work / "webserver.log")
    try:
        params = {"parentRunId": match.group(1), "strategy": "ALL_STEPS"}
        answer = server.graphql(REEXECUTE, {"params": params})["launchPipelineReexecution"]
    finally:
        stop_webserver(server)
    expect(answer["__typename"] == "LaunchRunSuccess", f"re-execution refused: {str(answer)[:200]}")
    return "CLI run re-executed from the UI (queued)"


# -- issue 30: the second campaign -----------------------------------------------------------------


def _metadata(state, asset: str, partition: str) -> dict:
    import dagster as dg

    records = state.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=state.names.key(asset), asset_partitions=[partition]), limit=1
    ).records
    expect(records, f"no {asset} stored for {partition}")
    return {key: value.value for key, value in records[0].asset_materialization.metadata.items()}


def case_empty_batch(home: PlatformHome, work: Path) -> str:
    from asset_platform.drift.emptiness import NOTHING_TO_MEASURE

    with h.loop_on(home) as state:
        frame = h.batch_frame(0).drop(columns=["converted"]).iloc[:0]
        frame.to_parquet(state.landing.production / _name(0), index=False)
        frame[["event_id"]].assign(converted=1).to_parquet(state.landing.labels / _name(0), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "a 0-row batch failed scoring or drift")
        drift = _metadata(state, "drift", _name(0)[:-8])
        expect(NOTHING_TO_MEASURE in drift["reasons"] and not drift["assessment"]["judged"], "drift judged it")
        expect(_runs(state, state.names.labels_sensor) == [True], "its performance failed")
        expect(_metadata(state, "performance", _name(0)[:-8])["performance"] == NOTHING_TO_MEASURE, "measured")
    return "every step records 'no rows: nothing to measure'"


def case_all_null_features(home: PlatformHome, work: Path) -> str:
    from asset_platform.declaration import ModelDeclaration

    model = h.declaration()
    numeric, categorical = model.feature_columns()
    fields = model.model_dump(exclude_unset=True)
    fields["columns"] = [
        {**c, "nullable": True} if c["name"] in {*numeric, *categorical} else c for c in model.model_dump()["columns"]
    ]
    with h.loop_on(home, model=ModelDeclaration(**fields)) as state:
        frame = h.batch_frame(0).drop(columns=["converted"])
        frame[[*numeric, *categorical]] = None
        frame.to_parquet(state.landing.production / _name(0), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.batch_sensor) == [True], "an all-null batch failed")
        drift = _metadata(state, "drift", _name(0)[:-8])
        expect("nothing to measure" in drift["reasons"] and "estimated_auc" not in drift, "judged on nothing")
    return "recorded as nothing to measure; no estimate"


def case_written_in_place(home: PlatformHome, work: Path) -> str:
    from asset_platform.declaration.model import LandingSpec

    with h.loop_on(home, settle_seconds=LandingSpec().settle_seconds) as state:
        path = h.write_batch_file(state.landing.production / _name(0), 0)
        complete = path.read_bytes()
        path.write_bytes(complete[: len(complete) // 2])
        expect("settling" in h.skip_reason(state, state.names.batch_sensor), "a half-written file was taken")
        path.write_bytes(complete)
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect("settling" in h.skip_reason(state, state.names.batch_sensor), "a file that just grew was taken")
        expect(_runs(state, state.names.batch_sensor) == [True], "the completed file was not scored")
        expect(h.quarantined(state) == {}, "a file written in place was quarantined")
    return "default settings: settling, then scored; never quarantined"


def case_workspace_copy(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        lost = h.champion_objects(state, home, workspace=False)
        h.hide(lost, work / "lost")
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored with the workspace copy at hand")
        expect(all(path.exists() for path in lost), "cache and remote objects not restored")
    return f"{len(lost)} objects restored from the workspace; scored"


def case_rollback_lost_champion(home: PlatformHome, work: Path) -> str:
    from asset_platform.registry.models import lineup_for

    def set_champion(state, action: str, version: str | None = None):
        config = {"action": action, "version": version, "reason": "fault run"}
        return state.defs.resolve_job_def(state.names.set_champion_job).execute_in_process(
            instance=state.instance,
            raise_on_error=False,
            run_config={"ops": {state.names.op("champion"): {"config": config}}},
        )

    with h.loop_on(home) as state:
        lineup = lineup_for(state.defs.resources["registry"], state.names)
        baseline = lineup.champion().version
        path, labels = h.land(state, 0)
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored")
        h.land_labels(state, 0, labels)
        expect(_retrain(state).success, "retraining failed")
        [newer] = [v.version for v in lineup.versions() if v.version != baseline]
        expect(set_champion(state, "promote", newer).success, "promotion failed")
        h.hide(h.champion_objects(state, home) + h.stored_objects(home, state.names.path("champion")), work / "lost")
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(set_champion(state, "rollback").success, "rollback refused")
        expect(lineup.champion().version == baseline, "not rolled back to the earlier champion")
    return "rolled back to the earlier intact champion"


def case_unmounted_remote(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        h.land(state, 0)
        work.joinpath("census").write_text(json.dumps(census(home)))
        os.replace(home.dvc_remote, work / "the-share")
        home.dvc_remote.mkdir()  # the mount point of a share that is not mounted
        [failed] = h.run_tick(state, state.names.batch_sensor)
        expect(not failed.success, "pushed onto an empty mount point")
        text = h.run_text(state, failed.run_id)
        expect(str(home.dvc_remote) in text and "unmounted share" in text, "the error does not name the remote")
        expect(not any(home.dvc_remote.iterdir()), "something landed on the mount point")
        home.dvc_remote.rmdir()
        os.replace(work / "the-share", home.dvc_remote)
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored once mounted")
    return "run fails naming the remote; nothing pushed; scored once mounted"


def case_batch_over_step_memory(home: PlatformHome, work: Path) -> str:
    from asset_platform.app.demo import LoopState
    from asset_platform.landing import LandingZone
    from asset_platform.lifecycle import lifecycle_names
    from asset_platform.resources.local import local_resources
    from definitions import build_definitions

    model = h.declaration()
    with h.env(home), h.open_instance(home) as instance:
        resources = {**local_resources(home), "landing": LandingZone(root=str(home.landing), step_memory_mb=1)}
        landing = resources["landing"].for_model(model).ensure()
        state = LoopState(instance, build_definitions([model], resources), lifecycle_names(model), landing)
        frame = pd.concat([h.batch_frame(i) for i in range(4)], ignore_index=True).drop(columns=["converted"])
        frame.to_parquet(landing.production / _name(0), index=False)
        work.joinpath("census").write_text(json.dumps(census(home)))
        [failed] = h.run_tick(state, state.names.batch_sensor)
        text = h.run_text(state, failed.run_id)
        expect(not failed.success and "step_memory_mb" in text and "GiB" in text, "no clear size error")
        expect((landing.production / _name(0)).exists(), "the file left production/")
    return "fails at once naming the size and step_memory_mb"


def case_repeated_label_ids(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        path, labels = h.land(state, 0)
        expect(_runs(state, state.names.batch_sensor) == [True], "not scored")
        h.land_labels(state, 0, pd.concat([labels, labels.head(50)], ignore_index=True))
        work.joinpath("census").write_text(json.dumps(census(home)))
        expect(_runs(state, state.names.labels_sensor) == [True], "performance failed")
        performance = _metadata(state, "performance", path.stem)
        expect(performance["labeled_rows"] == h.ROWS and performance["duplicate_label_ids"] == 50, "joined twice")
        expect(len(state.landing.labeled_batch(path.stem)) == h.ROWS, "retraining reads other labels")
    return "last label per id for both, with a warning"


def case_orphan_labels(home: PlatformHome, work: Path) -> str:
    with h.loop_on(home) as state:
        orphan = state.landing.labels / "events_2031-01-01.parquet"
        h.batch_frame(0)[["event_id", "converted"]].to_parquet(orphan, index=False)
        long_ago = time.time() - 25 * 3600
        os.utime(orphan, (long_ago, long_ago))
        work.joinpath("census").write_text(json.dumps(census(home)))
        h.skip_reason(state, state.names.labels_sensor)
        expect("no batch events_2031-01-01" in h.quarantined(state).get(orphan.name, ""), "not quarantined")
    return "named and quarantined after 24 h"


def case_daemon_restarted_plainly(home: PlatformHome, work: Path) -> str:
    import dagster as dg

    from asset_platform.resources.local import local_resources
    from asset_platform.sensors.run_recovery import SENSOR_NAME
    from definitions import build_definitions
    from tests.conftest import subprocess_env

    sensor = build_definitions([h.declaration()], local_resources(home)).resolve_sensor_def(SENSOR_NAME)
    env = subprocess_env(DAGSTER_HOME=str(home.dagster_home), ASSET_PLATFORM_HOME=str(home.root))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.sleeper"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        run_id = worker.stdout.readline().strip().removeprefix("started ")
        with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                instance.get_run_by_id(run_id) and instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
            ):
                time.sleep(0.5)
            work.joinpath("census").write_text(json.dumps(census(home)))
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=60)
            sensor(dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME))  # a daemon tick
            status = instance.get_run_by_id(run_id).status
        expect(status == dg.DagsterRunStatus.FAILURE, f"run left {status}")
    finally:
        with suppress(ProcessLookupError):
            worker.kill()
        worker.wait(timeout=60)
    return "the daemon's recovery sensor marks it FAILURE"


# A code location as a team would write it: a Python declaration (the trained ecommerce one, fast
# families) and the YAML declarations of a folder beside it, the broken ones shown, not raised.
TWO_DECLARATIONS_PROJECT = """\
from pathlib import Path

from asset_platform.home import PlatformHome
from asset_platform.project import broken_declarations, check_unique, platform_definitions, yaml_declarations
from asset_platform.resources.local import local_resources
from tests.hardening.helpers import declaration

FOLDER = Path(__file__).parent / "assets"
defs = platform_definitions(
    check_unique([declaration(), *yaml_declarations(FOLDER)]),
    local_resources(PlatformHome.from_env()),
    broken=broken_declarations(FOLDER),
)
"""


def case_one_bad_declaration(home: PlatformHome, work: Path) -> str:
    import logging
    import runpy
    import uuid

    import dagster as dg

    from asset_platform.app.cli import main
    from asset_platform.app.demo import LoopState
    from asset_platform.lifecycle import lifecycle_names

    # A copy of the repository's YAML declaration with one typo, beside the good Python one.
    project = work / "project"
    bad = (REPO_ROOT / "assets" / "deliveries" / "defs.yaml").read_text()
    expect("{name: distance_km, dtype: float" in bad, "the deliveries declaration changed: adapt the typo")
    bad = bad.replace("{name: distance_km, dtype: float", "{name: distance_km, dtype: double")
    (project / "assets" / "deliveries").mkdir(parents=True)
    (project / "assets" / "deliveries" / "defs.yaml").write_text(bad)
    where = f"{project / 'assets' / 'deliveries' / 'defs.yaml'}:"
    where += str(next(n for n, line in enumerate(bad.splitlines(), 1) if "dtype: double" in line))
    module = f"faults_project_{uuid.uuid4().hex[:8]}"  # Python caches modules by name
    (project / f"{module}.py").write_text(TWO_DECLARATIONS_PROJECT)

    logged = StringIO()
    handler = logging.StreamHandler(logged)
    declarations_log = logging.getLogger("asset_platform.declarations")
    declarations_log.addHandler(handler)
    try:
        with h.env(home), h.open_instance(home) as instance:
            defs = runpy.run_path(str(project / f"{module}.py"))["defs"]  # the code location loads
            model = h.declaration()
            landing = defs.resources["landing"].for_model(model).ensure()
            state = LoopState(instance, defs, lifecycle_names(model), landing)
            path, _ = h.land(state, 0)
            work.joinpath("census").write_text(json.dumps(census(home)))
            expect(_runs(state, state.names.batch_sensor) == [True], "the good model did not score")
            expect(h.scored(state, path.stem), "no predictions stored for the good model")
            markers = {s.key: s for s in defs.resolve_all_asset_specs() if s.group_name == "broken_declarations"}
            marker = markers.get(dg.AssetKey(["broken_declarations", "deliveries"]))
            expect(marker is not None and len(markers) == 1, f"not shown as one asset: {list(markers)}")
            expect(f"{marker.metadata['file']}:{marker.metadata['line']}" == where, "the asset names another line")
            expect("'double'" in marker.description, "the asset does not say what is wrong")
            out, err = StringIO(), StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = main(["-m", module, "-d", str(project), "models", "list"])
    finally:
        declarations_log.removeHandler(handler)
    expect(where in logged.getvalue(), f"not logged at {where}")
    expect(code == 2 and "Traceback" not in err.getvalue(), f"models list: exit {code}: {err.getvalue()[-300:]}")
    expect(f"declaration not loaded: {where}" in err.getvalue(), f"file:line not named: {err.getvalue()[-300:]}")
    expect("ecommerce" in out.getvalue(), "the good model is not listed")
    return "other model scored, listed; bad one shown, logged, exit 2"


CASES = [
    Case("fifo in landing", "quarantined; good batch scored", case_fifo),
    Case("symlink to /dev/zero", "quarantined unread; good batch scored", case_dev_zero),
    Case("spark-style folder", "quarantined; no error per tick", case_spark_folder),
    Case("unsafe file names", "quarantined; no partition", case_unsafe_names),
    Case("symlink out of landing", "quarantined, not scored", case_link_outside),
    Case("+inf, unbounded column", "contract fails; quarantined", case_plus_inf),
    Case("file being written", "waits; scored when stable", case_being_written),
    Case("batch with the label", "label dropped; retrain ok", case_labeled_batch, quick=False),
    Case("rows dated ahead", "quarantined; retrain ok", case_future_rows, quick=False),
    Case("batch dated years back", "quarantined; fixed-date batch scored", case_dated_years_back),
    Case("unsafe name + labels", "quarantined; retrain ok", case_unsafe_name_with_labels, quick=False),
    Case("labels before scoring", "wait; metric after scoring", case_labels_first),
    Case("same-size model damage", "refetched; 0 wrong", case_model_corruption),
    Case("champion pointer edit", "refetched; same champion", case_pointer_edit),
    Case("DVC remote deleted", "error; retried after restore", case_remote_deleted),
    Case("cache+remote object gone", "error; retried after restore", case_objects_gone, quick=False),
    Case("run workers killed", "marked FAILURE", case_orphaned_runs),
    Case("two demos, one home", "second exits 2", case_two_demos),
    Case("webhook token newline", "never logged", case_webhook_token),
    Case("forged pickle pointer", "no code runs", case_forged_pickle),
    Case("demo on read-only home", "clear error", case_read_only_home, quick=False),
    Case("extra columns", "ignored; scored", case_extra_columns, quick=False),
    Case("re-execute a CLI run", "UI re-executes it", case_reexecute_cli_run, quick=False),
    Case("0-row batch", "nothing to measure; no error", case_empty_batch),
    Case("all-null features", "nothing to measure; no estimate", case_all_null_features),
    Case("written in place, defaults", "settling; scored; kept", case_written_in_place),
    Case("object lost, workspace copy", "restored from the workspace", case_workspace_copy),
    Case("champion lost, rollback", "rolls back to the earlier one", case_rollback_lost_champion, quick=False),
    Case("unmounted remote (empty)", "fails naming it; nothing pushed", case_unmounted_remote),
    Case("batch over step memory", "fails fast naming the setting", case_batch_over_step_memory),
    Case("repeated label ids", "one label per id everywhere", case_repeated_label_ids),
    Case("labels of no batch", "quarantined after grace", case_orphan_labels),
    Case("daemon restarted plainly", "its sensor fails dead runs", case_daemon_restarted_plainly),
    Case("one bad declaration of two", "the other scores; bad one exit 2", case_one_bad_declaration),
]


def run_case(case: Case, trained: PlatformHome, workdir: Path) -> Result:
    work = workdir / case.name.replace(" ", "-").replace("/", "-").replace("+", "plus")
    work.mkdir(parents=True)
    home = h.copy_home(trained, work / "home")
    started = time.monotonic()
    skipped = False
    try:
        outcome, survived = case.run(home, work), True
    except Skipped as reason:
        outcome, survived, skipped = f"skipped: {reason}", True, True
    except Unexpected as error:
        outcome, survived = f"FAILED: {error}", False
    except Exception as error:  # a crash is an outcome too
        outcome, survived = f"FAILED: {type(error).__name__}: {str(error)[:200]}", False
    before = json.loads(work.joinpath("census").read_text()) if work.joinpath("census").exists() else {}
    return Result(case.name, case.expected, survived, outcome, lost(before, home), time.monotonic() - started, skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a CI-sized subset (no retraining)")
    parser.add_argument("--workdir", type=Path, help="where the homes go (default: a temporary folder, removed)")
    parser.add_argument("--case", action="append", help="only cases whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if (c.quick or not args.quick) and (not args.case or any(s in c.name for s in args.case))]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"preparing a trained home under {workdir} ...", file=sys.stderr, flush=True)
        with redirect_stdout(sys.stderr):
            trained = h.train_home(workdir / "trained")
        results = []
        header = f"{'case':26} {'expected':38} {'outcome':62} {'bytes lost':>10}"
        print(header + "\n" + "-" * len(header), flush=True)
        for case in cases:
            with redirect_stdout(sys.stderr):
                result = run_case(case, trained, workdir)
            results.append(result)
            mark = "" if result.survived else "  <-- "
            print(
                f"{result.case:26} {result.expected:38} {result.outcome:62} {result.bytes_lost:>10}{mark}", flush=True
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    tried = [r for r in results if not r.skipped]
    summary = {
        "tried": len(tried),
        "survived": sum(r.survived for r in tried),
        "bytes_lost": sum(r.bytes_lost for r in tried),
        "failed": [r.case for r in tried if not r.survived],
        "skipped": [r.case for r in results if r.skipped],
        "quick": args.quick,
        "seconds": round(sum(r.seconds for r in results), 1),
    }
    print(json.dumps(summary))
    return 0 if summary["survived"] == summary["tried"] and summary["bytes_lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
