"""The reference profile drawn for the Dagster UI: a table of every feature and a grid of distributions."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
from PIL import Image

from asset_platform.drift import build_profile
from asset_platform.drift.profile_report import MAX_CHARTS, profile_markdown


def _image(markdown: str) -> Image.Image:
    encoded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown).group(1)
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def test_every_feature_is_in_the_table_and_the_first_named_leads_the_grid() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 1.0, 2000),
            "constant": np.full(2000, 7.0),
            "prediction": rng.random(2000),
            "country": rng.choice(["de", "fr", "it", None], 2000),
        }
    )
    profile = build_profile(frame, numeric=["amount", "constant", "prediction"], categorical=["country"])
    markdown = profile_markdown(profile, first=["prediction", "not a feature"])
    rows = [line.split(" | ")[0].strip("| ") for line in markdown.splitlines() if line.startswith("| ")][1:]
    assert rows == ["prediction", "amount", "constant", "country"]
    assert "| constant | numeric | 0 % | 7 | 0 | 7 | 7 |" in markdown
    assert "(4 of 4 features)" in markdown
    image = _image(markdown)
    assert image.format == "PNG" and image.width > image.height  # one row of three, then one


def test_a_wide_profile_draws_the_first_twelve_and_lists_them_all() -> None:
    frame = pd.DataFrame({f"f{i:02d}": np.arange(100.0) * i for i in range(20)})
    markdown = profile_markdown(build_profile(frame, numeric=list(frame.columns), categorical=[]))
    assert sum(line.startswith("| f") and "numeric" in line for line in markdown.splitlines()) == 20
    assert f"({MAX_CHARTS} of 20 features)" in markdown
    assert len(markdown) < 120_000  # the event log keeps it: tens of KB


def test_a_sensitive_column_shows_no_raw_value() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"income": rng.normal(50_000, 9_000, 500), "region": rng.choice(["north", "south"], 500)})
    profile = build_profile(frame, numeric=["income"], categorical=["region"])
    markdown = profile_markdown(profile, sensitive={"income", "region"})
    assert "| income | numeric | 0 % | sensitive | | | | |" in markdown
    assert "north" not in markdown and "south" not in markdown and "#" in markdown.split("| region |")[1]
    assert "(1 of 2 features)" in markdown  # a sensitive number is not drawn; masked categories are
