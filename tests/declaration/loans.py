"""A loan-applications dataset nobody on the project wrote the platform for, and its declarations.

Column names share nothing with the examples (`loan_id`, `applied_at`,
`defaulted`, ...); there are numeric and categorical features and missing
values. `generate_loans` is deterministic by (seed, day) and can shift the
applicant mix (`income_shift`) or the default behaviour (`concept`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
PYTHON_DECLARATION = HERE / "loans_model.py"
YAML_DECLARATION = HERE / "loans_model.yaml"
EMPLOYMENT = ["salaried", "self_employed", "contractor", "retired"]
PURPOSES = ["car", "home", "education", "debt", "travel"]
REGIONS = ["north", "south", "east", "west"]


def generate_loans(rows: int, day: dt.date, seed: int, drift: str | None = None) -> pd.DataFrame:
    """One day of loan applications with the `defaulted` label."""
    rng = np.random.default_rng([seed, day.toordinal()])
    income = rng.lognormal(10.5, 0.5, rows)
    amount = rng.lognormal(9.3, 0.6, rows)
    if drift == "income_shift":
        income, amount = income * 0.45, amount * 1.8
    employment = rng.choice(EMPLOYMENT, rows, p=[0.6, 0.2, 0.15, 0.05])
    purpose = rng.choice(PURPOSES, rows)
    term = rng.choice([12, 24, 36, 60], rows)
    age = rng.integers(19, 80, rows)
    burden = amount / income
    logit = -2.2 + 3.0 * np.tanh(4 * burden - 1) + 0.6 * (employment == "contractor") - 0.02 * (age - 40)
    logit += 0.5 * (term == 60) + 0.4 * np.isin(purpose, ["travel", "debt"])
    if drift == "concept":
        logit = -2.2 - 3.0 * np.tanh(4 * burden - 1) + 1.2 * (employment == "salaried")
    start = pd.Timestamp(day, tz="UTC")
    frame = pd.DataFrame(
        {
            "loan_id": [f"L{day:%Y%m%d}-{seed}-{i:05d}" for i in range(rows)],
            "applied_at": start + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, rows)), unit="s"),
            "income": np.where(rng.random(rows) < 0.05, np.nan, income),
            "amount": amount,
            "term_months": term.astype(np.int64),
            "age": age.astype(np.int64),
            "employment": employment,
            "purpose": purpose,
            "region": rng.choice(REGIONS, rows),
            "defaulted": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64),
        }
    )
    return frame


def loans_declaration():
    """The Python declaration (tests/declaration/loans_model.py), built afresh."""
    import importlib

    import tests.declaration.loans_model as module

    return importlib.reload(module).loans


def write_history(folder: Path, start: dt.date, days: int, rows: int, seed: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(days):
        day = start + dt.timedelta(days=index)
        generate_loans(rows, day, seed).to_parquet(folder / f"applications_{day}.parquet")


def land_batch(landing, day: dt.date, rows: int, drift: str | None, seed: int = 1) -> pd.DataFrame:
    """Land a production batch without its label; returns the labels to land later."""
    frame = generate_loans(rows, day, seed, drift)
    landing.production.mkdir(parents=True, exist_ok=True)
    name = f"applications_{day}.parquet"
    temporary = landing.production / f".{name}.tmp"
    frame.drop(columns=["defaulted"]).to_parquet(temporary)
    temporary.rename(landing.production / name)
    return frame[["loan_id", "defaulted"]]


def land_labels(landing, day: dt.date, labels: pd.DataFrame) -> None:
    landing.labels.mkdir(parents=True, exist_ok=True)
    labels.to_parquet(landing.labels / f"applications_{day}.parquet")
