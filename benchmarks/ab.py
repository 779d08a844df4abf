"""Benchmark: shadow A/B decisions with an anytime-valid confidence sequence vs a repeated z-test.

Simulation (numpy, seeded): each experiment has 30 looks (batches) of 100
labeled rows. True probabilities p ~ Beta(2, 5), labels y ~ Bernoulli(p); the
champion predicts clip(p + N(0, s_A)), the challenger clip(p + N(0, s_B)).
Per-row paired Brier differences (champion minus challenger, in [-1, 1]) feed

* ours - `asset_platform.registry.sequential` (Waudby-Smith & Ramdas betting
  confidence sequence, alpha 0.05, margin 0): promote at the first look at
  which the sequence excludes 0 from below (the plus gambler's capital at a
  difference of 0 reaches 2/alpha: the lower bound rises above 0), retire when
  it excludes 0 from above; this is the decision the shadow sensor takes;
* peer "repeated z-test" - at every look, a one-sided 5 % z-test on all rows so
  far; promote at the first look with z > 1.645 (what "check the dashboard
  daily" does).

A/A experiments (s_A = s_B = 0.15): any promotion is a false promotion. A real
improvement (s_B = 0.05): the median look at which it is promoted (experiments
not promoted in 30 looks count as 31 in the median, so the median is an upper bound).

ours_s is the sequential update of every experiment (A/A and improvement);
limit_s is one vectorized numpy pass over the same numbers (cumulative means
and z statistics at every look), the least any per-look test must do.

Run: .venv/bin/python benchmarks/ab.py [--quick]. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asset_platform.registry.sequential import BettingState, rejects, update  # noqa: E402

LOOKS = 30
ROWS = 100
ALPHA = 0.05


def simulate(experiments: int, champion_noise: float, challenger_noise: float, seed: int) -> np.ndarray:
    """Paired Brier differences, shape experiments x looks x rows."""
    rng = np.random.default_rng(seed)
    shape = (experiments, LOOKS, ROWS)
    p = rng.beta(2, 5, shape)
    y = (rng.random(shape) < p).astype(np.float64)
    a = np.clip(p + rng.normal(0, champion_noise, shape), 0, 1)
    b = np.clip(p + rng.normal(0, challenger_noise, shape), 0, 1)
    return (a - y) ** 2 - (b - y) ** 2


def sequential(d: np.ndarray, grid_points: int) -> tuple[np.ndarray, np.ndarray]:
    """First look (1-based) at which ours promotes / retires; 0 = never.

    The decision is the sequence's test at the threshold (difference 0, x = 1/2), exactly as the
    sensor decides (`PairedSequence.decision`); ``grid_points`` > 0 also tracks the full bounds."""
    experiments = d.shape[0]
    state = BettingState.start(experiments, grid_points, points=(0.5,))
    promoted = np.zeros(experiments, dtype=int)
    retired = np.zeros(experiments, dtype=int)
    for look in range(LOOKS):
        update(state, (d[:, look, :] + 1) / 2, ALPHA)
        better, worse = rejects(state, 0.5, ALPHA)
        undecided = (promoted == 0) & (retired == 0)
        promoted[undecided & better] = look + 1
        retired[undecided & worse] = look + 1
    return promoted, retired


def repeated_z(d: np.ndarray) -> np.ndarray:
    """First look at which a one-sided 5 % z-test on all rows so far promotes; 0 = never (vectorized)."""
    per_look = d.sum(axis=2)
    per_look_sq = (d**2).sum(axis=2)
    n = ROWS * np.arange(1, LOOKS + 1)
    mean = np.cumsum(per_look, axis=1) / n
    variance = np.cumsum(per_look_sq, axis=1) / n - mean**2
    z = mean / np.sqrt(np.maximum(variance, 1e-12) / n)
    hit = z > 1.645
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)


def median_looks(first: np.ndarray) -> float:
    return float(np.median(np.where(first > 0, first, LOOKS + 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 experiments each, the threshold test only (no bounds)"
    )
    parser.add_argument("--experiments", type=int, default=0)
    parser.add_argument("--grid-points", type=int, default=0, help="also track the full bounds on this grid")
    args = parser.parse_args()
    experiments = args.experiments or (1000 if args.quick else 5000)
    grid_points = args.grid_points
    null = simulate(experiments, 0.15, 0.15, seed=1)
    better = simulate(experiments, 0.15, 0.05, seed=2)

    started = time.perf_counter()
    null_promoted, null_retired = sequential(null, grid_points)
    better_promoted, better_retired = sequential(better, grid_points)
    ours_s = time.perf_counter() - started

    started = time.perf_counter()
    peer_null = repeated_z(null)
    peer_better = repeated_z(better)
    limit_s = time.perf_counter() - started

    result = {
        "bench": "ab",
        "experiments": experiments,
        "looks": LOOKS,
        "rows_per_look": ROWS,
        "alpha": ALPHA,
        "false_promotion_rate": round(float((null_promoted > 0).mean()), 4),
        "false_retire_rate_aa": round(float((null_retired > 0).mean()), 4),
        "median_batches_to_decision": median_looks(better_promoted),
        "improvement_promoted_rate": round(float((better_promoted > 0).mean()), 4),
        "improvement_retired_rate": round(float((better_retired > 0).mean()), 4),
        "peer": "repeated z-test",
        "peer_false_promotion_rate": round(float((peer_null > 0).mean()), 4),
        "peer_median_batches_to_decision": median_looks(peer_better),
        "mean_difference_improvement": round(float(better.mean()), 5),
        "ours_s": round(ours_s, 3),
        "limit_s": round(limit_s, 4),
        "vs_limit": round(ours_s / max(limit_s, 1e-9), 1),
        "quick": args.quick,
    }
    print(
        f"A/A: ours promotes {result['false_promotion_rate']:.1%}, "
        f"repeated z-test {result['peer_false_promotion_rate']:.1%}"
    )
    print(
        f"improvement: ours promotes {result['improvement_promoted_rate']:.1%}, "
        f"median look {result['median_batches_to_decision']}, z-test median {result['peer_median_batches_to_decision']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
