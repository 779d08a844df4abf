"""Anytime-valid confidence sequences for the mean of bounded paired differences, by betting.

Reference: I. Waudby-Smith and A. Ramdas, "Estimating means of bounded random
variables by betting", JRSS-B 86(1), 2024 (arXiv:2010.09686), section 4: the
hedged capital process with predictable plug-in bets.

Observations are per-row paired loss differences ``d = loss(champion) -
loss(challenger)`` (positive: the challenger is better), known to lie in
``[low, high]`` (Brier score differences lie in [-1, 1]; other losses are
clipped to a documented range first, see `paired_loss_differences`). They are
rescaled to ``x`` in [0, 1]. For every candidate mean ``m`` on a grid, two
gamblers bet on ``x`` being above and below ``m``:

    K+_t(m) = prod_i (1 + l+_i (x_i - m)),   K-_t(m) = prod_i (1 - l-_i (x_i - m))
    K_t(m)  = max(theta K+_t(m), (1 - theta) K-_t(m)),  theta = 1/2

Under the null "the mean is m" both products are nonnegative martingales, so by
Ville's inequality P(exists t: K_t(m) >= 1/alpha) <= alpha: the set of grid
points not yet excluded is a (1 - alpha) confidence sequence, valid at every
look, however often one looks and stops. Each side alone rejects at 2/alpha, so
a one-sided decision (promote / retire) errs with probability at most alpha/2.

Bets are predictable: a batch of rows arrives at once, and every row in it is
bet with the size fixed from the rows of earlier batches (the WSR plug-in
``sqrt(2 log(2/alpha) / (var_hat * t * log(1 + t)))``, evaluated at the end of
the batch, truncated at c/m and c/(1-m), c = 1/2). A size fixed before the
batch keeps every factor a martingale increment, so validity is unchanged.

Bounds are reported conservatively on the grid (the nearest excluded grid
point outside the set) and intersected over time (running max of the lower,
min of the upper bound), which is also valid. Everything is vectorized over a
leading "experiment" axis so that the benchmark runs thousands at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asset_platform.ml.metrics import PAIRED_LOSS_BOUNDS

TRUNCATION = 0.5
THETA = 0.5


@dataclass
class BettingState:
    """The capital processes of many independent sequences (shape: experiments x grid)."""

    grid: np.ndarray  # candidate means of x, in (0, 1)
    log_plus: np.ndarray
    log_minus: np.ndarray
    count: np.ndarray  # rows seen, per experiment
    total: np.ndarray  # sum of x
    total_sq: np.ndarray  # sum of x squared
    lower: np.ndarray  # running lower bound of the mean of x
    upper: np.ndarray

    @classmethod
    def start(cls, experiments: int = 1, grid_points: int = 401, points: tuple[float, ...] = ()) -> BettingState:
        """Sequences on an even grid of ``grid_points`` (ends dropped) plus the given extra points (e.g. a
        decision threshold, so that its test is exact); ``grid_points=0`` keeps only the extra points."""
        even = np.linspace(0.0, 1.0, grid_points)[1:-1] if grid_points else np.empty(0)
        grid = np.unique(np.concatenate([even, np.asarray(points, dtype=np.float64)]))
        if grid.size == 0 or grid.min() <= 0 or grid.max() >= 1:
            raise ValueError("grid points must lie strictly inside (0, 1)")
        zeros = np.zeros((experiments, grid.size))
        return cls(
            grid=grid,
            log_plus=zeros.copy(),
            log_minus=zeros.copy(),
            count=np.zeros(experiments),
            total=np.zeros(experiments),
            total_sq=np.zeros(experiments),
            lower=np.zeros(experiments),
            upper=np.ones(experiments),
        )


def bet_sizes(state: BettingState, batch_rows: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Predictable plug-in bets (experiments x grid) for the next batch, from earlier batches only."""
    count = state.count
    mean = (0.5 + state.total) / (count + 1)
    variance = (0.25 + state.total_sq - 2 * mean * state.total + count * mean**2) / (count + 1)
    t = count + batch_rows  # the end of the batch: the smaller, more cautious bet
    plug_in = np.sqrt(2 * math.log(2 / alpha) / (np.maximum(variance, 1e-6) * t * np.log1p(t)))
    grid = state.grid[None, :]
    plus = np.minimum(plug_in[:, None], TRUNCATION / grid)
    minus = np.minimum(plug_in[:, None], TRUNCATION / (1 - grid))
    return plus, minus


