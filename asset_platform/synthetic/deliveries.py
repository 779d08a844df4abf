"""Synthetic food and parcel deliveries with a non-linear delivery-time label: a regression example.

One row is one delivery; `delivery_minutes` is how long it took from order to
door. The minutes come from a deliberately non-linear ground truth: distance
over a speed that depends on courier, weather and zone together, a rush-hour
slowdown that only hits motor traffic in town, a wait at the kitchen that only
counts once the food takes longer than the courier needs to get there, and a
bag-juggling penalty for bikes with big orders. Some of what decides the
minutes is hidden (the true kitchen time, a missing distance, noise), so even a
good model explains only part of the variance.

Randomness comes from two independent streams, as in the e-commerce generator:

* the *clean* stream, keyed by (seed, day), draws the deliveries, the hidden
  truth behind them and the per-row noise of the label;
* the *scenario* stream, keyed by (seed, day, scenario name), is used only by a
  drift scenario.

A drifted batch is "the clean batch of that day, then the drift", and the label
of a drifted row reuses the clean row's hidden truth and noise, so intensity 0
reproduces the clean batch exactly and a drift moves only what it claims to.
"""

from __future__ import annotations

import dataclasses
import datetime
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

# Column name -> dtype of every batch, in column order (label last). A contract
# for validation, features and drift checks.
DELIVERY_DTYPES: Mapping[str, str] = MappingProxyType(
    {
        "delivery_id": "object",
        "ordered_at": "datetime64[ns, UTC]",
        "distance_km": "float64",
        "items": "int64",
        "basket_value": "float64",
        "prep_minutes_estimate": "float64",
        "courier_type": "object",
        "weather": "object",
        "zone": "object",
        "order_hour": "int64",
        "delivery_minutes": "float64",
    }
)
ID_COLUMN = "delivery_id"
TIME_COLUMN = "ordered_at"
LABEL_COLUMN = "delivery_minutes"
NUMERIC_FEATURES: tuple[str, ...] = ("distance_km", "items", "basket_value", "prep_minutes_estimate", "order_hour")
CATEGORICAL_FEATURES: tuple[str, ...] = ("courier_type", "weather", "zone")

COURIER_TYPES: tuple[str, ...] = ("bike", "scooter", "car")
WEATHERS: Mapping[str, float] = MappingProxyType({"clear": 0.6, "rain": 0.25, "wind": 0.1, "snow": 0.05})
ZONES: Mapping[str, float] = MappingProxyType({"center": 0.3, "inner": 0.3, "outer": 0.25, "suburb": 0.15})

