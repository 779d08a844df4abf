"""Pure functions from what the event log recorded to the pages' Plotly figures and HTML."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asset_platform.app.pages import PAGES_PREFIX
from asset_platform.declaration.names import CHAMPION

# A feature's level (drift/policy.py `judge_feature`) and a batch's verdict, worst last.
LEVELS = ("pass", "warn", "alert", "error")
VERDICT_COLOURS = {"pass": "#2e7d32", "warn": "#f9a825", "alert": "#c62828", "error": "#6a1b9a", "": "#bdbdbd"}
PLOTLY_JS = f"{PAGES_PREFIX}/static/plotly.min.js"


@dataclass(frozen=True)
class DriftBatch:
    """One batch's drift materialization: its verdict, each feature's PSI and level, estimate and realized metric.

    `estimate_interval` is (low, high) where the materialization records one; `data_version` names the
    stored results (the histograms), `run_id` the run that measured the batch.
    """

    batch_key: str
    verdict: str
    features: dict[str, tuple[float | None, str]] = field(default_factory=dict)
    estimated_metric: float | None = None
    realized_metric: float | None = None
    estimate_interval: tuple[float, float] | None = None
    run_id: str = ""
    data_version: str = ""


def level_code(level: str) -> int | None:
    """The level's rank in LEVELS ("error: ..." counts as error); None for a level this page does not know."""
    word = level.split(":", 1)[0].strip()
    return LEVELS.index(word) if word in LEVELS else None


def drift_heatmap(model: str, batches: Sequence[DriftBatch]) -> dict[str, Any]:
    """Features × batches: the colour is the feature's level on that batch, the number its PSI."""
    features = sorted({name for batch in batches for name in batch.features})
    x = [batch.batch_key for batch in batches]
    levels = [[batch.features.get(name, (None, ""))[1] for batch in batches] for name in features]
    psi = [[batch.features.get(name, (None, ""))[0] for batch in batches] for name in features]
    last = len(LEVELS) - 1
    heatmap = {
        "type": "heatmap",
        "x": x,
        "y": features,
        "z": [[level_code(level) for level in row] for row in levels],
        "zmin": -0.5,
        "zmax": last + 0.5,
        "colorscale": _level_scale(),
        "customdata": psi,
        "text": [[_psi_text(value) for value in row] for row in psi],
        "texttemplate": "%{text}",
        "hovertemplate": "feature %{y}<br>batch %{x}<br>PSI %{customdata}<extra></extra>",
        "colorbar": {"tickvals": list(range(len(LEVELS))), "ticktext": list(LEVELS), "title": {"text": "level"}},
        "xgap": 1,
        "ygap": 1,
    }
    return {
        "data": [heatmap],
        "layout": {
            "title": {"text": f"{model}: drift per feature and batch (PSI; colour: the feature's level)"},
            "height": max(260, 28 * len(features) + 140),
            "margin": {"l": 160, "r": 20, "t": 50, "b": 80},
            "xaxis": {"type": "category", "title": {"text": "batch"}},
            "yaxis": {"type": "category", "autorange": "reversed"},
        },
    }


def metric_figure(model: str, metric: str, batches: Sequence[DriftBatch]) -> dict[str, Any] | None:
    """The champion's estimated (with its interval where recorded) and realized metric per batch; None when
    neither was measured."""
    x = [batch.batch_key for batch in batches]
    series = {"estimated": [b.estimated_metric for b in batches], "realized": [b.realized_metric for b in batches]}
    if all(value is None for values in series.values() for value in values):
        return None
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": f"{name} {metric}", "x": x, "y": values}
        for name, values in series.items()
        if any(value is not None for value in values)
    ]
    if any(b.estimate_interval is not None for b in batches) and data[0]["name"].startswith("estimated"):
        data[0]["name"] += " (95% interval)"
        data[0]["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": [_above(b) for b in batches],
            "arrayminus": [_below(b) for b in batches],
        }
    layout = {
        "title": {"text": f"{model}: {metric} per batch"},
        "height": 260,
        "margin": {"l": 160, "r": 20, "t": 50, "b": 60},
        "xaxis": {"type": "category"},
    }
    return {"data": data, "layout": layout}


def _above(batch: DriftBatch) -> float | None:
    if batch.estimate_interval is None or batch.estimated_metric is None:
        return None
    return max(0.0, batch.estimate_interval[1] - batch.estimated_metric)


def _below(batch: DriftBatch) -> float | None:
    if batch.estimate_interval is None or batch.estimated_metric is None:
        return None
    return max(0.0, batch.estimated_metric - batch.estimate_interval[0])


