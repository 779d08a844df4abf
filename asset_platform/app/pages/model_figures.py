"""The model page's Plotly figures: every version's metrics over time with the gate's decisions, and the
overlays of the compared versions (learning curves, metric per segment). Pure functions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from asset_platform.app.pages.compare import metric_order
from asset_platform.app.pages.versions import Evaluated, GateDecision, TrainedVersion

# How each decision is marked on the timeline: (marker symbol, colour).
DECISION_MARKERS = {
    "promoted": ("triangle-up", "#2e7d32"),
    "rejected": ("x", "#c62828"),
    "rolled back": ("triangle-down", "#ef6c00"),
    "insufficient": ("circle-open", "#616161"),
    "shadowed": ("diamond", "#1565c0"),
    "retired": ("square-open", "#6a1b9a"),
}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_SPLITS = ("train ", "valid ")


def label(version: TrainedVersion) -> str:
    """How the page names a version: its first 8 hex digits and its model asset."""
    return f"{version.version[:8]} {version.asset.rsplit('/', 1)[-1]}"


def when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def timeline(
    model: str, metric: str, versions: Sequence[TrainedVersion], decisions: Sequence[GateDecision]
) -> dict[str, Any]:
    """Each version's metric at its training time (one line per model asset), the champion's as a step
    line, and each gate decision marked at its time on the decided version's metric; a menu picks the metric."""
    metrics = sorted({name for v in versions for name in v.metrics}, key=metric_order)
    shown = metric if metric in metrics else (metrics[0] if metrics else metric)
    by_version = {v.version: v for v in versions}
    assets = sorted({v.asset for v in versions})
    traces: list[tuple[dict[str, Any], list[str]]] = []  # each trace and the versions its points show
    for index, asset in enumerate(assets):
        points = [v for v in versions if v.asset == asset]
        trace = {"type": "scatter", "mode": "lines+markers", "name": asset.rsplit("/", 1)[-1]}
        trace |= {"x": [when(v.trained_at) for v in points], "text": [label(v) for v in points]}
        trace |= {"line": {"color": PALETTE[index % len(PALETTE)]}, "hovertemplate": "%{text}<br>%{y}<extra></extra>"}
        traces.append((trace, [v.version for v in points]))
    if decisions:
        champion = {"type": "scatter", "mode": "lines", "name": "champion", "x": [when(d.at) for d in decisions]}
        champion |= {"line": {"shape": "hv", "color": "#424242", "width": 1, "dash": "dot"}, "hoverinfo": "skip"}
        traces.append((champion, [d.champion for d in decisions]))
    for decision, (symbol, colour) in DECISION_MARKERS.items():
        marked = [d for d in decisions if d.decision == decision]
        if marked:
            trace = {"type": "scatter", "mode": "markers", "name": decision, "x": [when(d.at) for d in marked]}
            trace |= {"marker": {"symbol": symbol, "size": 13, "color": colour, "line": {"width": 2}}}
            trace |= {"text": [f"{d.decision} {d.version[:8]}: {d.reason[:160]}" for d in marked]}
            trace |= {"hovertemplate": "%{text}<extra></extra>"}
            traces.append((trace, [d.version for d in marked]))

    def ys(name: str) -> list[list[float | None]]:
        return [[_metric(by_version.get(v), name) for v in shown_versions] for _t, shown_versions in traces]

    data = [trace | {"y": y} for (trace, _v), y in zip(traces, ys(shown), strict=True)]
    layout: dict[str, Any] = {
        "title": {"text": f"{model}: every version's metrics over time, with the gate's decisions"},
        "height": 420,
        "margin": {"l": 70, "r": 20, "t": 90, "b": 50},
        "xaxis": {"type": "date", "title": {"text": "trained / decided at (UTC)"}},
        "yaxis": {"title": {"text": shown}},
        "legend": {"orientation": "h", "y": -0.2},
    }
    if len(metrics) > 1:
        buttons = [
            {"label": name, "method": "update", "args": [{"y": ys(name)}, {"yaxis.title.text": name}]}
            for name in metrics
        ]
        menu = {"buttons": buttons, "active": metrics.index(shown), "x": 1, "xanchor": "right", "y": 1.18}
        layout["updatemenus"] = [menu | {"yanchor": "top", "direction": "down"}]
    return {"data": data, "layout": layout}


