"""The model page, `/platform/models/<model>`: every version over time with the gate's decisions, and a
comparison of the versions the query names (default: the champion and the latest challenger)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from asset_platform.app.pages.compare import chosen_versions, diff_rows
from asset_platform.app.pages.figures import asset_link, drift_page, figure_div, tuning_page
from asset_platform.app.pages.model_figures import curve_figures, evaluation_figures, label, segment_figure, timeline
from asset_platform.app.pages.model_html import confusion_images, diff_table, versions_table
from asset_platform.app.pages.versions import (
    Evaluated,
    TrainedVersion,
    evaluations,
    gate_decisions,
    model_versions,
)
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import EVALUATION, LifecycleNames


def model_page_parts(
    instance: dg.DagsterInstance,
    declaration: ModelDeclaration,
    names: LifecycleNames,
    query: Mapping[str, Sequence[str]],
) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """The page's title, body and figures; raises compare.BadQuery (400) or compare.UnknownVersion (404)."""
    model, metric = declaration.name, f"holdout_{declaration.gate_metric}"
    versions, decisions = model_versions(instance, names), gate_decisions(instance, names)
    chosen = chosen_versions(model, query, versions, decisions)
    links = [asset_link(names.champion.path), asset_link(names.key(EVALUATION).path)]
    links += [asset_link(key.path) for key in names.model_keys]
    if decisions:
        run = html.escape(decisions[-1].run_id)
        links.append(f'<a href="/runs/{run}">the last gate decision\'s run {run[:8]}</a>')
    links.append(f'<a href="{html.escape(drift_page(model))}">drift page</a>')
    links.append(f'<a href="{html.escape(tuning_page(model))}">tuning page</a>')
    body = f"<p>{' · '.join(links)}</p>"
    body += f"<p>{len(versions)} version(s) of {len(names.model_keys)} model asset(s), {len(decisions)} gate "
    body += "decision(s), read from the Dagster event log.</p>"
    figures = {"timeline": timeline(model, metric, versions, decisions)}
    body += figure_div("timeline") + versions_table(model, metric, versions, decisions, chosen)
    if not chosen:
        return f"{model}: versions", body + "<p>No version of this model was trained yet.</p>", figures
    evaluated = evaluations(instance, names, chosen)
    body += f"<h2>Comparing {html.escape(', '.join(label(v) for v in chosen))}</h2>"
    curves = curve_figures(model, chosen) | evaluation_figures(model, declaration.task, chosen, evaluated)
    segments = segment_figure(model, declaration.metric_name, chosen, evaluated)
    figures |= curves | ({"segments": segments} if segments else {})
    body += "".join(figure_div(name) for name in (*curves, *(["segments"] if segments else [])))
    body += "<p class='notes'>Highlighted rows differ between the versions; hover a cell for its full value. "
    body += "Each version's metrics are on the holdout of the run that trained it.</p>"
    if declaration.task == "multiclass":
        body += confusion_images(chosen, evaluated)
    body += diff_table(chosen, diff_rows(chosen, decisions, evaluated))
    notes = comparison_notes(chosen, evaluated, names.key(EVALUATION).to_user_string(), declaration.task)
    body += "<h3>Not shown, and why</h3><ul class='notes'>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>"
    return f"{model}: versions", body, figures


def comparison_notes(
    versions: Sequence[TrainedVersion], evaluated: Mapping[str, Evaluated], evaluation: str, task: str
) -> list[str]:
    """What the comparison could not draw from the recorded metadata, each with the reason (HTML)."""
    curves = "predicted vs actual and residuals" if task == "regression" else "ROC and calibration curves"
    notes = []
    for version in versions:
        name = html.escape(label(version))
        # A multiclass evaluation records confusion matrices, not curves: no curve is missing there.
        if task != "multiclass" and version.version in evaluated and not evaluated[version.version].curves:
            notes.append(
                f"{name}: its evaluation in {html.escape(evaluation)} predates recorded curve values, so its "
                f"{curves} are only in that run's images."
            )
        if not version.curve:
            notes.append(f"{name}: no learning curve recorded (the {html.escape(version.flavor)} family records none).")
        elif not any(series.startswith("train ") for series in version.curve):
            notes.append(f"{name}: validation curve only (its family records no training curve).")
        found = evaluated.get(version.version)
        if found is None:
            notes.append(f"{name}: no evaluation of this version in the event log (no segments, no confusion).")
        elif task == "multiclass" and not found.matrix:
            notes.append(f"{name}: its evaluation recorded no confusion counts, so no confusion matrix is drawn.")
        else:
            run = html.escape(found.run_id)
            notes.append(f'{name}: evaluated in run <a href="/runs/{run}">{run[:8]}</a>.')
    return notes