# Median distance (km) from kitchen to door per zone: the city thins out.
_ZONE_MEDIAN_KM = {"center": 1.5, "inner": 2.7, "outer": 5.0, "suburb": 8.0}
_DISTANCE_SIGMA = 0.5
_MIN_KM, _MAX_KM = 0.4, 25.0
# Dispatch sends bikes into the center and cars to the suburbs.
_COURIER_MIX_BY_ZONE = {
    "center": (0.55, 0.35, 0.10),
    "inner": (0.40, 0.40, 0.20),
    "outer": (0.20, 0.40, 0.40),
    "suburb": (0.10, 0.30, 0.60),
}
_DISTANCE_NULL_SHARE = 0.03
_PREP_NULL_SHARE = 0.05
# Order times: a lunch peak, a bigger dinner peak and a trickle all day (UTC hours).
_LUNCH_SHARE, _DINNER_SHARE = 0.35, 0.45
_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True)
class DeliveryLabelParams:
    """Coefficients of the ground-truth delivery time (minutes).

    Drift scenarios derive variants with `dataclasses.replace`; the defaults are
    the normal city the clean data describes (mean about 37 minutes).
    """

    base_speed_kmh: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"bike": 15.0, "scooter": 24.0, "car": 32.0})
    )
    # Speed multiplier per (courier, zone): cars crawl and park badly in the center.
    zone_speed: Mapping[tuple[str, str], float] = field(
        default_factory=lambda: MappingProxyType(
            {
                ("bike", "center"): 1.0,
                ("bike", "inner"): 1.0,
                ("bike", "outer"): 0.95,
                ("bike", "suburb"): 0.85,
                ("scooter", "center"): 0.8,
                ("scooter", "inner"): 0.9,
                ("scooter", "outer"): 1.0,
                ("scooter", "suburb"): 1.05,
                ("car", "center"): 0.45,
                ("car", "inner"): 0.7,
                ("car", "outer"): 1.0,
                ("car", "suburb"): 1.2,
            }
        )
    )
    # Speed multiplier per (courier, weather): bikes suffer most, snow most of all.
    weather_speed: Mapping[tuple[str, str], float] = field(
        default_factory=lambda: MappingProxyType(
            {
                ("bike", "clear"): 1.0,
                ("bike", "rain"): 0.75,
                ("bike", "wind"): 0.8,
                ("bike", "snow"): 0.45,
                ("scooter", "clear"): 1.0,
                ("scooter", "rain"): 0.8,
                ("scooter", "wind"): 0.9,
                ("scooter", "snow"): 0.55,
                ("car", "clear"): 1.0,
                ("car", "rain"): 0.9,
                ("car", "wind"): 1.0,
                ("car", "snow"): 0.7,
            }
        )
    )
    rush_hours: frozenset[int] = frozenset({11, 12, 13, 18, 19, 20})
    # Motor traffic in town slows down at rush hour; bikes filter through.
    rush_speed_factor: float = 0.6
    rush_zones: frozenset[str] = frozenset({"center", "inner"})
    rush_kitchen_factor: float = 1.25
    # The courier needs this long to reach the kitchen; only longer prep makes it wait.
    courier_arrival_minutes: float = 8.0
    pickup_minutes: float = 3.0
    handover_minutes: float = 2.0
    minutes_per_item: float = 0.4
    rain_penalty_minutes: float = 3.0
    bike_bag_items: int = 5
    bike_bag_penalty_minutes: float = 8.0
    # Multiplicative (log-normal) and additive noise of the label.
    noise_sigma: float = 0.12
    noise_sd_minutes: float = 2.5
    min_minutes: float = 5.0


DEFAULT_DELIVERY_LABEL_PARAMS = DeliveryLabelParams()


@dataclass(frozen=True, eq=False)
class _Truth:
    """What decides the label but is not (fully) in the batch: a row per delivery."""

    distance_km: np.ndarray
    prep_minutes: np.ndarray
    log_noise: np.ndarray
    add_noise: np.ndarray


_P = DEFAULT_DELIVERY_LABEL_PARAMS


def _label(frame: pd.DataFrame, truth: _Truth, params: DeliveryLabelParams) -> np.ndarray:
    """Ground-truth minutes from order to door of each delivery (clipped below at `min_minutes`)."""
    courier = frame["courier_type"].to_numpy(dtype=object)
    weather = frame["weather"].to_numpy(dtype=object)
    zone = frame["zone"].to_numpy(dtype=object)
    hour = frame["order_hour"].to_numpy(dtype=np.int64)
    items = frame["items"].to_numpy(dtype=np.int64)
    speed = np.array([params.base_speed_kmh[c] for c in courier])
    speed *= np.array([params.zone_speed[(c, z)] for c, z in zip(courier, zone, strict=True)])
    speed *= np.array([params.weather_speed[(c, w)] for c, w in zip(courier, weather, strict=True)])
    rush = np.isin(hour, list(params.rush_hours))
    slowed = rush & (courier != "bike") & np.isin(zone, list(params.rush_zones))
    speed = np.where(slowed, speed * params.rush_speed_factor, speed)
    travel = 60.0 * truth.distance_km / speed
    kitchen = truth.prep_minutes * np.where(rush, params.rush_kitchen_factor, 1.0)
    wait = np.maximum(kitchen - params.courier_arrival_minutes, 0.0)
    handling = params.pickup_minutes + params.handover_minutes + params.minutes_per_item * items
    bag = np.where((courier == "bike") & (items >= params.bike_bag_items), params.bike_bag_penalty_minutes, 0.0)
    rain = np.where(weather == "rain", params.rain_penalty_minutes, 0.0)
    minutes = (params.courier_arrival_minutes + wait + travel + handling + bag + rain) * np.exp(
        params.noise_sigma * truth.log_noise
    )
    return np.maximum(minutes + params.noise_sd_minutes * truth.add_noise, params.min_minutes)


