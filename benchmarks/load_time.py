"""How long the code location takes to load, against the floor of importing Dagster.

ours:     `dagster definitions validate -w workspace.yaml` (load + validate the
          composition root, as `dagster dev` and the code server do)
limit:    `python -c "import dagster"` (no code location can load faster)
ours_20:  importing a code location with 20 declared models (about 300 assets,
          benchmarks/fleet_location.py); goal: at most 3x the bare import
cli_help: `asset-platform --help` (and `cli_simple`: `asset-platform audit`, a command
          that reads a file and needs no code location); goal: under 2 s each

Each is run as a fresh subprocess several times; the median is reported.
Usage: .venv/bin/python benchmarks/load_time.py [--quick] [--cli-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _median_seconds(command: list[str], repeats: int, env: dict[str, str]) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--cli-only", action="store_true", help="only the command line's start-up")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ASSET_PLATFORM_HOME": home, "DAGSTER_HOME": home}
        cli_help = _median_seconds([str(BIN / "asset-platform"), "--help"], repeats, env)
        (Path(home) / "audit").mkdir()
        (Path(home) / "audit" / "access.jsonl").write_text("")  # an empty audit log: `audit` lists nothing
        cli_simple = _median_seconds([str(BIN / "asset-platform"), "audit"], repeats, env)
        print(f"asset-platform --help:               {cli_help:6.2f} s")
        print(f"asset-platform audit:                {cli_simple:6.2f} s")
        cli = {"cli_help_s": round(cli_help, 3), "cli_simple_s": round(cli_simple, 3)}
        if args.cli_only:
            print(json.dumps({"bench": "load_time", **cli, "repeats": repeats}))
            return
        limit = _median_seconds([str(BIN / "python"), "-c", "import dagster"], repeats, env)
        validate = [str(BIN / "dagster"), "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")]
        ours = _median_seconds(validate, repeats, env)
        imports_only = _median_seconds([str(BIN / "python"), "-c", "import definitions"], repeats, env)
        fleet = _median_seconds([str(BIN / "python"), "-c", "import benchmarks.fleet_location"], repeats, env)
    print(f"import dagster:                      {limit:6.2f} s")
    print(f"import definitions (2 models):        {imports_only:6.2f} s")
    print(f"import a 20-model code location:     {fleet:6.2f} s")
    print(f"dagster definitions validate:        {ours:6.2f} s")
    result = {
        "bench": "load_time",
        "ours_s": round(ours, 3),
        "limit_s": round(limit, 3),
        "vs_limit": round(ours / limit, 2),
        "import_definitions_s": round(imports_only, 3),
        "ours_20_s": round(fleet, 3),
        "ours_20_vs_limit": round(fleet / limit, 2),
        **cli,
        "repeats": repeats,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
