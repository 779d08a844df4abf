"""Plots as markdown with an embedded PNG, which Dagster's UI renders inline.

Metadata lives in the event log, so images are kept small (a few tens of KB).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

_FIGSIZE = (4.2, 2.6)
_DPI = 80


def png_markdown(figure: Any, alt: str) -> str:
    """Render a matplotlib figure to a data-URI PNG image in markdown, and close it."""
    return f"![{alt}]({png_data_uri(figure)})"


def png_data_uri(figure: Any) -> str:
    """Render a matplotlib figure to a PNG `data:` URI (an HTML page's <img> shows it as well), and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=_DPI)
    plt.close(figure)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def line_chart_markdown(series: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str) -> str:
    """One small line chart of named series sharing an x axis (iterations, epochs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=_FIGSIZE)
    for name, values in series.items():
        axis.plot(range(1, len(values) + 1), values, label=name, linewidth=1.4)
    axis.set_title(title, fontsize=9)
    axis.set_xlabel(xlabel, fontsize=8)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return png_markdown(figure, title)


def curves_markdown(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    axes: tuple[str, str],
    diagonal: bool = True,
) -> str:
    """Several (x, y) curves on one small chart, e.g. ROC or calibration curves of each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=_FIGSIZE)
    if diagonal:
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    for name, (x, y) in curves.items():
        axis.plot(x, y, label=name, linewidth=1.4)
    axis.set_title(title, fontsize=9)
    axis.set_xlabel(axes[0], fontsize=8)
    axis.set_ylabel(axes[1], fontsize=8)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return png_markdown(figure, title)
