"""Card payments with rare fraud: a binary dataset whose positives are about 1 % of the rows.

One row is one card payment; the label `fraud` says whether it was later charged back as fraud. Fraud
follows from how the card was used (entry mode, merchant, a foreign terminal), the amount, the card's
recent payments, the hour and the account's age, through a logistic whose intercept keeps about 1 % of
the payments fraudulent; no feature alone decides it (a good model's average precision is about 0.4,
against the 0.01 a useless ranking scores).

Randomness comes from two streams, as in the other generators: the clean stream, keyed by (seed, day),
draws the payments and the uniform number behind each label; the scenario stream, keyed by (seed, day,
scenario), is used only by a drift. A drifted batch is the clean batch of that day with the drift
applied, and a relabeled row reuses its clean uniform, so intensity 0 gives the clean batch back and a
drift moves only what it claims to. `PAYMENT_SCENARIOS` names the same drifts as the other datasets.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

ID_COLUMN = "payment_id"
TIME_COLUMN = "paid_at"
LABEL_COLUMN = "fraud"
MERCHANTS: Mapping[str, float] = MappingProxyType(
    {
        "grocery": 0.3,
        "restaurants": 0.2,
        "fuel": 0.12,
        "fashion": 0.12,
        "electronics": 0.1,
        "travel": 0.08,
        "gaming": 0.08,
    }
)
ENTRY_MODES: Mapping[str, float] = MappingProxyType({"chip": 0.4, "contactless": 0.3, "online": 0.25, "swipe": 0.05})
TERMINALS: Mapping[str, float] = MappingProxyType({"domestic": 0.9, "foreign": 0.1})
# Median amount per merchant (currency units): a travel booking costs more than a coffee.
_MEDIAN_AMOUNT = {
    "grocery": 35.0,
    "restaurants": 28.0,
    "fuel": 55.0,
    "fashion": 70.0,
    "electronics": 180.0,
    "travel": 320.0,
    "gaming": 25.0,
}
_AGE_NULL_SHARE = 0.04
PAYMENT_DTYPES: Mapping[str, str] = MappingProxyType(
    {
        ID_COLUMN: "object",
        TIME_COLUMN: "datetime64[ns, UTC]",
        "amount": "float64",
        "merchant_category": "object",
        "entry_mode": "object",
        "terminal": "object",
        "hour": "int64",
        "payments_24h": "int64",
        "account_age_days": "float64",
        LABEL_COLUMN: "int64",
    }
)


def payment_columns() -> list[dict[str, Any]]:
    """The data contract as column specs (plain dicts, as a YAML declaration would list them)."""
    return [
        {"name": ID_COLUMN, "dtype": "str"},
        {"name": TIME_COLUMN, "dtype": "datetime"},
        {"name": "amount", "dtype": "float", "min": 0.01, "max": 100_000},
        {"name": "merchant_category", "dtype": "str"},
        {"name": "entry_mode", "dtype": "str", "categories": list(ENTRY_MODES)},
        {"name": "terminal", "dtype": "str"},
        {"name": "hour", "dtype": "int", "min": 0, "max": 23},
        {"name": "payments_24h", "dtype": "int", "min": 0},
        {"name": "account_age_days", "dtype": "float", "min": 0, "nullable": True},
        {"name": LABEL_COLUMN, "dtype": "int"},
    ]


# -- the ground truth ----------------------------------------------------------------------------------

# Intercepts that put about 1 % of the clean payments (and of the concept-drifted ones) in the positive class.
_CLEAN_INTERCEPT = -11.7
_CONCEPT_INTERCEPT = -11.86
# Sharpens the pattern: a good model's average precision is about 0.4 on 1 % positives.
_SHARPNESS = 1.6


def _clean_logit(frame: pd.DataFrame) -> np.ndarray:
    """Card-not-present fraud: online and foreign payments for resellable goods, bursts of use, new accounts."""
    mode, merchant = frame["entry_mode"].to_numpy(dtype=object), frame["merchant_category"].to_numpy(dtype=object)
    amount, velocity = frame["amount"].to_numpy(dtype=float), frame["payments_24h"].to_numpy(dtype=float)
    hour, age = frame["hour"].to_numpy(dtype=float), frame["account_age_days"].to_numpy(dtype=float)
    new_account = np.where(np.isnan(age), 0.0, np.exp(-np.nan_to_num(age) / 60.0))
    return _CLEAN_INTERCEPT + _SHARPNESS * (
        2.0 * (mode == "online")
        + 0.8 * (mode == "swipe")
        + 1.3 * np.isin(merchant, ["electronics", "gaming"])
        + 0.5 * (merchant == "travel")
        + 1.2 * (frame["terminal"].to_numpy(dtype=object) == "foreign")
        + 0.6 * np.log(np.clip(amount, 1.0, None) / 50.0)
        + 0.45 * np.minimum(velocity, 10)
        + 1.0 * ((hour <= 4) | (hour >= 23))
        + 1.5 * new_account
    )


def _concept_logit(frame: pd.DataFrame) -> np.ndarray:
    """Skimmed cards: small contactless and swiped payments at fuel stations and groceries, many in a day;
    online shopping and foreign terminals no longer tell fraud apart."""
    mode, merchant = frame["entry_mode"].to_numpy(dtype=object), frame["merchant_category"].to_numpy(dtype=object)
    amount, velocity = frame["amount"].to_numpy(dtype=float), frame["payments_24h"].to_numpy(dtype=float)
    hour = frame["hour"].to_numpy(dtype=float)
    return _CONCEPT_INTERCEPT + _SHARPNESS * (
        1.8 * np.isin(mode, ["contactless", "swipe"])
        + 1.4 * np.isin(merchant, ["fuel", "grocery"])
        - 0.7 * np.log(np.clip(amount, 1.0, None) / 50.0)
        + 0.5 * np.minimum(velocity, 10)
        + 0.8 * ((hour >= 5) & (hour <= 8))
    )


def _draw(logit: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    return (uniforms < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def _rng(seed: int, day: datetime.date, stream: str) -> np.random.Generator:
    # crc32 rather than hash(): str hashes are salted per process.
    return np.random.default_rng(
        np.random.SeedSequence([seed, day.toordinal(), zlib.crc32(f"payments/{stream}".encode())])
    )


def _choice(rng: np.random.Generator, probs: Mapping[str, float], n: int) -> np.ndarray:
    return rng.choice(np.array(list(probs), dtype=object), size=n, p=np.fromiter(probs.values(), float))


def _sample(rng: np.random.Generator, rows: int, day: datetime.date, seed: int) -> pd.DataFrame:
    merchant = _choice(rng, MERCHANTS, rows)
    mode = _choice(rng, ENTRY_MODES, rows)
    # A card that is used a lot in a day is rarely a stolen one's first use, but a burst is a sign.
    velocity = rng.poisson(rng.gamma(2.0, 1.0, rows)).astype(np.int64)
    seconds = np.sort(rng.uniform(0, 86_399, rows))
    median = np.array([_MEDIAN_AMOUNT[m] for m in merchant])
    amount = np.round(np.clip(rng.lognormal(np.log(median), 0.8), 0.5, 50_000.0), 2)
    age = rng.gamma(1.2, 700.0, rows).round(1)
    return pd.DataFrame(
        {
            ID_COLUMN: np.array([f"P{day:%Y%m%d}-{seed}-{i:06d}" for i in range(rows)], dtype=object),
            TIME_COLUMN: pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "merchant_category": merchant,
            "entry_mode": mode,
            "terminal": _choice(rng, TERMINALS, rows),
            "hour": (seconds // 3600).astype(np.int64),
            "payments_24h": velocity,
            "account_age_days": np.where(rng.random(rows) < _AGE_NULL_SHARE, np.nan, age),
        }
    )


# -- drift scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Context:
    rng: np.random.Generator
    intensity: float
    uniforms: np.ndarray

    def relabel(self, frame: pd.DataFrame, logit: np.ndarray | None = None) -> pd.DataFrame:
        """The label again with each row's clean uniform (common random numbers): only the drift moves it."""
        frame[LABEL_COLUMN] = _draw(_clean_logit(frame) if logit is None else logit, self.uniforms)
        return frame

    def mask(self, n: int, base: float) -> np.ndarray:
        return self.rng.random(n) < min(1.0, base * self.intensity)