def update(state: BettingState, x: np.ndarray, alpha: float) -> BettingState:
    """Add one batch per experiment (x: experiments x rows, values in [0, 1], NaN = no row); in place."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    if x.ndim == 1:
        x = x[None, :]
    present = ~np.isnan(x)
    rows = present.sum(axis=1)
    plus, minus = bet_sizes(state, int(rows.max()) if rows.size else 0, alpha)
    # sum over rows of log(1 + l (x - m)) for every grid m, without an (experiments x rows x grid) array
    # when the batch is large: loop over rows in chunks.
    centered_rows = np.where(present, x, np.nan)
    chunk = max(1, 2_000_000 // max(1, x.shape[0] * state.grid.size))
    for start in range(0, x.shape[1], chunk):
        block = centered_rows[:, start : start + chunk, None] - state.grid[None, None, :]
        has = ~np.isnan(block)
        block = np.where(has, block, 0.0)
        state.log_plus += np.log1p(plus[:, None, :] * block).sum(axis=1)
        state.log_minus += np.log1p(-minus[:, None, :] * block).sum(axis=1)
    filled = np.where(present, x, 0.0)
    state.count = state.count + rows
    state.total = state.total + filled.sum(axis=1)
    state.total_sq = state.total_sq + (filled**2).sum(axis=1)
    lower, upper = _bounds(state, alpha)
    state.lower = np.maximum(state.lower, lower)
    state.upper = np.minimum(state.upper, upper)
    return state


def rejects(state: BettingState, point: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per experiment: is "mean <= point" rejected (the plus gambler's capital reached 2/alpha), and is
    "mean >= point" rejected (the minus gambler's)? Each errs with probability at most alpha/2 under its null;
    the first is the CS's lower bound rising above ``point``, the second its upper bound falling below it."""
    index = int(np.argmin(np.abs(state.grid - point)))
    if not np.isclose(state.grid[index], point):
        raise ValueError(f"{point} is not a point of this sequence's grid: start it with points=({point},)")
    threshold = math.log(1 / alpha) - math.log(THETA)
    return state.log_plus[:, index] >= threshold, state.log_minus[:, index] >= threshold


def _bounds(state: BettingState, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    threshold = math.log(1 / alpha)
    log_capital = np.maximum(math.log(THETA) + state.log_plus, math.log(1 - THETA) + state.log_minus)
    kept = log_capital < threshold  # experiments x grid
    grid = np.concatenate([[0.0], state.grid, [1.0]])
    any_kept = kept.any(axis=1)
    first = np.argmax(kept, axis=1)  # index in state.grid; the excluded point below is grid[first] here
    last = kept.shape[1] - 1 - np.argmax(kept[:, ::-1], axis=1)
    lower = np.where(any_kept, grid[first], 0.0)
    upper = np.where(any_kept, grid[last + 2], 1.0)
    # every grid point excluded (numerically possible only with huge evidence): collapse to the sample mean's cell
    if not any_kept.all():
        mean = state.total / np.maximum(state.count, 1)
        cell = np.clip(np.searchsorted(grid, mean), 1, grid.size - 1)
        lower = np.where(any_kept, lower, grid[cell - 1])
        upper = np.where(any_kept, upper, grid[cell])
    return lower, upper


@dataclass(frozen=True)
class Decision:
    """What the evidence says about challenger vs champion after some batches."""

    action: str  # "promote", "retire" or "continue"
    reason: str
    lower: float
    upper: float
    batches: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "lower": self.lower,
            "upper": self.upper,
            "batches": self.batches,
            "rows": self.rows,
        }


