"""How long the code location takes to load, against the floor of importing Dagster.

ours:     `dagster definitions validate -w workspace.yaml` (load + validate the
          composition root, as `dagster dev` and the code server do)
limit:    `python -c "import dagster"` (no code location can load faster)
ours_20:  importing a code location with 20 declared models (about 300 assets,
          benchmarks/fleet_location.py); goal: at most 3x the bare import

Each is run as a fresh subprocess several times; the median is reported.
Usage: .venv/bin/python benchmarks/load_time.py [--quick]
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
    repeats = 2 if parser.parse_args().quick else 5
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ASSET_PLATFORM_HOME": home, "DAGSTER_HOME": home}
        limit = _median_seconds([str(BIN / "python"), "-c", "import dagster"], repeats, env)
        validate = [str(BIN / "dagster"), "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")]
        ours = _median_seconds(validate, repeats, env)
        imports_only = _median_seconds(
            [str(BIN / "python"), "-c", "import asset_platform.app.definitions"], repeats, env
        )
        fleet = _median_seconds([str(BIN / "python"), "-c", "import benchmarks.fleet_location"], repeats, env)
    print(f"import dagster:                      {limit:6.2f} s")
    print(f"import asset_platform.app.definitions (2 models):   {imports_only:6.2f} s")
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
        "repeats": repeats,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