def curve_figures(model: str, versions: Sequence[TrainedVersion]) -> dict[str, dict[str, Any]]:
    """One figure per quantity the compared versions' learning curves track (AUC, loss, ...), each version in
    its own colour, validation solid and training dotted."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for index, version in enumerate(versions):
        colour = PALETTE[index % len(PALETTE)]
        for series, values in version.curve.items():
            quantity = series.removeprefix(_SPLITS[0]).removeprefix(_SPLITS[1])
            trace = {"type": "scatter", "mode": "lines", "name": f"{label(version)} {series}"}
            trace |= {"x": list(range(1, len(values) + 1)), "y": values}
            trace |= {"line": {"color": colour, "dash": "dot" if series.startswith(_SPLITS[0]) else "solid"}}
            groups.setdefault(quantity, []).append(trace)
    return {
        f"curve_{re.sub(r'[^a-z0-9]+', '_', quantity.lower())}": {
            "data": traces,
            "layout": {
                "title": {"text": f"{model}: learning curves, {quantity} (validation solid, training dotted)"},
                "height": 360,
                "showlegend": True,
                "margin": {"l": 70, "r": 20, "t": 50, "b": 70},
                "xaxis": {"title": {"text": "round / epoch"}},
                "yaxis": {"title": {"text": quantity}},
            },
        }
        for quantity, traces in groups.items()
    }


def segment_figure(
    model: str, metric: str, versions: Sequence[TrainedVersion], evaluated: Mapping[str, Evaluated]
) -> dict[str, Any] | None:
    """The holdout metric per segment of each compared version, from its evaluation; None when none has one."""
    segments = list(dict.fromkeys(s for v in versions if v.version in evaluated for s in evaluated[v.version].segments))
    if not segments:
        return None
    data = []
    for index, version in enumerate(versions):
        values = evaluated[version.version].segments if version.version in evaluated else {}
        data.append(
            {
                "type": "bar",
                "name": label(version),
                "x": segments,
                "y": [values.get(segment) for segment in segments],
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    layout = {
        "title": {"text": f"{model}: holdout {metric} per segment (each version's evaluation)"},
        "height": 340,
        "barmode": "group",
        "margin": {"l": 70, "r": 20, "t": 50, "b": 90},
        "yaxis": {"title": {"text": metric}},
    }
    return {"data": data, "layout": layout}


def _metric(version: TrainedVersion | None, name: str) -> float | None:
    return None if version is None else version.metrics.get(name)


# The evaluation curves each task records (reports.evaluation.curve_values): figure name → (curve, x, y, axes).
_OVERLAYS = {
    "binary_classification": {
        "roc": ("roc", "fpr", "tpr", ("false positive rate", "true positive rate"), True),
        "calibration": ("calibration", "predicted", "observed", ("mean predicted", "observed rate"), True),
    },
    "regression": {
        "predicted_vs_actual": (
            "predicted_vs_actual",
            "predicted",
            "actual",
            ("mean predicted (decile)", "mean actual"),
            False,
        ),
    },
}


def evaluation_figures(
    model: str, task: str, versions: Sequence[TrainedVersion], evaluated: Mapping[str, Evaluated]
) -> dict[str, dict[str, Any]]:
    """The compared versions' evaluation curves overlaid (ROC and calibration, or predicted vs actual and the
    residual distribution), each from the evaluation that scored the version; {} when none recorded curves."""
    drawn = [(index, v, evaluated[v.version].curves) for index, v in enumerate(versions) if v.version in evaluated]
    drawn = [(index, version, curves) for index, version, curves in drawn if curves]
    figures: dict[str, dict[str, Any]] = {}
    for name, (curve, x, y, axes, diagonal) in _OVERLAYS.get(task, {}).items():
        data = [
            {
                "type": "scatter",
                "mode": "lines+markers" if curve != "roc" else "lines",
                "name": label(version),
                "x": curves[curve][x],
                "y": curves[curve][y],
                "line": {"color": PALETTE[index % len(PALETTE)]},
            }
            for index, version, curves in drawn
            if curve in curves
        ]
        if not data:
            continue
        if diagonal:
            line = {"color": "#9e9e9e", "dash": "dash"}
            data.append({"type": "scatter", "mode": "lines", "name": "chance / ideal", "x": [0, 1], "y": [0, 1]})
            data[-1]["line"] = line
        title = "ROC" if name == "roc" else name.replace("_", " ")
        figures[name] = _overlay(f"{model}: {title} on each version's holdout", axes, data)
    residuals = [(index, version, curves["residuals"]) for index, version, curves in drawn if "residuals" in curves]
    if residuals:
        data = [
            {
                "type": "bar",
                "name": label(version),
                "x": [(a + b) / 2 for a, b in zip(found["edges"], found["edges"][1:], strict=False)],
                "y": found["counts"],
                "opacity": 0.6,
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
            for index, version, found in residuals
        ]
        figures["residuals"] = _overlay(
            f"{model}: residuals (actual − predicted) on each version's holdout", ("residual", "rows"), data
        )
        figures["residuals"]["layout"]["barmode"] = "overlay"
    return figures


def _overlay(title: str, axes: tuple[str, str], data: list[dict[str, Any]]) -> dict[str, Any]:
    layout = {
        "title": {"text": title},
        "height": 360,
        "showlegend": True,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 70},
        "xaxis": {"title": {"text": axes[0]}},
        "yaxis": {"title": {"text": axes[1]}},
    }
    return {"data": data, "layout": layout}
