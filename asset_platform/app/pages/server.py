"""Dagster's webserver with the pages mounted under /platform/: one port, one process, one access policy.

The pages are read-only: the mount answers GET (and HEAD) only, anything else 405,
before Dagster's catch-all route could answer it with the UI's index page.
`refusal` is the access hook: open here; `serve --auth` (app/auth_server.py)
overrides it with the caller's roles.

Dagster seams used, as app/auth_server.py uses them: DagsterWebserver.build_routes (the
mount goes first, ahead of the UI's catch-all) and its `_process_context` (the instance).
"""

from __future__ import annotations

import argparse
import html
import importlib.resources
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_webserver.webserver import DagsterWebserver
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router

from asset_platform.app.pages import PAGES_PREFIX
from asset_platform.app.pages.figures import (
    asset_link,
    drift_heatmap,
    fleet_table,
    metric_figure,
    model_page,
    render_page,
    verdict_strip,
)

_GET = ["GET", "HEAD"]


class PagesWebserver(DagsterWebserver):
    """DagsterWebserver whose routes start with the platform's pages."""

    _models: dict[str, tuple[Any, Any]] | None = None
    _models_lock = threading.Lock()

    def refusal(self, request: Request, keys: list[dg.AssetKey]) -> str | None:
        """Why the caller may not see pages about these assets (None: it may). Without --auth anyone may."""
        return None

    def build_routes(self):
        plotly_js = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
        pages = Router(
            routes=[
                Route("/", lambda _: RedirectResponse(f"{PAGES_PREFIX}/fleet"), methods=_GET),
                Route("/fleet", self.fleet_page, methods=_GET),
                Route("/models/{model}", self.model_page, methods=_GET),
                Route("/models/{model}/drift", self.drift_page, methods=_GET),
                # Cached a day by the browser: it is the file of the installed plotly, not the instance's data.
                Route("/static/plotly.min.js", lambda _: _static(Path(str(plotly_js))), methods=_GET),
            ]
        )
        return [Mount(PAGES_PREFIX, app=pages), *super().build_routes()]

    def declared_models(self) -> dict[str, tuple[Any, Any]]:
        """Every declared model with its lifecycle names, loaded once (the project's declarations)."""
        with self._models_lock:
            if self._models is None:
                from asset_platform.app.location import CodeLocation

                location = CodeLocation.load()
                self._models = {
                    name: (declaration, location.names(declaration))
                    for name, declaration in sorted(location.declarations.items())
                }
        return self._models

    def fleet_page(self, request: Request) -> Response:
        from asset_platform.app.pages.data import drift_batches, fleet_rows
        from asset_platform.lifecycle.overview import OVERVIEW_KEY

        instance = self._process_context.instance
        visible = [m for m in self.declared_models().values() if self.refusal(request, _model_keys(m[1])) is None]
        if not visible:
            return _denied("the viewer role on a model's owners or its code location is needed to see the fleet")
        rows = fleet_rows(instance, visible)
        strip = verdict_strip([(d.name, drift_batches(instance, names, last=12)) for d, names in visible])
        body = f"<p>{asset_link(OVERVIEW_KEY.path)}</p>{fleet_table(rows)}"
        return HTMLResponse(render_page("Fleet", body, {"verdicts": strip}))

    def _declared(self, request: Request) -> tuple[Any, Any] | Response:
        """The page's model (declaration, names), or the answer: 404 for a model not declared, 403 if refused."""
        model = request.path_params["model"]
        found = self.declared_models().get(model)
        if found is None:
            listed = ", ".join(self.declared_models()) or "none"
            return JSONResponse({"error": f"no declared model is named {model!r}; declared: {listed}"}, 404)
        refusal = self.refusal(request, _model_keys(found[1]))
        return found if refusal is None else _denied(refusal)

    def model_page(self, request: Request) -> Response:
        from asset_platform.app.pages.compare import BadQuery, UnknownVersion
        from asset_platform.app.pages.model_page import model_page_parts

        found = self._declared(request)
        if isinstance(found, Response):
            return found
        query = {name: request.query_params.getlist(name) for name in request.query_params}
        try:
            title, body, figures = model_page_parts(self._process_context.instance, *found, query)
        except BadQuery as error:
            return JSONResponse({"error": str(error), "parameter": error.parameter}, 400)
        except UnknownVersion as error:
            return JSONResponse({"error": str(error)}, 404)
        return HTMLResponse(render_page(title, body, figures))

    def drift_page(self, request: Request) -> Response:
        from asset_platform.app.pages.data import drift_batches
        from asset_platform.declaration.names import DRIFT

        found = self._declared(request)
        if isinstance(found, Response):
            return found
        declaration, names = found
        model = declaration.name
        batches = drift_batches(self._process_context.instance, names)
        figures = {"drift": drift_heatmap(model, batches)}
        metric = metric_figure(model, declaration.metric_name, batches)
        if metric is not None:
            figures["metric"] = metric
        versions = f'<a href="{html.escape(model_page(model))}">model versions</a>'
        body = f"<p>{asset_link(names.key(DRIFT).path)} · {versions} · {len(batches)} batch(es)</p>"
        if not batches:
            body += "<p>No batch was measured for drift yet.</p>"
        return HTMLResponse(render_page(f"{model}: drift", body, figures))


def _model_keys(names) -> list[dg.AssetKey]:
    from asset_platform.declaration.names import DRIFT

    return [names.key(DRIFT)]


def _denied(reason: str) -> Response:
    return JSONResponse({"error": "permission denied", "reason": reason}, status_code=403)


def _static(path: Path) -> Response:
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def serve_pages(args: argparse.Namespace) -> int:
    """`asset-platform serve` without --auth: the UI and the pages, for whoever reaches the port (as `dagster dev`)."""
    from asset_platform.app.auth_server import run_webserver

    return run_webserver(args, PagesWebserver, "without --auth: every caller may read and launch anything")
