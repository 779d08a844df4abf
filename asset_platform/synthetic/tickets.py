"""Support tickets routed to one of four teams: a multiclass dataset with categorical features.

One row is one ticket; the label `team` is the team that resolved it (billing, technical, account or sales).
The team follows from the channel, the customer's plan, the message's length, the account's age and the
customer's earlier tickets, through one logit per team and a softmax, so no feature alone decides it (a good
model reaches a macro one-vs-rest AUC around 0.8). `generate_tickets` makes one day's rows, reproducibly from
(seed, day), and can apply a drift: `covariate` (the channel and plan mix moves), `category_mix` (phone, web and
paying plans grow), `concept` (billing and account tickets trade places), `prior` (the odds of a sales ticket
triple), or a data-quality fault (`nulls`, `out_of_range`, `missing_column`) that leaves the teams alone. The
drifts added after the first three draw from their own stream keyed by (seed, day, drift), so the clean rows and
the first three drifts stay what they were.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import numpy as np
import pandas as pd

ID_COLUMN = "ticket_id"
TIME_COLUMN = "opened_at"
LABEL_COLUMN = "team"
TEAMS = ["billing", "technical", "account", "sales"]
CHANNELS = ["email", "chat", "phone", "web"]
PLANS = ["free", "pro", "enterprise"]
REGIONS = ["north", "south", "east", "west"]
TICKET_DRIFTS = {
    "covariate": "most tickets arrive by chat from free plans",
    "concept": "billing and account tickets trade places",
    "prior": "the odds of a sales ticket triple",
    "category_mix": "60% of tickets re-drawn to the phone or web channel and 60% to the pro or enterprise plan",
    "nulls": "about 30% of tickets lose account_age_days and, independently, about 30% lose channel",
    "out_of_range": "about 5% of tickets each get message_words of 0 or less, prior_tickets of -1, or a negative "
    "account_age_days",
    "missing_column": "the channel column is no longer delivered",
}
_QUALITY = ("nulls", "out_of_range", "missing_column")


def ticket_columns() -> list[dict[str, Any]]:
    """The data contract as column specs (plain dicts, as a YAML declaration would list them)."""
    return [
        {"name": ID_COLUMN, "dtype": "str"},
        {"name": TIME_COLUMN, "dtype": "datetime"},
        {"name": "channel", "dtype": "str", "categories": CHANNELS},
        {"name": "plan", "dtype": "str"},
        {"name": "region", "dtype": "str"},
        {"name": "message_words", "dtype": "int", "min": 1},
        {"name": "prior_tickets", "dtype": "int", "min": 0},
        {"name": "account_age_days", "dtype": "float", "min": 0, "nullable": True},
        {"name": LABEL_COLUMN, "dtype": "str", "categories": TEAMS},
    ]


def generate_tickets(rows: int, day: dt.date, seed: int = 0, drift: str | None = None) -> pd.DataFrame:
    """One day of tickets with the `team` label."""
    if drift is not None and drift not in TICKET_DRIFTS:
        raise ValueError(f"unknown ticket drift {drift!r}; use one of {', '.join(TICKET_DRIFTS)}")
    rng = np.random.default_rng([seed, day.toordinal()])
    channel_mix, plan_mix = [0.35, 0.3, 0.15, 0.2], [0.5, 0.35, 0.15]
    if drift == "covariate":
        channel_mix, plan_mix = [0.1, 0.6, 0.1, 0.2], [0.8, 0.15, 0.05]
    channel = rng.choice(CHANNELS, rows, p=channel_mix)
    plan = rng.choice(PLANS, rows, p=plan_mix)
    region = rng.choice(REGIONS, rows)
    words = np.maximum(1, rng.lognormal(3.5, 0.7, rows)).astype(np.int64)
    prior = rng.poisson(1.5, rows).astype(np.int64)
    age = rng.gamma(2.0, 300.0, rows)
    # The later drifts' own stream: the clean stream below draws exactly what it drew before they existed.
    moved = np.random.default_rng([seed, day.toordinal(), zlib.crc32(f"tickets/{drift}".encode())])
    if drift == "category_mix":  # the teams follow the moved features (same uniforms below)
        channel = np.where(moved.random(rows) < 0.6, moved.choice(["phone", "web"], rows), channel)
        plan = np.where(moved.random(rows) < 0.6, moved.choice(["pro", "enterprise"], rows), plan)
    long_message = (np.log(words) - 3.5) / 0.7
    young = (np.log1p(age) - 6.0) / 0.9
    logits = np.column_stack(
        [
            0.9 * (channel == "email") + 0.8 * (plan != "free") + 0.3 * young,  # billing
            1.0 * long_message + 0.8 * (channel == "chat") + 0.3 * np.minimum(prior, 4),  # technical
            -1.0 * young + 0.7 * (channel == "phone") - 0.2 * (plan == "enterprise"),  # account
            1.2 * (plan == "free") + 0.5 * (region == "west") - 0.4 * np.minimum(prior, 4) - 0.3,  # sales
        ]
    )
    logits *= 1.6  # sharpens the teams: a good model's macro one-vs-rest AUC is about 0.8
    if drift == "concept":
        logits = logits[:, [2, 1, 0, 3]]
    if drift == "prior":
        logits[:, 3] += np.log(3.0)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    team = (rng.random(rows)[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)
    start = pd.Timestamp(day, tz="UTC")
    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"T{day:%Y%m%d}-{seed}-{i:05d}" for i in range(rows)],
            TIME_COLUMN: start + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, rows)), unit="s"),
            "channel": channel,
            "plan": plan,
            "region": region,
            "message_words": words,
            "prior_tickets": prior,
            "account_age_days": np.where(rng.random(rows) < 0.05, np.nan, age.round(1)),
            LABEL_COLUMN: np.asarray(TEAMS, dtype=object)[np.minimum(team, len(TEAMS) - 1)],
        }
    )
    return _broken(frame, drift, moved) if drift in _QUALITY else frame


def _broken(frame: pd.DataFrame, fault: str, rng: np.random.Generator) -> pd.DataFrame:
    """A data-quality fault on the delivered rows: the business (and so each ticket's team) is unchanged."""
    rows = len(frame)
    if fault == "missing_column":
        return frame.drop(columns=["channel"])
    if fault == "nulls":
        frame.loc[rng.random(rows) < 0.3, "account_age_days"] = np.nan
        frame["channel"] = np.where(rng.random(rows) < 0.3, None, frame["channel"].to_numpy(dtype=object))
        return frame
    frame["message_words"] = np.where(rng.random(rows) < 0.05, rng.integers(-3, 1, rows), frame["message_words"])
    frame["prior_tickets"] = np.where(rng.random(rows) < 0.05, -1, frame["prior_tickets"])
    negative = rng.random(rows) < 0.05
    frame.loc[negative, "account_age_days"] = -frame.loc[negative, "account_age_days"]
    return frame
