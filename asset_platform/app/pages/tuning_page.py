"""The tuning page, `/platform/models/<model>/tuning`: the newest study of each tuned model asset as
parallel coordinates of its trials and a parameter-importance chart, each trial with the model version
trained with its params. A model that declares no tuning, or whose studies were not written yet, gets
a page that says so."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import dagster as dg

from asset_platform.app.pages.figures import asset_link, drift_page, figure_div, model_page
from asset_platform.app.pages.tuning_data import (
    last_materialization,
    open_read_only,
    produced_versions,
    read_studies,
    tuned_assets,
)
from asset_platform.app.pages.tuning_figures import (
    importance_figure,
    parallel_coordinates,
    study_counts,
    trials_table,
)
from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import LifecycleNames

NO_TUNING = "declares no tuning"
NO_STUDY = "no tuning study was written yet"


def tuning_page_parts(
    instance: dg.DagsterInstance,
    declaration: ModelDeclaration,
    names: LifecycleNames,
    storage_url: str | None,
    open_storage: Callable[[str], Any] = open_read_only,
) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """The page's title, body and figures; `storage_url` None: no study storage exists yet."""
    model = declaration.name
    title = f"{model}: tuning"
    pages = f'<a href="{html.escape(model_page(model))}">model versions</a> · '
    pages += f'<a href="{html.escape(drift_page(model))}">drift page</a>'
    tuned = tuned_assets(declaration)
    if not tuned:
        links = " · ".join(asset_link(key.path) for key in names.model_keys)
        body = f"<p>{links} · {pages}</p><p class='empty'>{html.escape(model)} {NO_TUNING}: none of its model "
        body += "families has a <code>tuning:</code> part (a search space), so each trains with its fixed params.</p>"
        return title, body, {}
    links = []
    for asset in tuned:
        key = names.tuning_key(asset)
        links.append(asset_link(key.path))
        last = last_materialization(instance, key)
        if last is not None:
            links.append(f'<a href="/runs/{html.escape(last.run_id)}">its last run {html.escape(last.run_id[:8])}</a>')
    body = f"<p>{' · '.join(links)} · {pages}</p>"
    studies = read_studies(open_storage(storage_url), model, produced_versions(instance, names)) if storage_url else []
    if not studies:
        which = ", ".join(names.tuning_key(asset).to_user_string() for asset in tuned)
        body += f"<p class='empty'>For {html.escape(model)}, {NO_STUDY}: materialize {html.escape(which)} (or the "
        body += "model assets, which depend on it) to run its trials.</p>"
        return title, body, {}
    body += "<p class='notes'>The newest study of each tuned model asset, read from the tuning storage. "
    body += f"<code>asset-platform tune dashboard --model {html.escape(model)}</code> serves optuna-dashboard "
    body += "(read-only) on the same studies.</p>"
    figures: dict[str, dict[str, Any]] = {}
    for study in studies:
        best = study.best
        body += f"<h2>{html.escape(study.model_asset)}</h2><p>study <code>{html.escape(study.name)}</code>: "
        body += study_counts(study)
        if best is not None:
            body += f"; best trial {best.number}, {html.escape(study.metric)} {best.value:.4g}"
        body += "</p>"
        for name, figure in (
            (f"parcoords_{study.model_asset}", parallel_coordinates(model, study)),
            (f"importance_{study.model_asset}", importance_figure(model, study)),
        ):
            if figure is not None:
                figures[name] = figure
                body += figure_div(name)
        if study.importance_note:
            body += f"<p class='notes'>No parameter importance: {html.escape(study.importance_note)}.</p>"
        body += trials_table(model, study)
    return title, body, figures