@dataclass
class PairedSequence:
    """A confidence sequence for the mean paired loss difference of one champion/challenger pair.

    ``low``/``high`` bound a single difference; ``margin`` is how much worse
    (in loss) the challenger may be and still count as no worse.
    """

    alpha: float = 0.05
    margin: float = 0.0
    low: float = -1.0
    high: float = 1.0
    max_batches: int = 30
    grid_points: int = 401
    batches: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    _state: BettingState | None = None

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if not self.high > self.low:
            raise ValueError("high must exceed low")
        self._state = BettingState.start(1, self.grid_points, points=(self._threshold_x,))

    @property
    def _threshold_x(self) -> float:
        return float((-self.margin - self.low) / (self.high - self.low))

    def _to_x(self, d: np.ndarray) -> np.ndarray:
        return (np.clip(d, self.low, self.high) - self.low) / (self.high - self.low)

    def _to_d(self, x: float) -> float:
        return float(self.low + x * (self.high - self.low))

    @property
    def lower(self) -> float:
        return self._to_d(float(self._state.lower[0]))

    @property
    def upper(self) -> float:
        return self._to_d(float(self._state.upper[0]))

    @property
    def rows(self) -> int:
        return int(self._state.count[0])

    def add(self, differences: np.ndarray) -> Decision:
        """Add one batch of per-row differences (NaNs dropped) and return the decision so far."""
        d = np.asarray(differences, dtype=np.float64)
        d = d[~np.isnan(d)]
        if d.size:
            update(self._state, self._to_x(d)[None, :], self.alpha)
        self.batches += 1
        self.history.append(
            {
                "batch": self.batches,
                "rows": self.rows,
                "lower": self.lower,
                "upper": self.upper,
                "mean": float(self._to_d(self._state.total[0] / max(self._state.count[0], 1))),
            }
        )
        return self.decision()

    def decision(self) -> Decision:
        lower, upper, threshold = self.lower, self.upper, -self.margin
        better, worse = (bool(flag[0]) for flag in rejects(self._state, self._threshold_x, self.alpha))
        level = f"{100 * (1 - self.alpha):.0f}% anytime-valid interval"
        span = f"[{lower:+.4f}, {upper:+.4f}] after {self.batches} batches ({self.rows} rows)"
        if better:
            action = "promote"
            reason = (
                f"challenger no worse than the margin: the {level} for champion minus challenger loss is {span}, "
                f"{threshold:+.4f} is excluded from below (its lower bound is at or above it)"
            )
        elif worse:
            action = "retire"
            reason = (
                f"challenger worse than the margin: the {level} is {span}, "
                f"{threshold:+.4f} is excluded from above (its upper bound is at or below it)"
            )
        elif self.batches >= self.max_batches:
            action = "retire"
            reason = f"inconclusive after the maximum of {self.max_batches} batches: the {level} is {span}"
        else:
            action = "continue"
            reason = f"collecting: the {level} is {span}, which contains {threshold:+.4f}"
        return Decision(action, reason, lower, upper, self.batches, self.rows)


def paired_loss_differences(
    labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray, loss: str = "brier", scale: float = 1.0
) -> np.ndarray:
    """Per-row champion loss minus challenger loss, each loss in [0, 1] so that differences lie in [-1, 1]
    (`multiclass_brier`: in [0, 2], differences in [-2, 2]; `PAIRED_LOSS_BOUNDS` holds each loss's range, a
    `PairedSequence`'s `low` and `high`).

    ``brier``: (p - y)^2 of a probability. ``log_loss``: -log p(y), clipped at
    log(1/1e-3) and divided by it. ``squared_error``: (y - yhat)^2 / scale^2,
    clipped at 1 (choose ``scale`` as an error size beyond which rows count alike).
    ``multiclass_brier``: sum over the K classes of (p_k - y_k)^2, y the row's one-hot class; `labels` are
    class codes (0..K-1) and both models' scores rows x K probabilities in the same class order. Left
    unscaled (Brier's original multiclass score, 0 for a sure right answer, 2 for a sure wrong one), so a
    declared margin reads in its units.
    """
    if loss == "multiclass_brier":
        return _multiclass_brier(labels, champion) - _multiclass_brier(labels, challenger)
    y = np.asarray(labels, dtype=np.float64)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    if loss == "brier":
        la, lb = (a - y) ** 2, (b - y) ** 2
    elif loss == "log_loss":
        cap = math.log(1e3)

        def _log_loss(p: np.ndarray) -> np.ndarray:
            p = np.clip(p, 1e-3, 1 - 1e-3)
            return np.minimum(-(y * np.log(p) + (1 - y) * np.log(1 - p)), cap) / cap

        la, lb = _log_loss(a), _log_loss(b)
    elif loss == "squared_error":
        la, lb = np.minimum(((a - y) / scale) ** 2, 1.0), np.minimum(((b - y) / scale) ** 2, 1.0)
    else:
        raise ValueError(f"unknown loss {loss!r}: {', '.join(PAIRED_LOSS_BOUNDS)}")
    return np.clip(la, 0, 1) - np.clip(lb, 0, 1)


def _multiclass_brier(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per row, the sum over classes of (p_k - y_k)^2: one-hot `labels` (class codes) against rows x K scores."""
    p = np.asarray(probabilities, dtype=np.float64)
    codes = np.asarray(labels)
    if p.ndim != 2 or p.shape[0] != codes.shape[0]:
        raise ValueError(
            f"multiclass_brier needs a rows x classes probability matrix per model, one row per label: got "
            f"{p.shape} scores for {codes.shape[0]} labels"
        )
    if not np.issubdtype(codes.dtype, np.integer) or codes.size and (codes.min() < 0 or codes.max() >= p.shape[1]):
        raise ValueError(f"multiclass_brier needs class codes 0..{p.shape[1] - 1} as labels, got {codes[:5]!r}")
    one_hot = np.zeros_like(p)
    one_hot[np.arange(len(codes)), codes] = 1.0
    return np.clip(((np.clip(p, 0.0, 1.0) - one_hot) ** 2).sum(axis=1), 0.0, 2.0)
