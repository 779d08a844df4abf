"""Clean synthetic shopping sessions and the ground-truth conversion function.

One row is one shopping session of an e-commerce shop; `converted` says whether
the session ended in an order. Features are drawn from plausible, mutually
dependent distributions (desktop sessions browse more pages, e-mail traffic gets
more discounts, ...) and the label is a Bernoulli draw from a logistic of a
deliberately non-linear score, so tree models have something real to learn.

Randomness comes from two independent streams:

* the *clean* stream, keyed by (seed, day), draws the sessions and the uniform
  numbers behind each label;
* the *scenario* stream, keyed by (seed, day, scenario name), is used only by a
  drift scenario.

Because a drifted batch is "the clean batch of that day, then the drift", a
scenario can always be compared row for row with its clean twin, and intensity 0
reproduces the clean batch exactly.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from asset_platform.synthetic.scenarios import DriftContext, get_scenario

DEVICES: Mapping[str, float] = MappingProxyType({"mobile": 0.55, "desktop": 0.35, "tablet": 0.10})
CHANNELS: Mapping[str, float] = MappingProxyType(
    {"search": 0.30, "social": 0.20, "email": 0.12, "direct": 0.23, "ads": 0.15}
)
COUNTRIES: Mapping[str, float] = MappingProxyType(
    {"US": 0.35, "GB": 0.12, "DE": 0.12, "FR": 0.09, "IN": 0.14, "BR": 0.10, "JP": 0.08}
)
PRODUCT_CATEGORIES: Mapping[str, float] = MappingProxyType(
    {
        "electronics": 0.18,
        "fashion": 0.24,
        "home": 0.18,
        "beauty": 0.14,
        "sports": 0.14,
        "books": 0.12,
    }
)

# Column name -> dtype of every batch, in column order. Downstream assets,
# validation and drift checks key on these names, so they are a contract.
EVENT_DTYPES: Mapping[str, str] = MappingProxyType(
    {
        "event_id": "object",
        "event_time": "datetime64[ns, UTC]",
        "price": "float64",
        "discount_pct": "float64",
        "session_duration_s": "float64",
        "pages_viewed": "int64",
        "past_purchases": "int64",
        "days_since_last_visit": "float64",
        "hour_of_day": "int64",
        "device": "object",
        "channel": "object",
        "country": "object",
        "product_category": "object",
        "converted": "int64",
    }
)
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_DTYPES)
FEATURE_COLUMNS: tuple[str, ...] = EVENT_COLUMNS[2:-1]
LABEL_COLUMN = "converted"

# Whole-hour offsets are close enough for a daily cycle; the shopper's local
# hour matters for buying behaviour, not the server's UTC hour.
_UTC_OFFSET_HOURS = {"US": -5, "GB": 0, "DE": 1, "FR": 1, "IN": 5, "BR": -3, "JP": 9}
# Relative price level of a category (log scale) around the 40 median.
_CATEGORY_PRICE_LEVEL = {
    "electronics": 0.8,
    "fashion": 0.0,
    "home": 0.3,
    "beauty": -0.4,
    "sports": 0.1,
    "books": -0.9,
}
_REFERENCE_PRICE = 40.0
_FIRST_VISIT_SHARE = 0.15
_DURATION_NULL_SHARE = 0.02
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class LabelParams:
    """Coefficients of the ground-truth conversion score (logit scale).

    Drift scenarios derive variants with `dataclasses.replace`; the defaults are
    the "normal business" the clean data describes (base rate about 12%).
    """

    intercept: float = -5.5
    pages_coef: float = 1.1
    max_pages: int = 30
    price_elasticity: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                "electronics": 0.3,
                "fashion": 1.1,
                "home": 0.7,
                "beauty": 1.0,
                "sports": 0.8,
                "books": 1.4,
            }
        )
    )
    discount_coef: float = 0.9
    discount_scale_pct: float = 25.0
    email_discount_multiplier: float = 2.2
    device_effect: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"mobile": 0.0, "desktop": 0.6, "tablet": 0.15})
    )
    channel_effect: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"search": 0.2, "social": -0.4, "email": 0.3, "direct": 0.3, "ads": -0.2}
        )
    )
    first_visit_effect: float = -0.6
    recency_coef: float = 1.0
    recency_scale_days: float = 10.0
    loyalty_coef: float = 0.4
    bounce_threshold_s: float = 20.0
    bounce_effect: float = -1.8
    hour_amplitude: float = 0.4
    peak_hour: float = 20.0


DEFAULT_LABEL_PARAMS = LabelParams()


def conversion_logit(frame: pd.DataFrame, params: LabelParams) -> np.ndarray:
    """Ground-truth conversion score (logit) of each session."""
    pages = np.minimum(frame["pages_viewed"].to_numpy(), params.max_pages)
    # Engagement saturates: the 20th page says little more than the 10th.
    score = params.intercept + params.pages_coef * np.log1p(pages)
    elasticity = frame["product_category"].map(params.price_elasticity).to_numpy()
    score -= elasticity * np.log(frame["price"].to_numpy() / _REFERENCE_PRICE)
    # Discounts pay off with diminishing returns, most of all for newsletter
    # readers who opened the mail because of the offer.
    is_email = frame["channel"].to_numpy() == "email"
    boost = np.where(is_email, params.email_discount_multiplier, 1.0)
    discount = np.tanh(frame["discount_pct"].to_numpy() / params.discount_scale_pct)
    score += params.discount_coef * discount * boost
    score += frame["device"].map(params.device_effect).to_numpy(dtype=float)
    score += frame["channel"].map(params.channel_effect).to_numpy(dtype=float)
    score += _returning_visitor_effect(frame, params)
    # Very short sessions are bounces; an untracked duration carries no signal.
    duration = frame["session_duration_s"].to_numpy()
    score += np.where(duration < params.bounce_threshold_s, params.bounce_effect, 0.0)
    phase = 2 * np.pi * (frame["hour_of_day"].to_numpy() - params.peak_hour) / 24
    return score + params.hour_amplitude * np.cos(phase)


def _returning_visitor_effect(frame: pd.DataFrame, params: LabelParams) -> np.ndarray:
    days = frame["days_since_last_visit"].to_numpy()
    loyalty = params.loyalty_coef * np.log1p(frame["past_purchases"].to_numpy())
    # Recent returners come back to finish a purchase; the effect fades in days.
    recency = params.recency_coef * np.exp(-np.nan_to_num(days) / params.recency_scale_days)
    return np.where(np.isnan(days), params.first_visit_effect, recency + loyalty)


def conversion_probability(frame: pd.DataFrame, params: LabelParams = DEFAULT_LABEL_PARAMS) -> np.ndarray:
    """True probability that each session converts (the Bayes-optimal score)."""
    return 1.0 / (1.0 + np.exp(-conversion_logit(frame, params)))


def _rng(seed: int, day: datetime.date, stream: str) -> np.random.Generator:
    # crc32 rather than hash(): str hashes are salted per process.
    key = [seed, day.toordinal(), zlib.crc32(stream.encode("utf-8"))]
    return np.random.default_rng(np.random.SeedSequence(key))


def _choice(rng: np.random.Generator, probs: Mapping[str, float], n: int) -> np.ndarray:
    values = np.array(list(probs), dtype=object)
    return rng.choice(values, size=n, p=np.fromiter(probs.values(), float))


def _event_times(rng: np.random.Generator, day: datetime.date, n: int) -> pd.Series:
    start = pd.Timestamp(day, tz="UTC").value
    offsets = np.sort(rng.integers(0, _DAY_NS, size=n))
    return pd.Series(pd.to_datetime(start + offsets, unit="ns", utc=True))


def _engagement(rng: np.random.Generator, device: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Desktop users browse deeper; a gamma-Poisson mix gives the long tail of
    # heavy browsers that real click-streams have.
    depth = np.select([device == "desktop", device == "tablet"], [1.6, 1.2], 1.0)
    pages = 1 + rng.poisson(rng.gamma(shape=1.5, scale=2.5 * depth))
    seconds_per_page = rng.lognormal(mean=np.log(30.0), sigma=0.7, size=len(device))
    duration = pages * seconds_per_page
    duration[rng.random(len(device)) < _DURATION_NULL_SHARE] = np.nan
    return pages.astype(np.int64), duration


def _history(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    first_visit = rng.random(n) < _FIRST_VISIT_SHARE
    days = np.where(first_visit, np.nan, rng.exponential(scale=14.0, size=n))
    purchases = rng.negative_binomial(n=1.0, p=0.4, size=n)
    return np.where(first_visit, 0, purchases).astype(np.int64), days


def _discounts(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    # Newsletters are mostly promotions, so e-mail sessions see discounts more often.
    has_discount = rng.random(len(channel)) < np.where(channel == "email", 0.7, 0.3)
    amount = np.clip(np.round(80 * rng.beta(2.0, 5.0, size=len(channel))), 5, 80)
    return np.where(has_discount, amount, 0.0)


def sample_sessions(rng: np.random.Generator, n_rows: int, day: datetime.date) -> pd.DataFrame:
    """Draw the feature columns of `n_rows` clean sessions of `day` (no label)."""
    device = _choice(rng, DEVICES, n_rows)
    channel = _choice(rng, CHANNELS, n_rows)
    country = _choice(rng, COUNTRIES, n_rows)
    category = _choice(rng, PRODUCT_CATEGORIES, n_rows)
    event_time = _event_times(rng, day, n_rows)
    level = np.array([_CATEGORY_PRICE_LEVEL[c] for c in category])
    price = rng.lognormal(mean=np.log(_REFERENCE_PRICE) + level, sigma=0.5)
    pages, duration = _engagement(rng, device)
    purchases, days_since = _history(rng, n_rows)
    offsets = np.array([_UTC_OFFSET_HOURS[c] for c in country], dtype=np.int64)
    local_hour = (event_time.dt.hour.to_numpy(dtype=np.int64) + offsets) % 24
    columns = {
        "event_id": [f"{day:%Y%m%d}-{i:07d}" for i in range(n_rows)],
        "event_time": event_time,
        "price": price,
        "discount_pct": _discounts(rng, channel),
        "session_duration_s": duration,
        "pages_viewed": pages,
        "past_purchases": purchases,
        "days_since_last_visit": days_since,
        "hour_of_day": local_hour,
        "device": device,
        "channel": channel,
        "country": country,
        "product_category": category,
    }
    return pd.DataFrame(columns)


def generate_events(
    n_rows: int,
    day: datetime.date,
    seed: int,
    scenario: str | None = None,
    intensity: float = 1.0,
) -> pd.DataFrame:
    """One day's batch of shopping sessions, optionally with a drift scenario.

    The result is a pure function of the arguments: the same call always returns
    an identical frame, and batches of different days differ. With a scenario,
    the batch is the clean batch of the same (seed, day) with the drift applied;
    `intensity` scales the drift (1.0 is the documented default, 0 changes
    nothing). See `SCENARIOS` for what each scenario does.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0, got {intensity}")
    drift = get_scenario(scenario) if scenario is not None else None
    rng = _rng(seed, day, "clean")
    frame = sample_sessions(rng, n_rows, day)
    uniforms = rng.random(n_rows)
    frame[LABEL_COLUMN] = _bernoulli(frame, DEFAULT_LABEL_PARAMS, uniforms)
    if drift is None:
        return frame
    context = DriftContext(
        rng=_rng(seed, day, drift.name),
        intensity=float(intensity),
        label_params=DEFAULT_LABEL_PARAMS,
        label_uniforms=uniforms,
        probability=conversion_probability,
    )
    return drift.apply(frame.copy(), context)


def _bernoulli(frame: pd.DataFrame, params: LabelParams, uniforms: np.ndarray) -> np.ndarray:
    # Fixed uniforms per row (common random numbers): a drifted label differs
    # from the clean one only where the drift moved the probability across it.
    return (uniforms < conversion_probability(frame, params)).astype(np.int64)
