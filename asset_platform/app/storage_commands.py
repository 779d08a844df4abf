"""`asset-platform storage ...`: list, verify and prune stored versions, and show where they live.

Every command works on the DVC workspace the code location writes to in the
current environment (the platform home's `dvc/` locally, $ASSET_PLATFORM_DVC_WORKSPACE
in production). Assets are named as in Dagster's UI, with `/` between key parts
(`ecommerce/raw_data`); `--model NAME` narrows to one declared model's assets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asset_platform.storage.catalog import VersionRecord
    from asset_platform.storage.store import AssetStore

Target = tuple[list[str], str | None]


class StorageCommandError(ValueError):
    """A storage problem the user can act on; the CLI prints it without a traceback."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add the storage subcommands to the `asset-platform` parser."""
    parser = commands.add_parser(
        "storage",
        help="list, verify and prune the DVC-stored asset versions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="storage_command", required=True, metavar="SUBCOMMAND")
    for add in (_add_list, _add_verify, _add_prune, _add_path):
        add(subcommands)


def _add_list(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "list",
        help="assets and their retained versions",
        description="Show each stored asset (and partition) with its retained versions, newest first: "
        "data version (md5), size, format, the run that stored it, when, and which one loads by default (*).",
    )
    parser.add_argument("asset", nargs="?", help="only this asset, e.g. ecommerce/raw_data (or raw_data with --model)")
    parser.add_argument("--json", action="store_true", help="one JSON list of versions instead of a table")
    parser.add_argument("--model", metavar="NAME", help="only this declared model's assets")
    parser.set_defaults(handler=_cmd_list)


def _add_verify(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "verify",
        help="hash every retained version in full, repair damaged objects, check the remote holds them all",
        description="Compute the full md5 of every cache object of every retained version. Damaged or "
        "missing objects are fetched again from the DVC remote (and hashed before use). Then check that "
        "the remote holds every object of every retained version, so the next damage can be repaired. "
        "Exits 1 if anything could not be repaired or the remote lacks objects.",
    )
    parser.add_argument("assets", nargs="*", metavar="ASSET", help="only these assets (default: all)")
    parser.add_argument(
        "--push-missing",
        action="store_true",
        help="upload the objects the remote lacks from the local cache (each md5-checked first), "
        "e.g. after an empty remote folder replaced a lost one",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--model", metavar="NAME", help="only this declared model's assets")
    parser.set_defaults(handler=_cmd_verify)


def _add_prune(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "prune",
        help="drop the pointers of old versions of an asset",
        description="Keep the newest N versions of an asset (of every partition, or of one) and drop the "
        "DVC pointers and workspace copies of the older ones. The latest version is always kept. The bytes "
        "stay in the cache until `dvc gc -w` runs in the DVC workspace (or pass --gc); run gc only while "
        "no materialization is writing.",
    )
    parser.add_argument("asset", help="the asset to prune, e.g. ecommerce/training_set (or training_set with --model)")
    parser.add_argument("--keep", type=int, required=True, metavar="N", help="how many newest versions to keep")
    parser.add_argument("--partition", metavar="P", help="only this partition (default: every partition)")
    parser.add_argument("--gc", action="store_true", help="then run `dvc gc -w` to free the cache space")
    parser.add_argument("--json", action="store_true", help="print the dropped versions as JSON")
    parser.add_argument("--model", metavar="NAME", help="only this declared model's assets")
    parser.set_defaults(handler=_cmd_prune)


def _add_path(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "path",
        help="print the DVC workspace, cache and remote",
        description="Print where the stored versions live: the DVC workspace (pointer files, run `dvc` "
        "commands here), its cache, and the DVC remote they are pushed to.",
    )
    parser.add_argument("--json", action="store_true", help="print them as one JSON object")
    parser.set_defaults(handler=_cmd_path)


def _workspace():
    # The workspace the code location writes in this environment (see app/location.py).
    from asset_platform.app.location import CodeLocation

    return CodeLocation.load().workspace


def _open_store() -> AssetStore:
    from asset_platform.storage.store import AssetStore

    workspace = _workspace()
    if not (workspace / ".dvc").is_dir():
        raise FileNotFoundError(
            f"no DVC workspace at {workspace}: materialize an asset first, or set $ASSET_PLATFORM_HOME "
            "to the platform home that has one"
        )
    return AssetStore(workspace)


def _targets(
    store: AssetStore, assets: list[str], partition: str | None = None, model: str | None = None
) -> list[Target]:
    """The stored (asset path, partition) pairs named by `assets` (all when empty), of `model` if given."""
    if model is not None:
        from asset_platform.app.location import CodeLocation

        CodeLocation.load().model(model)  # an unknown name is an error naming the declared ones
    stored = [t for t in store.catalog.stored() if model is None or t[0][0] == model]
    if not assets:
        return stored
    chosen = []
    for asset in assets:
        wanted = {asset, f"{model}/{asset}"} if model else {asset}
        matches = [t for t in stored if "/".join(t[0]) in wanted and (partition is None or t[1] == partition)]
        if not matches:
            where = f" partition {partition!r}" if partition else ""
            raise LookupError(
                f"no stored versions of asset {asset!r}{where}; `asset-platform storage list` shows what is stored"
            )
        chosen += matches
    return chosen


def _record_json(record: VersionRecord, latest: bool) -> dict[str, Any]:
    return {
        "asset": record.asset,
        "partition": record.partition,
        "md5": record.md5,
        "data_version": record.data_version,
        "size": record.size,
        "format": record.format,
        "run_id": record.run_id,
        "created_at": _when(record.created_at),
        "latest": latest,
    }


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="seconds")


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value, unit = float(size) / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def _cmd_list(args: argparse.Namespace) -> int:
    store = _open_store()
    versions = []
    for asset_path, partition in _targets(store, [args.asset] if args.asset else [], model=args.model):
        latest = store.catalog.latest(asset_path, partition)
        for record in store.catalog.retained(asset_path, partition):
            versions.append(_record_json(record, latest is not None and record.md5 == latest.md5))
    if args.json:
        print(json.dumps(versions, indent=2))
        return 0
    if not versions:
        print(f"nothing stored yet in {store.workspace}")
        return 0
    _print_versions(versions)
    return 0


def _print_versions(versions: list[dict[str, Any]]) -> None:
    from tabulate import tabulate

    with_partitions = any(v["partition"] for v in versions)
    rows = []
    for v in versions:
        row = [v["asset"]] + ([v["partition"] or ""] if with_partitions else [])
        row += ["*" if v["latest"] else "", v["data_version"], _human_size(v["size"]), v["format"]]
        rows.append(row + [v["run_id"] or "", v["created_at"]])
    headers = ["asset"] + (["partition"] if with_partitions else []) + ["latest", "version (md5)"]
    print(tabulate(rows, headers=headers + ["size", "format", "run id", "stored at (UTC)"]))


def _cmd_verify(args: argparse.Namespace) -> int:
    store = _open_store()
    targets = _targets(store, args.assets, model=args.model)
    records = [r for path, part in targets for r in store.catalog.retained(path, part)]
    repaired, unrepaired = _verify_cache(store, records)
    missing, pushed = _verify_remote(store, records, push=args.push_missing)
    if args.json:
        report = {"checked": len(records), "repaired": repaired, "unrepaired": unrepaired}
        print(json.dumps({**report, "missing_on_remote": missing, "pushed_to_remote": pushed}, indent=2))
    else:
        for line in repaired + unrepaired + missing + pushed:
            print(line)
        print(
            f"checked {len(records)} versions: {len(repaired)} objects repaired, {len(unrepaired)} not repaired, "
            f"{len(missing)} versions incomplete on the remote, {len(pushed)} pushed to it"
        )
        if missing and not args.push_missing:
            print("restore the remote from a backup, or upload what the local cache has with --push-missing")
    return 1 if unrepaired or missing else 0


def _verify_cache(store: AssetStore, records: list[VersionRecord]) -> tuple[list[str], list[str]]:
    """Hash every object of `records` and refetch damaged ones: (repaired, not repaired) lines."""
    from tqdm import tqdm

    from asset_platform.storage.cache import CacheError

    repaired, unrepaired = [], []
    for record in tqdm(records, desc="verifying", unit="version", file=sys.stderr, disable=not records):
        try:
            damages = store.verify_record(record)
        except CacheError as error:
            unrepaired.append(f"{record.label} version {record.data_version}: {error}")
            continue
        repaired += [str(d) for d in damages if d.repaired]
        unrepaired += [str(d) for d in damages if not d.repaired]
    return repaired, unrepaired


def _verify_remote(store: AssetStore, records: list[VersionRecord], push: bool) -> tuple[list[str], list[str]]:
    """Check the remote holds every object of `records`: (still missing, pushed) lines."""
    from asset_platform.storage.remote import RemoteError
    from asset_platform.storage.store import IntegrityError

    try:
        incomplete = store.missing_on_remote(records)
    except RemoteError as error:
        return [f"cannot check the remote: {error}"], []
    missing, pushed = [], []
    if push and incomplete:
        try:  # re-uploading to a remote that lacks objects is this command's decision: the remote is ours
            store.remote.adopt()
        except (RemoteError, OSError) as error:
            return [f"cannot mark the remote {store.remote.url} as this workspace's: {error}"], []
    for record, oids in incomplete:
        where = f"{record.label} version {record.data_version}"
        if not push:
            missing.append(f"{where}: the remote {store.remote.url} lacks {len(oids)} object(s): {', '.join(oids)}")
            continue
        try:
            store.push_missing(record, oids)
        except (IntegrityError, RemoteError) as error:
            missing.append(str(error) if isinstance(error, IntegrityError) else f"{where}: {error}")
            continue
        pushed.append(f"{where}: pushed {len(oids)} missing object(s) to the remote")
    return missing, pushed


def _cmd_prune(args: argparse.Namespace) -> int:
    store = _open_store()
    dropped = []
    for asset_path, partition in _targets(store, [args.asset], args.partition, model=args.model):
        dropped += store.prune(asset_path, partition, args.keep)
    if args.json:
        print(json.dumps([_record_json(r, latest=False) for r in dropped], indent=2))
    else:
        for record in dropped:
            print(f"dropped {record.label} version {record.data_version} ({_human_size(record.size)})")
        print(f"dropped {len(dropped)} versions of {args.asset}, kept the newest {args.keep} of each")
    if args.gc:
        _collect_garbage(store, quiet=args.json)
    elif dropped and not args.json:
        print(f"to free their space, run `dvc gc -w` in {store.workspace} (or prune again with --gc)")
    return 0


def _collect_garbage(store: AssetStore, quiet: bool) -> None:
    """`dvc gc -w`: remove cache objects that no pointer in the workspace uses."""
    command = [sys.executable, "-m", "dvc", "gc", "--workspace", "--force"]
    done = subprocess.run(command, cwd=store.workspace, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StorageCommandError(f"`dvc gc -w` in {store.workspace} failed: {done.stderr.strip() or done.stdout}")
    if not quiet:
        print(done.stdout.strip())


def _cmd_path(args: argparse.Namespace) -> int:
    from asset_platform.app.location import CodeLocation, resolved

    location = CodeLocation.load()
    workspace = location.workspace
    paths = {"workspace": str(workspace), "cache": str(workspace / ".dvc" / "cache")}
    if (workspace / ".dvc").is_dir():
        paths["remote"] = _open_store().remote.url
    else:
        # Not created yet: the code location's resources create it with this remote.
        paths["remote"] = str(resolved(location.resources["io_manager"].remote_url))
    if args.json:
        print(json.dumps(paths, indent=2))
    else:
        for name, value in paths.items():
            print(f"{name}: {value}")
    return 0
