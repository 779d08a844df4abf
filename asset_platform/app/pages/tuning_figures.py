"""The tuning page's figures and trials table: pure functions of a `TuningStudy`.

The trials as parallel coordinates (one axis per searched parameter, the objective last, each
complete trial a line coloured by its value; a log-scale parameter on a log10 axis labelled in
its own units) and the parameters' importances as bars.
"""

from __future__ import annotations

import html
import math
from typing import Any

from asset_platform.app.pages.figures import model_page
from asset_platform.app.pages.model_html import format_value
from asset_platform.app.pages.tuning_data import Param, Trial, TuningStudy

_LOG_TICKS = 5


def parallel_coordinates(model: str, study: TuningStudy) -> dict[str, Any] | None:
    """params → objective for each complete trial that has every parameter; None when there is none."""
    trials = [t for t in study.complete if all(p.name in t.params for p in study.params)]
    if not trials:
        return None
    values = [float(t.value) for t in trials if t.value is not None]
    dimensions = [_dimension(param, [t.params[param.name] for t in trials]) for param in study.params]
    dimensions.append({"label": study.metric, "values": values, "range": _span(values)})
    line = {
        "color": values,
        "colorscale": "Viridis",
        # The better trials in yellow whichever way the metric points.
        "reversescale": study.direction == "minimize",
        "showscale": True,
        "colorbar": {"title": {"text": study.metric}},
    }
    title = f"{model}: {study.model_asset}, {len(trials)} complete trial(s), {study.metric} ({study.direction})"
    return {
        "data": [{"type": "parcoords", "dimensions": dimensions, "line": line}],
        "layout": {"title": {"text": title}, "height": 420, "margin": {"l": 80, "r": 60, "t": 90, "b": 40}},
    }


def importance_figure(model: str, study: TuningStudy) -> dict[str, Any] | None:
    """Each parameter's importance, largest on top; None when the study has none."""
    if not study.importances:
        return None
    ranked = sorted(study.importances.items(), key=lambda item: item[1], reverse=True)
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [value for _name, value in ranked],
        "y": [name for name, _value in ranked],
        "text": [f"{value:.3f}" for _name, value in ranked],
        "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
    }
    return {
        "data": [bar],
        "layout": {
            "title": {"text": f"{model}: {study.model_asset}, parameter importance (mean decrease in impurity)"},
            "height": 120 + 32 * len(ranked),
            "margin": {"l": 160, "r": 20, "t": 50, "b": 40},
            "xaxis": {"title": {"text": f"share of {study.metric}'s variance explained"}, "rangemode": "tozero"},
            "yaxis": {"type": "category", "autorange": "reversed"},
        },
    }


def trials_table(model: str, study: TuningStudy) -> str:
    """Every trial, best first then by number, with the model version(s) trained with its params."""
    best = study.best
    ranked = sorted(
        study.trials,
        key=lambda t: (t is not best, t.state != "COMPLETE", t.number),
    )
    names = [param.name for param in study.params]
    head = ("trial", "state", study.metric, *names, "model version trained with it")
    rows = []
    for trial in ranked:
        marker = " <strong>best</strong>" if trial is best else ""
        cells = [
            f"{trial.number}{marker}",
            html.escape(trial.state),
            format_value(trial.value),
            *(html.escape(format_value(trial.params.get(name))) for name in names),
            produced_cell(model, trial),
        ]
        row = "".join(f"<td>{cell}</td>" for cell in cells)
        rows.append(f'<tr data-trial="{trial.number}" data-state="{html.escape(trial.state)}">{row}</tr>')
    header = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    table = f'<table id="{html.escape(f"trials-{study.model_asset}")}" class="trials">'
    return f"{table}<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def produced_cell(model: str, trial: Trial) -> str:
    links = []
    for produced in trial.produced:
        version = html.escape(produced.version)
        link = f'<a href="{html.escape(model_page(model))}" title="{version}"><code>{version[:12]}</code></a> '
        link += html.escape(produced.asset.rsplit("/", 1)[-1])
        if produced.run_id:  # a runless report has none
            run = html.escape(produced.run_id)
            link += f', <a href="/runs/{run}">run {run[:8]}</a>'
        links.append(link)
    return "<br>".join(links) or ("none recorded" if trial.state == "COMPLETE" else "")


def study_counts(study: TuningStudy) -> str:
    """ "6 of 6 trials: 4 complete, 2 pruned" (HTML)."""
    states: dict[str, int] = {}
    for trial in study.trials:
        states[trial.state] = states.get(trial.state, 0) + 1
    listed = ", ".join(f"{count} {state.lower()}" for state, count in sorted(states.items()))
    budget = f" of a budget of {study.budget}" if study.budget is not None else ""
    return html.escape(f"{len(study.trials)} trial(s){budget}: {listed or 'none yet'}")


def _dimension(param: Param, values: list[Any]) -> dict[str, Any]:
    if param.choices is not None:
        labels = [str(choice) for choice in param.choices]
        codes = [labels.index(str(value)) if str(value) in labels else None for value in values]
        return {"label": param.name, "values": codes, "tickvals": list(range(len(labels))), "ticktext": labels}
    numbers = [float(value) for value in values]
    if param.log and all(value > 0 for value in numbers):
        logs = [math.log10(value) for value in numbers]
        low, high = min(logs), max(logs)
        ticks = [low + (high - low) * i / (_LOG_TICKS - 1) for i in range(_LOG_TICKS)] if high > low else [low]
        return {
            "label": f"{param.name} (log)",
            "values": logs,
            "range": _span(logs),
            "tickvals": ticks,
            "ticktext": [f"{10**tick:.3g}" for tick in ticks],
        }
    return {"label": param.name, "values": numbers, "range": _span(numbers)}


def _span(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [low, high] if high > low else [low - 0.5, high + 0.5]
