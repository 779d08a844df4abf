"""Named drift scenarios that turn a clean batch into a drifted one.

Each scenario tells a small business story that a monitoring stack should catch
(or, for `concept`, can only catch once labels arrive). Four kinds:

* ``covariate`` - who shows up or what they look at changes, the buying logic
  P(converted | features) does not;
* ``concept``   - the buying logic changes, the features look the same;
* ``prior``     - the share of buyers changes, the features look the same;
* ``quality``   - nothing changed in the business, the data pipeline broke.

A scenario receives the clean batch and a `DriftContext` and returns the drifted
batch. `intensity` scales covariate, concept and prior drifts linearly (and the
share of broken rows of quality faults); 0 leaves the batch untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from asset_platform.synthetic.generator import LabelParams

ScenarioKind = Literal["covariate", "concept", "prior", "quality"]


@dataclass(frozen=True, eq=False)
class DriftContext:
    """What a scenario may use besides the clean batch itself.

    `rng` is the scenario's own stream, so applying a drift never disturbs the
    draws of the clean batch. `relabel` redraws `converted` with the same
    per-row uniforms as the clean label, so only the drift moves labels.
    """

    rng: np.random.Generator
    intensity: float
    label_params: LabelParams
    label_uniforms: np.ndarray
    probability: Callable[[pd.DataFrame, LabelParams], np.ndarray]

    def relabel(self, frame: pd.DataFrame, params: LabelParams | None = None) -> pd.DataFrame:
        """Recompute `converted` for (possibly changed) features and parameters."""
        p = self.probability(frame, self.label_params if params is None else params)
        frame["converted"] = (self.label_uniforms < p).astype(np.int64)
        return frame

    def share(self, base: float) -> float:
        """The fraction of rows a drift touches at this intensity (capped at 1)."""
        return min(1.0, base * self.intensity)

    def mask(self, n: int, base: float) -> np.ndarray:
        """Pick the rows a drift touches, each with probability `share(base)`."""
        return self.rng.random(n) < self.share(base)


@dataclass(frozen=True)
class DriftScenario:
    """A named, documented way in which a batch of sessions drifts."""

    name: str
    kind: ScenarioKind
    description: str
    apply: Callable[[pd.DataFrame, DriftContext], pd.DataFrame]


def _lerp(clean: float, drifted: float, intensity: float) -> float:
    return clean + intensity * (drifted - clean)


def _covariate(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    t = ctx.intensity
    frame["price"] = frame["price"] * 2.2**t
    frame["session_duration_s"] = frame["session_duration_s"] * 0.5**t
    # Fewer pages per session, but every session still views its landing page.
    extra_pages = (frame["pages_viewed"] - 1) * 0.6**t
    frame["pages_viewed"] = 1 + np.round(extra_pages).astype(np.int64)
    # Buying logic is unchanged, so labels follow the shifted features.
    return ctx.relabel(frame)


# Where the re-assigned share of sessions comes from after the mix shift.
_SHIFTED_DEVICES: Mapping[str, float] = MappingProxyType({"mobile": 0.5, "tablet": 0.5})
_SHIFTED_CHANNELS: Mapping[str, float] = MappingProxyType({"social": 0.55, "ads": 0.45})
_MIX_SHIFT_SHARE = 0.6


def _category_mix(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    n = len(frame)
    for column, target in (
        ("device", _SHIFTED_DEVICES),
        ("channel", _SHIFTED_CHANNELS),
    ):
        moved = ctx.mask(n, _MIX_SHIFT_SHARE)
        values = np.array(list(target), dtype=object)
        probs = np.fromiter(target.values(), float)
        replacement = ctx.rng.choice(values, size=n, p=probs)
        frame[column] = np.where(moved, replacement, frame[column].to_numpy())
    return ctx.relabel(frame)


# Categories whose shoppers start reading a higher price as a quality signal.
_REVERSED_ELASTICITY = ("electronics", "fashion", "beauty", "home")


# Offsets the weaker browsing signal so the overall conversion rate stays close
# to clean: the drift is in *who* buys, not in how many.
_CONCEPT_INTERCEPT_SHIFT = 1.6


def _concept(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    clean, t = ctx.label_params, ctx.intensity
    elasticity = {
        category: _lerp(value, -value, t) if category in _REVERSED_ELASTICITY else value
        for category, value in clean.price_elasticity.items()
    }
    drifted = dataclasses.replace(
        clean,
        price_elasticity=MappingProxyType(elasticity),
        pages_coef=_lerp(clean.pages_coef, 0.2 * clean.pages_coef, t),
        email_discount_multiplier=_lerp(clean.email_discount_multiplier, 1.0, t),
        bounce_effect=_lerp(clean.bounce_effect, 0.0, t),
        intercept=clean.intercept + t * _CONCEPT_INTERCEPT_SHIFT,
    )
    return ctx.relabel(frame, drifted)


# Shift of the logit intercept that roughly doubles the overall conversion rate.
_PRIOR_LOGIT_SHIFT = 1.0


def _prior(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    clean = ctx.label_params
    shifted = clean.intercept + ctx.intensity * _PRIOR_LOGIT_SHIFT
    return ctx.relabel(frame, dataclasses.replace(clean, intercept=shifted))


_NULL_SHARE = 0.3


def _nulls(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    n = len(frame)
    frame.loc[ctx.mask(n, _NULL_SHARE), "price"] = np.nan
    device = frame["device"].to_numpy(dtype=object)
    device[ctx.mask(n, _NULL_SHARE)] = None
    frame["device"] = device
    return frame


_OUT_OF_RANGE_SHARE = 0.05


def _out_of_range(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    n = len(frame)
    negative = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    frame.loc[negative, "price"] = -frame.loc[negative, "price"]
    bad_hour = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    hours = ctx.rng.integers(30, 41, size=n)
    frame["hour_of_day"] = np.where(bad_hour, hours, frame["hour_of_day"]).astype(np.int64)
    bad_discount = ctx.mask(n, _OUT_OF_RANGE_SHARE)
    discounts = np.round(ctx.rng.uniform(101.0, 150.0, size=n))
    frame["discount_pct"] = np.where(bad_discount, discounts, frame["discount_pct"])
    return frame


def _missing_column(frame: pd.DataFrame, ctx: DriftContext) -> pd.DataFrame:
    if ctx.intensity == 0:
        return frame
    return frame.drop(columns=["device"])


SCENARIOS: dict[str, DriftScenario] = {
    scenario.name: scenario
    for scenario in (
        DriftScenario(
            name="covariate",
            kind="covariate",
            description=(
                "Inflation and a slimmer site: prices rise about 2.2x, sessions get "
                "half as long and browse about 40% fewer extra pages. Shoppers still "
                "decide the same way, so the conversion rate falls only through the "
                "shifted features."
            ),
            apply=_covariate,
        ),
        DriftScenario(
            name="category_mix",
            kind="covariate",
            description=(
                "A paid social campaign: 60% of sessions are re-drawn from mobile/"
                "tablet and from social/ads traffic, so tablets and social/ads grow "
                "at the expense of desktop and search/direct/email. Buying logic is "
                "unchanged."
            ),
            apply=_category_mix,
        ),
        DriftScenario(
            name="concept",
            kind="concept",
            description=(
                "Shoppers change their minds, not their clicks: in electronics, "
                "fashion, beauty and home a higher price now reads as quality "
                "(price elasticity reverses sign), browsing depth says much less "
                "about intent (one-page checkout), e-mail discounts lose their extra "
                "pull and short sessions stop meaning bounces. Feature distributions "
                "are identical to clean data; only the labels reveal the drift."
            ),
            apply=_concept,
        ),
        DriftScenario(
            name="prior",
            kind="prior",
            description=(
                "A sales season: every shopper is more likely to buy, so the "
                "conversion rate roughly doubles while the sessions look exactly "
                "as before."
            ),
            apply=_prior,
        ),
        DriftScenario(
            name="nulls",
            kind="quality",
            description=(
                "A tracking outage: about 30% of sessions lose their price and, "
                "independently, about 30% lose their device."
            ),
            apply=_nulls,
        ),
        DriftScenario(
            name="out_of_range",
            kind="quality",
            description=(
                "A broken upstream transformation: about 5% of sessions each get a "
                "negative price, an hour_of_day between 30 and 40, or a discount_pct "
                "above 100."
            ),
            apply=_out_of_range,
        ),
        DriftScenario(
            name="missing_column",
            kind="quality",
            description=("A schema change upstream: the `device` column is no longer delivered."),
            apply=_missing_column,
        ),
    )
}


def get_scenario(name: str) -> DriftScenario:
    """Look up a scenario by name; unknown names raise ValueError listing valid ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        valid = ", ".join(SCENARIOS)
        raise ValueError(f"unknown drift scenario {name!r}; valid scenarios: {valid}") from None
