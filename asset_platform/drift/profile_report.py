"""The reference profile as people read it: each feature's distribution, drawn from the profile alone.

Numeric features are drawn as histograms over the profile's own bins: the bins are the reference's
quantiles (equal counts), so their heights are densities (count over width), between the feature's
minimum and maximum. Categorical features are drawn as the shares of their most frequent categories,
the tail and missing values as bars of their own. Nothing here reads the training data again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from asset_platform.drift.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from asset_platform.reports.numbers import shown
from asset_platform.reports.plots import png_markdown

# A grid of small charts; beyond this many features the table still lists every one.
MAX_CHARTS = 12
_COLUMNS = 3
_CATEGORIES_DRAWN = 8
_CELL_INCHES = (2.3, 1.5)


def profile_markdown(profile: ReferenceProfile, first: Sequence[str] = (), sensitive: Collection[str] = ()) -> str:
    """A table of every feature's summary and a grid of their distributions, `first` ones first.

    `sensitive` columns (declared `sensitive: true`) show no raw value: a numeric one only its missing share,
    a categorical one its categories masked as the drift results mask them.
    """
    order = [name for name in first if name in profile.features]
    order += [name for name in profile.features if name not in order]
    drawn = [name for name in order if not (name in sensitive and name in profile.numeric)]
    return f"{_table(profile, order, sensitive)}\n\n{_grid(profile, drawn[:MAX_CHARTS], len(order), sensitive)}"


def _table(profile: ReferenceProfile, order: list[str], sensitive: Collection[str]) -> str:
    lines = [
        "| feature | kind | missing | mean | std | min | max | categories |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in order:
        if name in profile.numeric:
            p = profile.numeric[name]
            stats = " | ".join(f"{shown(v):g}" for v in (p.mean, p.std, p.minimum, p.maximum))
            if name in sensitive:
                stats = "sensitive | | |"
            lines.append(f"| {name} | numeric | {_percent(p.missing_rate)} | {stats} | |")
        else:
            c = profile.categorical[name]
            top = ", ".join(_label(category, name in sensitive) for category in c.categories[:3])
            more = f" (+{len(c.categories) - 3})" if len(c.categories) > 3 else ""
            lines.append(f"| {name} | categorical | {_percent(c.missing_rate)} | | | | | {top}{more} |")
    return "\n".join(lines)


def _percent(rate: float) -> str:
    return f"{shown(100 * rate):g} %"


def _label(category: object, sensitive: bool) -> str:
    from asset_platform.access.masking import mask_value

    return mask_value(category) if sensitive else str(category)


def _grid(profile: ReferenceProfile, names: list[str], total: int, sensitive: Collection[str]) -> str:
    if not names:
        return "(no features profiled)"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(names) // _COLUMNS)
    figure, axes = plt.subplots(
        rows, _COLUMNS, figsize=(_CELL_INCHES[0] * _COLUMNS, _CELL_INCHES[1] * rows), squeeze=False
    )
    for axis, name in zip(axes.flat, names, strict=False):
        if name in profile.numeric:
            _numeric(axis, profile.numeric[name])
        else:
            _categorical(axis, profile.categorical[name], name in sensitive)
        axis.set_title(name, fontsize=7)
        axis.tick_params(labelsize=5)
    for axis in axes.flat[len(names) :]:
        axis.axis("off")
    caption = f"reference distributions ({len(names)} of {total} features)"
    return png_markdown(figure, caption)


def _numeric(axis, p: NumericProfile) -> None:
    """Density over the profile's quantile bins; a constant feature is one bar at its value."""
    edges = np.array([p.minimum, *p.edges, p.maximum], dtype=np.float64)
    widths = np.diff(edges)
    counts = np.asarray(p.counts, dtype=np.float64)
    if widths.sum() <= 0 or counts.sum() <= 0:
        axis.bar([p.minimum], [1.0], width=1.0, color="#4c78a8")
        return
    # A bin of zero width (many equal values) is drawn as wide as the narrowest real one.
    positive = widths[widths > 0]
    drawn = np.where(widths > 0, widths, positive.min())
    density = counts / counts.sum() / drawn
    axis.stairs(density, np.concatenate(([edges[0]], edges[0] + np.cumsum(drawn))), fill=True, color="#4c78a8")


def _categorical(axis, c: CategoricalProfile, sensitive: bool) -> None:
    total = max(c.n_rows, 1)
    labels = [_label(category, sensitive)[:13] for category in c.categories[:_CATEGORIES_DRAWN]]
    shares = [count / total for count in c.counts[:_CATEGORIES_DRAWN]]
    rest = sum(c.counts[_CATEGORIES_DRAWN:]) + c.other
    for label, count in (("other", rest), ("missing", c.missing)):
        if count:
            labels.append(label)
            shares.append(count / total)
    axis.barh(labels[::-1], shares[::-1], color="#f58518")
