"""The drift page, `/platform/models/<model>/drift`: features × batches, and for a clicked cell the feature's
reference and batch histograms; the label-free estimate (with its interval where recorded) beside the
realized metric, per batch.

The histograms come from the drift asset's stored value (`DriftResults.to_dict`: each feature's
`bin_labels`, `reference_shares`, `batch_shares`), the version each materialization names by its data
version, read from the DVC store; they are embedded in the page, so a click redraws without a request.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from asset_platform.app.pages.compare import BadQuery
from asset_platform.app.pages.figures import (
    DriftBatch,
    asset_link,
    drift_heatmap,
    figure_div,
    json_script,
    metric_figure,
    model_page,
    tuning_page,
)
from asset_platform.app.pages.model_html import format_value
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import DRIFT, LifecycleNames

LAST = "last"
DEFAULT_LAST, MAX_LAST = 30, 1000
HISTOGRAM = "histogram"
# What the store may answer for a version it cannot give back: unknown, damaged, not fetchable.
_UNREADABLE = (LookupError, OSError, ValueError, RuntimeError, TypeError)

# plotly_click on a heat-map cell draws that feature's histograms for that batch; the page opens on `initial`.
_SCRIPT = """
const histograms = JSON.parse(document.getElementById("histograms").textContent);
const note = document.getElementById("histogram-note");
function showHistogram(feature, batch) {
  const target = document.getElementById("histogram");
  const found = (histograms[batch] || {})[feature];
  target.dataset.shown = found ? feature + "|" + batch : "";
  if (!found) {
    Plotly.purge(target);
    note.textContent = "No stored histogram of " + feature + " for batch " + batch + ".";
    return;
  }
  note.textContent = "";
  const bars = (name, y, color) => ({type: "bar", name: name, x: found.labels, y: y, marker: {color: color}});
  const data = [bars("reference", found.reference, "#8c8c8c"), bars("batch " + batch, found.batch, "#d9534f")];
  Plotly.react(target, data, {
    title: {text: feature + ": reference vs batch " + batch + " (share of rows per bin; click a cell above)"},
    barmode: "group", height: 340, margin: {l: 70, r: 20, t: 50, b: 90},
    xaxis: {type: "category", title: {text: "bin"}}, yaxis: {title: {text: "share of rows"}}
  });
}
document.getElementById("drift").on("plotly_click", (event) => {
  const point = event.points[0];
  showHistogram(point.y, point.x);
});
const initial = JSON.parse(document.getElementById("histogram-initial").textContent);
if (initial) showHistogram(initial[0], initial[1]);
"""


def chosen_last(query: Mapping[str, Sequence[str]]) -> int:
    """How many of the newest batches `?last=N` asks for (default 30, at most 1000)."""
    unknown = sorted(set(query) - {LAST})
    if unknown:
        raise BadQuery(unknown[0], f"this page takes only {LAST}")
    values = query.get(LAST, [])
    if not values:
        return DEFAULT_LAST
    text = values[-1].strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LAST:
        raise BadQuery(LAST, f"{text!r} is not a number of batches from 1 to {MAX_LAST}")
    return int(text)


def stored_histograms(store: Any, names: LifecycleNames, batches: Sequence[DriftBatch]) -> dict[str, dict[str, Any]]:
    """batch → feature → {labels, reference, batch}: the binned shares its drift materialization stored.

    A batch whose stored results cannot be read (no data version, not in this store) is left out.
    """
    from asset_platform.drift.measure import DriftResults

    found: dict[str, dict[str, Any]] = {}
    for batch in batches:
        if not batch.data_version or store is None:
            continue
        try:
            value = store.get(names.path(DRIFT), batch.batch_key, batch.data_version, expected_format="json")
            results = DriftResults.from_dict(value)
        except _UNREADABLE:
            continue
        found[batch.batch_key] = {
            feature.name: {
                "labels": list(feature.bin_labels),
                "reference": [round(share, 5) for share in feature.reference_shares],
                "batch": [round(share, 5) for share in feature.batch_shares],
            }
            for feature in results.features
            if feature.bin_labels and feature.batch_shares
        }
    return found


def initial_cell(batches: Sequence[DriftBatch], histograms: Mapping[str, Any]) -> tuple[str, str] | None:
    """(feature, batch) shown before any click: the newest batch with histograms, its feature of largest PSI."""
    for batch in reversed(batches):
        stored = histograms.get(batch.batch_key)
        if stored:
            psi = {name: (batch.features.get(name, (None, ""))[0] or 0.0) for name in stored}
            return max(sorted(psi), key=lambda name: psi[name]), batch.batch_key
    return None


def estimate_table(metric: str, batches: Sequence[DriftBatch]) -> str:
    """Per batch, newest first: verdict, the label-free estimate and its interval, the realized metric, run."""
    head = ("batch", "verdict", f"estimated {metric}", "95% interval", f"realized {metric}", "run")
    rows = []
    for batch in reversed(batches):
        interval = batch.estimate_interval
        run = html.escape(batch.run_id)
        cells = [
            html.escape(batch.batch_key),
            html.escape(batch.verdict),
            format_value(batch.estimated_metric),
            f"{interval[0]:.4g} to {interval[1]:.4g}" if interval else "not recorded",
            format_value(batch.realized_metric),
            f'<a href="/runs/{run}">{run[:8]}</a>' if run else "",
        ]
        rows.append(f'<tr data-batch="{html.escape(batch.batch_key)}">{"".join(f"<td>{c}</td>" for c in cells)}</tr>')
    header = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    return f'<table id="estimates"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def drift_page_parts(
    instance: dg.DagsterInstance,
    declaration: ModelDeclaration,
    names: LifecycleNames,
    query: Mapping[str, Sequence[str]],
    store: Any,
) -> tuple[str, str, dict[str, dict[str, Any]], str]:
    """The page's title, body, figures and script; raises compare.BadQuery (400). `store`: the DVC store
    holding the drift asset's values (None: no histograms)."""
    from asset_platform.app.pages.data import drift_batches

    model = declaration.name
    batches = drift_batches(instance, names, last=chosen_last(query))
    figures = {"drift": drift_heatmap(model, batches)}
    metric = metric_figure(model, declaration.metric_name, batches)
    if metric is not None:
        figures["metric"] = metric
    links = [asset_link(names.key(DRIFT).path)]
    if batches and batches[-1].run_id:
        run = html.escape(batches[-1].run_id)
        links.append(f'<a href="/runs/{run}">the newest batch\'s run {run[:8]}</a>')
    links.append(f'<a href="{html.escape(model_page(model))}">model versions</a>')
    links.append(f'<a href="{html.escape(tuning_page(model))}">tuning</a>')
    body = f"<p>{' · '.join(links)} · the last {len(batches)} batch(es) (<code>?{LAST}=N</code> for more)</p>"
    if not batches:
        return f"{model}: drift", body + "<p>No batch was measured for drift yet.</p>", figures, ""
    histograms = stored_histograms(store, names, batches)
    body += figure_div("drift") + figure_div(HISTOGRAM) + '<p id="histogram-note" class="notes"></p>'
    body += json_script("histograms", histograms) + json_script("histogram-initial", initial_cell(batches, histograms))
    if metric is not None:
        body += figure_div("metric")
    body += f"<h2>Label-free estimate and realized {html.escape(declaration.metric_name)} per batch</h2>"
    if not any(batch.estimate_interval for batch in batches):
        body += "<p class='notes'>No interval of the label-free estimate is recorded: these batches were measured "
        body += f"with the point estimate only (<code>estimated_{html.escape(declaration.metric_name)}</code>).</p>"
    body += estimate_table(declaration.metric_name, batches)
    return f"{model}: drift", body, figures, _SCRIPT
