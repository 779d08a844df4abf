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
from asset_platform.app.pages.figures import asset_link, fleet_table, render_page, verdict_strip

_GET = ["GET", "HEAD"]


class PagesWebserver(DagsterWebserver):
    """DagsterWebserver whose routes start with the platform's pages."""

    _models: dict[str, tuple[Any, Any]] | None = None
    _location: Any = None
    _models_lock = threading.Lock()
    _storages: dict[str, Any] | None = None

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
                Route("/models/{model}/tuning", self.tuning_page, methods=_GET),
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
                self._location = location
                self._models = {
                    name: (declaration, location.names(declaration))
                    for name, declaration in sorted(location.declarations.items())
                }
        return self._models

    def model_resources(self, model: str) -> dict[str, Any]:
        """The resources the model's code location binds (its DVC workspace, its tuning store)."""
        self.declared_models()
        return self._location.model_resources.get(model, self._location.resources)

    def asset_store(self, model: str) -> Any:
        """The DVC store the model's code location writes, read-only (nothing pushed); None if it has none yet."""
        from asset_platform.app.location import resolved
        from asset_platform.storage.store import AssetStore

        io_manager = self.model_resources(model).get("io_manager")
        workspace = getattr(io_manager, "workspace", None)
        if workspace is None:
            return None
        path = Path(resolved(workspace))
        return AssetStore(path, push=False) if (path / ".dvc").is_dir() else None

    def study_storage(self, url: str) -> Any:
        """One read-only Optuna storage per URL, kept: opening one checks its schema (tens of ms)."""
        from asset_platform.app.pages.tuning_data import open_read_only

        with self._models_lock:
            if self._storages is None:
                self._storages = {}
            if url not in self._storages:
                self._storages[url] = open_read_only(url)
            return self._storages[url]

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
        from asset_platform.app.pages.compare import BadQuery
        from asset_platform.app.pages.drift_page import drift_page_parts

        found = self._declared(request)
        if isinstance(found, Response):
            return found
        declaration, names = found
        query = {name: request.query_params.getlist(name) for name in request.query_params}
        try:
            title, body, figures, script = drift_page_parts(
                self._process_context.instance, declaration, names, query, self.asset_store(declaration.name)
            )
        except BadQuery as error:
            return JSONResponse({"error": str(error), "parameter": error.parameter}, 400)
        return HTMLResponse(render_page(title, body, figures, script))

    def tuning_page(self, request: Request) -> Response:
        from asset_platform.app.pages.tuning_data import study_storage_url
        from asset_platform.app.pages.tuning_page import tuning_page_parts

        found = self._declared(request)
        if isinstance(found, Response):
            return found
        declaration, names = found
        instance = self._process_context.instance
        store = self.model_resources(declaration.name).get("tuning_store")
        url = study_storage_url(store, instance) if store is not None else None
        title, body, figures = tuning_page_parts(instance, declaration, names, url, self.study_storage)
        return HTMLResponse(render_page(title, body, figures))


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