def _covariate(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    t = ctx.intensity
    frame["amount"] = np.round(frame["amount"] * 2.0**t, 2)
    # Every card is used more often; fraud logic is unchanged, so labels follow the features.
    frame["payments_24h"] = frame["payments_24h"] + ctx.rng.poisson(1.5 * t, len(frame))
    return ctx.relabel(frame)


_MIX_SHARE = 0.6
_SHIFTED_MODES: Mapping[str, float] = MappingProxyType({"online": 0.6, "contactless": 0.4})
_SHIFTED_MERCHANTS: Mapping[str, float] = MappingProxyType({"restaurants": 0.5, "travel": 0.5})


def _category_mix(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    frame["entry_mode"] = np.where(
        ctx.mask(n, _MIX_SHARE), _choice(ctx.rng, _SHIFTED_MODES, n), frame["entry_mode"].to_numpy(dtype=object)
    )
    moved = ctx.mask(n, _MIX_SHARE)
    merchant = np.where(
        moved, _choice(ctx.rng, _SHIFTED_MERCHANTS, n), frame["merchant_category"].to_numpy(dtype=object)
    )
    # A re-drawn merchant bills its own kind of amount.
    median = np.array([_MEDIAN_AMOUNT[m] for m in merchant])
    redrawn = np.round(np.clip(ctx.rng.lognormal(np.log(median), 0.8), 0.5, 50_000.0), 2)
    frame["merchant_category"] = merchant
    frame["amount"] = np.where(moved, redrawn, frame["amount"])
    return ctx.relabel(frame)


def _concept(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    t = ctx.intensity
    # A mixture at intensity t: each row follows the new fraud pattern with probability t.
    logit = np.where(ctx.rng.random(len(frame)) < t, _concept_logit(frame), _clean_logit(frame))
    return ctx.relabel(frame, logit)


# Odds of fraud times 14: from about 1 % to about 5 % of payments (the riskiest were likely already), so the
# labels' shift is a Cohen's h of about 0.25, past the default alarm's 0.2.
_PRIOR_LOGIT_SHIFT = np.log(14.0)


def _prior(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    return ctx.relabel(frame, _clean_logit(frame) + ctx.intensity * _PRIOR_LOGIT_SHIFT)


def _nulls(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    frame.loc[ctx.mask(n, 0.3), "amount"] = np.nan
    terminal = frame["terminal"].to_numpy(dtype=object).copy()
    terminal[ctx.mask(n, 0.3)] = None
    frame["terminal"] = terminal
    return frame


def _out_of_range(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    negative = ctx.mask(n, 0.05)
    frame.loc[negative, "amount"] = -frame.loc[negative, "amount"]
    frame["hour"] = np.where(ctx.mask(n, 0.05), ctx.rng.integers(30, 41, n), frame["hour"]).astype(np.int64)
    frame["payments_24h"] = np.where(ctx.mask(n, 0.05), -1, frame["payments_24h"]).astype(np.int64)
    return frame


def _missing_column(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    return frame if ctx.intensity == 0 else frame.drop(columns=["entry_mode"])


_SCENARIOS: Mapping[str, tuple[str, Callable[[pd.DataFrame, _Context], pd.DataFrame]]] = MappingProxyType(
    {
        "covariate": (
            "A holiday season: amounts double and every card pays about 1.5 times more a day; fraud logic is "
            "unchanged, so fraud rises only through the shifted features.",
            _covariate,
        ),
        "category_mix": (
            "A travel season: 60% of payments re-drawn to online/contactless and 60% to restaurants/travel.",
            _category_mix,
        ),
        "concept": (
            "Card skimming replaces online fraud: small contactless and swiped payments at fuel stations and "
            "groceries are the fraud now, at about the same rate; features unchanged.",
            _concept,
        ),
        "prior": (
            "A fraud wave: the odds of fraud rise 14-fold (about 5% of payments), the payments look the same.",
            _prior,
        ),
        "nulls": (
            "A processor outage: about 30% of rows lose amount and, independently, about 30% lose terminal.",
            _nulls,
        ),
        "out_of_range": (
            "A broken upstream transformation: about 5% of rows each get a negative amount, an hour between 30 "
            "and 40, or payments_24h of -1.",
            _out_of_range,
        ),
        "missing_column": ("A schema change upstream: the entry_mode column is no longer delivered.", _missing_column),
    }
)
PAYMENT_SCENARIOS: Mapping[str, str] = MappingProxyType({name: found[0] for name, found in _SCENARIOS.items()})


def generate_payments(
    rows: int, day: datetime.date, seed: int = 0, scenario: str | None = None, intensity: float = 1.0
) -> pd.DataFrame:
    """One day of card payments with the `fraud` label, optionally drifted (see `PAYMENT_SCENARIOS`).

    A pure function of its arguments; with a scenario, the clean batch of the same (seed, day) with the
    drift applied at `intensity` (1.0 the documented drift, 0 none).
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0, got {intensity}")
    if scenario is not None and scenario not in _SCENARIOS:
        raise ValueError(f"unknown payments scenario {scenario!r}; use one of {', '.join(_SCENARIOS)}")
    rng = _rng(seed, day, "clean")
    frame = _sample(rng, rows, day, seed)
    uniforms = rng.random(rows)
    frame[LABEL_COLUMN] = _draw(_clean_logit(frame), uniforms)
    frame = frame.astype(dict(PAYMENT_DTYPES))
    if scenario is None:
        return frame
    drifted = _SCENARIOS[scenario][1](frame.copy(), _Context(_rng(seed, day, scenario), float(intensity), uniforms))
    return drifted.astype({column: PAYMENT_DTYPES[column] for column in drifted.columns})