def _rng(seed: int, day: datetime.date, stream: str) -> np.random.Generator:
    # crc32 rather than hash(): str hashes are salted per process.
    key = [seed, day.toordinal(), zlib.crc32(f"deliveries/{stream}".encode())]
    return np.random.default_rng(np.random.SeedSequence(key))


def _choice(rng: np.random.Generator, probs: Mapping[str, float], n: int) -> np.ndarray:
    values = np.array(list(probs), dtype=object)
    return rng.choice(values, size=n, p=np.fromiter(probs.values(), float))


def _order_times(rng: np.random.Generator, day: datetime.date, n: int) -> pd.Series:
    meal = rng.random(n)
    hours = np.where(
        meal < _LUNCH_SHARE,
        rng.normal(12.5, 1.0, size=n),
        np.where(meal < _LUNCH_SHARE + _DINNER_SHARE, rng.normal(19.0, 1.5, size=n), rng.uniform(0, 24, size=n)),
    )
    offsets = np.sort((hours * _HOUR_NS).astype(np.int64) % _DAY_NS)
    start = pd.Timestamp(day, tz="UTC").value
    return pd.Series(pd.to_datetime(start + offsets, unit="ns", utc=True))


def _couriers(rng: np.random.Generator, zone: np.ndarray) -> np.ndarray:
    mix = np.array([_COURIER_MIX_BY_ZONE[z] for z in zone])
    picks = (rng.random(len(zone))[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    return np.array(COURIER_TYPES, dtype=object)[np.minimum(picks, len(COURIER_TYPES) - 1)]


def _sample(rng: np.random.Generator, n_rows: int, day: datetime.date, seed: int) -> tuple[pd.DataFrame, _Truth]:
    zone = _choice(rng, ZONES, n_rows)
    courier = _couriers(rng, zone)
    weather = _choice(rng, WEATHERS, n_rows)
    ordered_at = _order_times(rng, day, n_rows)
    median_km = np.array([_ZONE_MEDIAN_KM[z] for z in zone])
    distance = np.clip(rng.lognormal(np.log(median_km), _DISTANCE_SIGMA), _MIN_KM, _MAX_KM)
    # Gamma-Poisson: most orders are a meal or two, a few are office lunches.
    items = (1 + rng.poisson(rng.gamma(shape=1.5, scale=1.2, size=n_rows))).astype(np.int64)
    basket = np.round(items * rng.lognormal(np.log(11.0), 0.35, size=n_rows) + rng.uniform(2.0, 6.0, n_rows), 2)
    # The kitchen's estimate is honest on average but a true prep time varies around it.
    estimate = 4.0 + 2.0 * items**0.7 + rng.gamma(shape=2.0, scale=2.5, size=n_rows)
    prep = estimate * rng.lognormal(0.0, 0.25, size=n_rows)
    truth = _Truth(
        distance_km=distance,
        prep_minutes=prep,
        log_noise=rng.standard_normal(n_rows),
        add_noise=rng.standard_normal(n_rows),
    )
    observed_distance = np.where(rng.random(n_rows) < _DISTANCE_NULL_SHARE, np.nan, distance)
    observed_estimate = np.where(rng.random(n_rows) < _PREP_NULL_SHARE, np.nan, np.round(estimate, 1))
    columns = {
        "delivery_id": np.array([f"d-{day:%Y%m%d}-{seed}-{i:06d}" for i in range(n_rows)], dtype=object),
        "ordered_at": ordered_at,
        "distance_km": observed_distance,
        "items": items,
        "basket_value": basket,
        "prep_minutes_estimate": observed_estimate,
        "courier_type": courier,
        "weather": weather,
        "zone": zone,
        "order_hour": ordered_at.dt.hour.to_numpy(dtype=np.int64),
    }
    return pd.DataFrame(columns), truth


# --- drift scenarios ----------------------------------------------------------

ScenarioKind = Literal["covariate", "concept", "prior", "quality"]


@dataclass(frozen=True, eq=False)
class _Context:
    """The scenario's own random stream, its intensity and the clean rows' hidden truth."""

    rng: np.random.Generator
    intensity: float
    truth: _Truth

    def relabel(self, frame: pd.DataFrame, params: DeliveryLabelParams = _P, truth: _Truth | None = None) -> None:
        """Recompute the label with the clean rows' hidden truth and noise (common random numbers)."""
        frame[LABEL_COLUMN] = _label(frame, self.truth if truth is None else truth, params)

    def mask(self, n: int, base: float) -> np.ndarray:
        """Pick each row with probability `base * intensity` (capped at 1)."""
        return self.rng.random(n) < min(1.0, base * self.intensity)


@dataclass(frozen=True)
class _Scenario:
    kind: ScenarioKind
    description: str
    apply: Callable[[pd.DataFrame, _Context], pd.DataFrame]


def _lerp(clean: float, drifted: float, intensity: float) -> float:
    return clean + intensity * (drifted - clean)


_COVARIATE_DISTANCE_FACTOR = 1.8
_COVARIATE_ITEMS_FACTOR = 1.8


def _covariate(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    t = ctx.intensity
    factor = _COVARIATE_DISTANCE_FACTOR**t
    frame["distance_km"] = frame["distance_km"] * factor
    old_items = frame["items"].to_numpy(dtype=np.int64)
    # Bigger orders, but every order still holds at least one item.
    new_items = 1 + np.round((old_items - 1) * _COVARIATE_ITEMS_FACTOR**t + 0.6 * t).astype(np.int64)
    frame["items"] = new_items
    frame["basket_value"] = np.round(frame["basket_value"] * new_items / old_items, 2)
    # How deliveries take their time is unchanged: the label follows the features.
    ctx.relabel(frame, truth=dataclasses.replace(ctx.truth, distance_km=ctx.truth.distance_km * factor))
    return frame


_MIX_SHIFT_SHARE = 0.6
_SHIFTED_WEATHER: Mapping[str, float] = MappingProxyType({"rain": 0.65, "snow": 0.35})


def _category_mix(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    weather = frame["weather"].to_numpy(dtype=object)
    frame["weather"] = np.where(ctx.mask(n, _MIX_SHIFT_SHARE), _choice(ctx.rng, _SHIFTED_WEATHER, n), weather)
    courier = frame["courier_type"].to_numpy(dtype=object)
    frame["courier_type"] = np.where(ctx.mask(n, _MIX_SHIFT_SHARE), "bike", courier).astype(object)
    ctx.relabel(frame)
    return frame


def _concept(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    t = ctx.intensity
    zone_speed = dict(_P.zone_speed)
    for key, factor in ((("car", "center"), 0.5), (("car", "inner"), 0.5), (("scooter", "center"), 0.6)):
        zone_speed[key] = _lerp(zone_speed[key], factor * zone_speed[key], t)
    weather_speed = {
        key: _lerp(value, value**2, t) if key[1] == "rain" else value for key, value in _P.weather_speed.items()
    }
    drifted = dataclasses.replace(
        _P,
        zone_speed=MappingProxyType(zone_speed),
        weather_speed=MappingProxyType(weather_speed),
        rain_penalty_minutes=_lerp(_P.rain_penalty_minutes, 3 * _P.rain_penalty_minutes, t),
    )
    ctx.relabel(frame, drifted)
    return frame


_PRIOR_SHIFT_MINUTES = 12.0


def _prior(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    frame[LABEL_COLUMN] = frame[LABEL_COLUMN] + ctx.intensity * _PRIOR_SHIFT_MINUTES
    return frame


_NULL_SHARE = 0.3


def _nulls(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    frame.loc[ctx.mask(n, _NULL_SHARE), "distance_km"] = np.nan
    weather = frame["weather"].to_numpy(dtype=object).copy()
    weather[ctx.mask(n, _NULL_SHARE)] = None
    frame["weather"] = pd.Series(weather, index=frame.index, dtype="object")
    return frame


_OUT_OF_RANGE_SHARE = 0.05


def _out_of_range(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    n = len(frame)
    negative = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    frame.loc[negative, "distance_km"] = -frame.loc[negative, "distance_km"]
    bad_hour = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    hours = ctx.rng.integers(30, 41, size=n)
    frame["order_hour"] = np.where(bad_hour, hours, frame["order_hour"]).astype(np.int64)
    bad_items = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    items = ctx.rng.integers(-3, 1, size=n)
    frame["items"] = np.where(bad_items, items, frame["items"]).astype(np.int64)
    return frame


def _missing_column(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    if ctx.intensity == 0:
        return frame
    return frame.drop(columns=["weather"])


_SCENARIOS: Mapping[str, _Scenario] = MappingProxyType(
    {
        "covariate": _Scenario(
            "covariate",
            "Suburban expansion: distances grow about 1.8x and orders hold more items; delivery logic is unchanged.",
            _covariate,
        ),
        "category_mix": _Scenario(
            "covariate",
            "A wet season on a bike fleet: 60% of rows re-drawn to rain/snow, 60% of couriers switched to bikes.",
            _category_mix,
        ),
        "concept": _Scenario(
            "concept",
            "Road works and a rain-handover rule: cars in the center at half speed, rain penalty tripled; "
            "features unchanged.",
            _concept,
        ),
        "prior": _Scenario(
            "prior",
            "A courier shortage: every delivery takes about 12 minutes longer, the orders look the same.",
            _prior,
        ),
        "nulls": _Scenario(
            "quality",
            "A tracking outage: about 30% of rows lose distance_km and, independently, about 30% lose weather.",
            _nulls,
        ),
        "out_of_range": _Scenario(
            "quality",
            "A broken upstream transformation: about 5% of rows each get a negative distance_km, an order_hour "
            "between 30 and 40, or items of 0 or less.",
            _out_of_range,
        ),
        "missing_column": _Scenario(
            "quality",
            "A schema change upstream: the weather column is no longer delivered.",
            _missing_column,
        ),
    }
)
DELIVERY_SCENARIOS: Mapping[str, str] = MappingProxyType({name: s.description for name, s in _SCENARIOS.items()})
DELIVERY_SCENARIO_KINDS: Mapping[str, ScenarioKind] = MappingProxyType({name: s.kind for name, s in _SCENARIOS.items()})


def generate_deliveries(
    n_rows: int,
    day: datetime.date,
    seed: int,
    scenario: str | None = None,
    intensity: float = 1.0,
) -> pd.DataFrame:
    """One day's batch of deliveries with the `delivery_minutes` label, optionally drifted.

    A pure function of its arguments: the same call returns an identical frame,
    batches of different days differ. With a scenario, the batch is the clean
    batch of the same (seed, day) with the drift applied; `intensity` scales the
    drift (1.0 is the documented drift, 0 changes nothing, above 1 overshoots).
    See `DELIVERY_SCENARIOS` for what each scenario does.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0, got {intensity}")
    drift = None
    if scenario is not None:
        if scenario not in _SCENARIOS:
            valid = ", ".join(_SCENARIOS)
            raise ValueError(f"unknown delivery scenario {scenario!r}; valid scenarios: {valid}")
        drift = _SCENARIOS[scenario]
    frame, truth = _sample(_rng(seed, day, "clean"), n_rows, day, seed)
    frame[LABEL_COLUMN] = _label(frame, truth, _P)
    frame = frame.astype(dict(DELIVERY_DTYPES))
    if drift is None:
        return frame
    context = _Context(rng=_rng(seed, day, scenario), intensity=float(intensity), truth=truth)
    drifted = drift.apply(frame.copy(), context)
    return drifted.astype({column: DELIVERY_DTYPES[column] for column in drifted.columns})