def verdict_strip(rows: Sequence[tuple[str, Sequence[DriftBatch]]]) -> dict[str, Any]:
    """Models × their last batches, coloured by the batch's verdict (oldest left)."""
    width = max((len(batches) for _model, batches in rows), default=0)
    models = [model for model, _batches in rows]
    z, text = [], []
    for _model, batches in rows:
        pad = [None] * (width - len(batches))
        z.append(pad + [level_code(batch.verdict) for batch in batches])
        text.append(pad + [f"{batch.batch_key}: {batch.verdict}" for batch in batches])
    return {
        "data": [
            {
                "type": "heatmap",
                "x": [f"-{width - 1 - i}" if i < width - 1 else "last" for i in range(width)],
                "y": models,
                "z": z,
                "text": text,
                "hovertemplate": "%{y}<br>%{text}<extra></extra>",
                "zmin": -0.5,
                "zmax": len(LEVELS) - 0.5,
                "colorscale": _level_scale(),
                "showscale": False,
                "xgap": 2,
                "ygap": 2,
            }
        ],
        "layout": {
            "title": {"text": "last batches' verdicts"},
            "height": 60 * len(models) + 110,
            "margin": {"l": 160, "r": 20, "t": 50, "b": 40},
            "xaxis": {"type": "category", "title": {"text": "batch (newest right)"}},
            "yaxis": {"type": "category", "autorange": "reversed"},
        },
    }


def fleet_table(rows: Sequence[dict[str, Any]]) -> str:
    """The fleet/overview rows as an HTML table, each model linked to its pages and its champion in Dagster."""
    columns = ("model", "task", "champion", "champion_since", "realized", "estimated", "open_retrains")
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in (*columns, "last decision", "pages"))
    body = []
    for row in rows:
        model = str(row["model"])
        cells = [f'<td><a href="{html.escape(drift_page(model))}">{html.escape(model)}</a></td>']
        cells += [f"<td>{html.escape(str(row[c]))}</td>" for c in columns[1:]]
        cells.append(f"<td>{html.escape(str(row['last_decision']))}</td>")
        pages = f'<a href="{html.escape(model_page(model))}">versions</a> · '
        pages += f'<a href="{html.escape(tuning_page(model))}">tuning</a> · '
        pages += asset_link([model, CHAMPION], "champion")
        cells.append(f"<td>{pages}</td>")
        body.append(f'<tr data-model="{html.escape(model)}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def drift_page(model: str) -> str:
    return f"{PAGES_PREFIX}/models/{model}/drift"


def tuning_page(model: str) -> str:
    return f"{PAGES_PREFIX}/models/{model}/tuning"


def model_page(model: str, versions: Sequence[str] = ()) -> str:
    """The model page's address, comparing `versions` (`?versions=a,b`) when given."""
    return f"{PAGES_PREFIX}/models/{model}" + (f"?versions={','.join(versions)}" if versions else "")


def figure_div(name: str) -> str:
    """Where a figure is drawn; `render_page` appends the figures whose place the body does not hold."""
    return f'<div class="figure" id="{html.escape(name)}"></div>'


def asset_link(key_path: Sequence[str], label: str | None = None) -> str:
    """A link to the asset's page in the Dagster UI (same origin)."""
    path = "/".join(key_path)
    return f'<a class="dagster" href="/assets/{html.escape(path)}">{html.escape(label or path)} in Dagster</a>'


def json_script(element_id: str, data: Any) -> str:
    """Data for the page's scripts, inert until read (`JSON.parse` of the element's text)."""
    # "</" inside a <script> would end it; JSON allows "<\\/".
    text = json.dumps(data, allow_nan=False, default=str).replace("</", "<\\/")
    return f'<script id="{html.escape(element_id)}" type="application/json">{text}</script>'


def render_page(title: str, body: str, figures: dict[str, dict[str, Any]], script: str = "") -> str:
    """One HTML page: the body, one <div> per figure and one script that draws them all, then `script`
    (the page's own JavaScript, run once the figures are drawn)."""
    divs = "".join(figure_div(name) for name in figures if figure_div(name) not in body)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}nav a{{margin-right:1rem}}
table{{border-collapse:collapse;font-size:.9rem}}td,th{{border:1px solid #ddd;padding:.3rem .5rem;text-align:left}}
.figure{{max-width:1200px}}tr.differs td,tr.differs th{{background:#fff3c4}}.notes{{color:#555}}
#diff td{{max-width:24rem;overflow-wrap:anywhere}}</style>
<script src="{PLOTLY_JS}"></script></head>
<body><nav><a href="{PAGES_PREFIX}/fleet">Fleet</a><a href="/assets">Dagster assets</a></nav>
<h1>{html.escape(title)}</h1>{body}{divs}
{json_script("figures", figures)}
<script>const figures = JSON.parse(document.getElementById("figures").textContent);
for (const [id, f] of Object.entries(figures)) Plotly.newPlot(id, f.data, f.layout, {{responsive: true}});
</script>{f"<script>{script}</script>" if script else ""}</body></html>"""


def _psi_text(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _level_scale() -> list[list[Any]]:
    """Discrete bands over the level codes: each level one colour, however the colour axis interpolates."""
    scale: list[list[Any]] = []
    for index, level in enumerate(LEVELS):
        scale += [[index / len(LEVELS), VERDICT_COLOURS[level]], [(index + 1) / len(LEVELS), VERDICT_COLOURS[level]]]
    return scale
