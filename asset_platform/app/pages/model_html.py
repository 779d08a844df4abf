"""The model page's HTML: the versions table (a GET form that picks the versions to compare) and the diff
table of the compared versions, differing rows highlighted. Pure functions."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from asset_platform.app.pages.compare import VERSIONS, differs
from asset_platform.app.pages.figures import model_page
from asset_platform.app.pages.model_figures import label, when
from asset_platform.app.pages.versions import Evaluated, GateDecision, TrainedVersion

MISSING = "—"


def versions_table(
    model: str,
    metric: str,
    versions: Sequence[TrainedVersion],
    decisions: Sequence[GateDecision],
    chosen: Sequence[TrainedVersion],
) -> str:
    """Every version, newest first, with its gate decisions; the checked ones are compared on submit."""
    champion = decisions[-1].champion if decisions else ""
    decided: dict[str, list[str]] = {}
    for decision in decisions:
        decided.setdefault(decision.version, []).append(decision.decision)
    head = ("compare", "version", "model asset", "flavor", "trained (UTC)", "run", metric, "gate decisions")
    rows = []
    for version in reversed(versions):
        checked = " checked" if version in chosen else ""
        role = " <strong>champion</strong>" if version.version == champion else ""
        cells = [
            f'<input type="checkbox" name="{VERSIONS}" value="{html.escape(version.version)}"{checked}>',
            f"<code>{html.escape(version.version[:12])}</code>{role}",
            html.escape(version.asset),
            html.escape(version.flavor),
            when(version.trained_at),
            f'<a href="/runs/{html.escape(version.run_id)}">{html.escape(version.run_id[:8])}</a>',
            format_value(version.metrics.get(metric)),
            html.escape(", ".join(decided.get(version.version, []))),
        ]
        attributes = f'data-version="{html.escape(version.version)}"'
        rows.append(f"<tr {attributes}>{''.join(f'<td>{cell}</td>' for cell in cells)}</tr>")
    header = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    return (
        f'<form method="get" action="{html.escape(model_page(model))}">'
        f'<table id="versions"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p><button type="submit">Compare the checked versions</button></p></form>'
    )


def diff_table(versions: Sequence[TrainedVersion], rows: Sequence[tuple[str, str, list[Any]]]) -> str:
    """Sections × names, one column per version; a row whose values differ has class "differs"."""
    header = "".join(f"<th>{html.escape(label(v))}</th>" for v in versions)
    body = []
    for section, name, values in rows:
        marked = ' class="differs"' if differs(values) else ""
        cells = "".join(f'<td title="{html.escape(_full(v))}">{html.escape(format_value(v))}</td>' for v in values)
        body.append(
            f'<tr{marked} data-name="{html.escape(f"{section}/{name}")}">'
            f"<td>{html.escape(section)}</td><th>{html.escape(name)}</th>{cells}</tr>"
        )
    return f'<table id="diff"><thead><tr><th></th><th></th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def confusion_images(versions: Sequence[TrainedVersion], evaluated: Mapping[str, Evaluated]) -> str:
    """Each compared multiclass version's confusion matrix as the evaluation's heatmap (rows: actual class,
    columns: predicted; colour: the actual class's share, numbers: counts), from the evaluation that scored it."""
    from asset_platform.reports.multiclass import confusion_heatmap_uri

    figures = []
    for version in versions:
        found = evaluated.get(version.version)
        if found is None or not found.matrix:
            continue
        title = f"{label(version)}: confusion matrix"
        uri = confusion_heatmap_uri(found.matrix["classes"], found.matrix["counts"], title)
        run = html.escape(found.run_id)
        figures.append(
            f'<figure class="confusion" data-version="{html.escape(version.version)}">'
            f'<img src="{uri}" alt="{html.escape(title)}">'
            f"<figcaption>{html.escape(title)}: {sum(map(sum, found.matrix['counts']))} holdout rows of "
            f'evaluation run <a href="/runs/{run}">{run[:8]}</a>; rows: actual, columns: predicted</figcaption>'
            "</figure>"
        )
    if not figures:
        return ""
    return f'<h3>Confusion matrices</h3><div id="confusion">{"".join(figures)}</div>'


def format_value(value: Any) -> str:
    """Floats to 4 significant digits; a value the version lacks as a dash."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _full(value: Any) -> str:
    return "" if value is None else json.dumps(value) if isinstance(value, list | dict) else str(value)
