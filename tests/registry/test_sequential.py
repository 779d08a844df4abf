"""The betting confidence sequence (registry/sequential.py) against simulation, with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from asset_platform.registry.sequential import BettingState, PairedSequence, paired_loss_differences, rejects, update


def _brier_pairs(rng: np.random.Generator, shape: tuple[int, ...], champion: float, challenger: float) -> np.ndarray:
    p = rng.beta(2, 5, shape)
    y = (rng.random(shape) < p).astype(float)
    a = np.clip(p + rng.normal(0, champion, shape), 0, 1)
    b = np.clip(p + rng.normal(0, challenger, shape), 0, 1)
    return paired_loss_differences(y, a, b)


def test_coverage_holds_at_every_look_simultaneously():
    """Skewed bounded data with a known mean: the running interval misses it at any of 20 looks rarely."""
    rng = np.random.default_rng(0)
    experiments, looks, rows, alpha = 400, 20, 30, 0.1
    true_mean = 0.3
    state = BettingState.start(experiments, grid_points=201)
    ever_missed = np.zeros(experiments, dtype=bool)
    widths = []
    for _ in range(looks):
        x = rng.beta(0.6, 1.4, (experiments, rows))  # mean 0.3
        update(state, x, alpha)
        ever_missed |= (state.lower > true_mean) | (state.upper < true_mean)
        widths.append(float(np.mean(state.upper - state.lower)))
    assert ever_missed.mean() <= alpha
    assert widths[-1] < widths[0] / 2
    assert widths[-1] < 0.2


def test_aa_false_promotions_stay_under_alpha_over_30_looks():
    rng = np.random.default_rng(1)
    experiments, alpha = 600, 0.05
    d = _brier_pairs(rng, (experiments, 30, 60), 0.15, 0.15)
    state = BettingState.start(experiments, grid_points=0, points=(0.5,))
    promoted = np.zeros(experiments, dtype=bool)
    z_promoted = np.zeros(experiments, dtype=bool)
    for look in range(30):
        update(state, (d[:, look] + 1) / 2, alpha)
        better, _ = rejects(state, 0.5, alpha)
        promoted |= better
        seen = d[:, : look + 1].reshape(experiments, -1)
        z = seen.mean(axis=1) / (seen.std(axis=1) / np.sqrt(seen.shape[1]))
        z_promoted |= z > 1.645
    assert promoted.mean() <= alpha / 2 + 0.01
    assert z_promoted.mean() > 3 * alpha  # the naive repeated test is far off


def test_better_challenger_is_promoted_and_worse_retired():
    rng = np.random.default_rng(2)
    better = PairedSequence(alpha=0.05, max_batches=30)
    decisions = [better.add(batch) for batch in _brier_pairs(rng, (30, 100), 0.15, 0.05)]
    actions = [d.action for d in decisions]
    assert "promote" in actions and "retire" not in actions
    assert actions.index("promote") < 15
    promoted = decisions[actions.index("promote")]
    assert promoted.lower >= -0.01 and "no worse than the margin" in promoted.reason
    assert promoted.lower <= promoted.upper and promoted.rows == 100 * promoted.batches

    worse = PairedSequence(alpha=0.05)
    actions = [worse.add(batch).action for batch in _brier_pairs(rng, (30, 100), 0.05, 0.2)]
    assert actions.index("retire") < 15 and "promote" not in actions
    assert worse.decision().upper < 0.01


def test_margin_lets_an_equal_challenger_through_and_max_batches_ends_the_period():
    rng = np.random.default_rng(3)
    tolerant = PairedSequence(alpha=0.05, margin=0.02)
    actions = [tolerant.add(batch).action for batch in _brier_pairs(rng, (30, 100), 0.1, 0.1)]
    assert "promote" in actions and "retire" not in actions

    strict = PairedSequence(alpha=0.05, max_batches=3)
    decisions = [strict.add(batch) for batch in _brier_pairs(rng, (3, 20), 0.1, 0.1)]
    assert [d.action for d in decisions] == ["continue", "continue", "retire"]
    assert "inconclusive" in decisions[-1].reason and "contains" in decisions[0].reason
    assert [h["batch"] for h in strict.history] == [1, 2, 3]
    assert all(h["lower"] <= h["mean"] <= h["upper"] for h in strict.history)


def test_empty_batches_and_invalid_arguments():
    sequence = PairedSequence()
    decision = sequence.add(np.array([np.nan, np.nan]))
    assert decision.action == "continue" and decision.rows == 0
    assert decision.lower == pytest.approx(-1.0) and decision.upper == pytest.approx(1.0)
    with pytest.raises(ValueError):
        PairedSequence(alpha=1.5)
    with pytest.raises(ValueError):
        rejects(BettingState.start(1, grid_points=11), 0.123, 0.05)


def test_paired_loss_differences_are_bounded_and_oriented():
    y = np.array([1.0, 0.0, 1.0, 0.0])
    champion = np.array([0.2, 0.8, 0.0, 1.0])
    challenger = np.array([0.9, 0.1, 1.0, 0.0])
    for loss in ("brier", "log_loss"):
        d = paired_loss_differences(y, champion, challenger, loss)
        assert np.all(d > 0) and np.all(np.abs(d) <= 1)
    regression = paired_loss_differences(np.zeros(3), np.array([5.0, 0.5, 0.0]), np.zeros(3), "squared_error", 2.0)
    assert regression.tolist() == pytest.approx([1.0, 0.0625, 0.0])
    with pytest.raises(ValueError):
        paired_loss_differences(y, champion, challenger, "hinge")
