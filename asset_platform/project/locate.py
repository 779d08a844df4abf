"""Find a team's project the way Dagster does, and load its declared models for the command line.

`asset-platform` works inside any Dagster project, not only this repository:
the project is named by `-m/--module` (with `-d/--working-directory`), by
`-w/--workspace`, or found from the current folder upwards: the first folder
whose `pyproject.toml` has `[tool.dagster] module_name` or a `[tool.dg]`
project (its `code_location_target_module`, else `<root_module>.definitions`),
or that holds a `workspace.yaml`. A workspace may list several code locations;
the commands see the models of all of them (a model name must be unique across
them, or `--location` picks one).
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import dagster as dg

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.project.broken import BrokenDeclaration


class ProjectNotFoundError(LookupError):
    """No Dagster project where the command was asked to look: the message says what was searched."""


@dataclass(frozen=True)
class LocationTarget:
    """One code location: a module (or file) imported from a working directory."""

    name: str
    working_directory: Path
    module: str | None = None
    python_file: Path | None = None
    attribute: str | None = None


@dataclass(frozen=True)
class ProjectTarget:
    """Where a project's code locations are, and how Dagster's own commands are pointed at them."""

    root: Path
    locations: tuple[LocationTarget, ...]
    source: str
    workspace: Path | None = None

    @property
    def location_names(self) -> tuple[str, ...]:
        return tuple(location.name for location in self.locations)

    def workspace_file(self, folder: Path) -> Path:
        """A workspace file that points Dagster's commands (`dagster dev`, the webserver, the daemon) at
        this project under its location names: the project's own when it has one, else written to `folder`."""
        if self.workspace is not None:
            return self.workspace
        entries = []
        for location in self.locations:
            spec: dict[str, Any] = {
                "location_name": location.name,
                "working_directory": str(location.working_directory),
            }
            if location.module:
                entry = {"python_module": {"module_name": location.module, **spec}}
            else:
                entry = {"python_file": {"relative_path": str(location.python_file), **spec}}
            if location.attribute:
                next(iter(entry.values()))["attribute"] = location.attribute
            entries.append(entry)
        path = Path(folder) / "workspace.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Written by asset-platform for {self.source}\n" + yaml.safe_dump({"load_from": entries}))
        return path

    def select(self, location: str | None) -> ProjectTarget:
        """Only the code location named `location` (None: all of them)."""
        if location is None:
            return self
        chosen = tuple(loc for loc in self.locations if loc.name == location)
        if not chosen:
            names = ", ".join(loc.name for loc in self.locations)
            raise ProjectNotFoundError(f"no code location is named {location!r} in {self.source} (locations: {names})")
        # Dagster's commands get the module itself: a workspace file would bring the others back.
        return ProjectTarget(self.root, chosen, f"{self.source}, location {location!r}")


@dataclass
class LoadedProject:
    """A project's declared models with the resources its code location binds for them."""

    target: ProjectTarget
    declarations: dict[str, ModelDeclaration] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    definitions: dict[str, dg.Definitions] = field(default_factory=dict)
    # Each model's own code location's resources (several locations may bind different stores).
    model_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Declarations that did not load (the others did): each names its file and line.
    broken: list[BrokenDeclaration] = field(default_factory=list)


def find_project(
    start: Path | None = None,
    *,
    module: str | None = None,
    workspace: Path | None = None,
    working_directory: Path | None = None,
) -> ProjectTarget:
    """The project named by `module` or `workspace`, else the first one found from `start` (cwd) upwards."""
    if module:
        root = (working_directory or Path.cwd()).resolve()
        return ProjectTarget(root, (LocationTarget(module, root, module=module),), f"--module {module}")
    if workspace:
        return _workspace_target(Path(workspace).resolve())
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        target = _pyproject_target(folder / "pyproject.toml")
        if target is not None:
            return target
        if (folder / "workspace.yaml").is_file():
            return _workspace_target(folder / "workspace.yaml")
    raise ProjectNotFoundError(
        f"no Dagster project in {start} or above it: run the command inside your project (a pyproject.toml with "
        "[tool.dg] or [tool.dagster], or a workspace.yaml), or name it with -m/--module MODULE or -w/--workspace FILE"
    )


def _pyproject_target(path: Path) -> ProjectTarget | None:
    if not path.is_file():
        return None
    try:
        tool = tomllib.loads(path.read_text()).get("tool", {})
    except tomllib.TOMLDecodeError as error:
        raise ProjectNotFoundError(f"{path} is not valid TOML: {error}") from None
    root = path.parent
    dagster = tool.get("dagster", {})
    if dagster.get("module_name"):
        modules = dagster["module_name"]
        modules = [modules] if isinstance(modules, str) else list(modules)
        name = dagster.get("code_location_name")
        working = root / dagster.get("working_directory", ".")
        return ProjectTarget(
            root,
            tuple(LocationTarget(name or m, working, module=m) for m in modules),
            f"{path} [tool.dagster]",
        )
    dg_tool = tool.get("dg", {})
    project = dg_tool.get("project")
    if dg_tool.get("directory_type") == "project" and project and project.get("root_module"):
        module = project.get("code_location_target_module") or f"{project['root_module']}.definitions"
        working = root / "src" if (root / "src" / project["root_module"].split(".")[0]).is_dir() else root
        name = project.get("code_location_name") or root.name  # as dg names it (the project folder)
        return ProjectTarget(root, (LocationTarget(name, working, module=module),), f"{path} [tool.dg]")
    return None


def _workspace_target(path: Path) -> ProjectTarget:
    if not path.is_file():
        raise ProjectNotFoundError(f"no workspace file at {path}")
    try:
        entries = (yaml.safe_load(path.read_text()) or {}).get("load_from") or []
    except (yaml.YAMLError, AttributeError) as error:
        raise ProjectNotFoundError(f"{path} is not a Dagster workspace file: {error}") from None
    locations = []
    for entry in entries:
        kind, spec = next(iter(entry.items())) if isinstance(entry, dict) and entry else (None, None)
        spec = {"module_name": spec} if isinstance(spec, str) else spec
        if kind not in ("python_module", "python_file", "python_package") or not isinstance(spec, dict):
            continue  # gRPC servers and the like: not code this process can load
        working = (path.parent / spec.get("working_directory", ".")).resolve()
        module = spec.get("module_name") or spec.get("package_name")
        file = (path.parent / spec["relative_path"]).resolve() if spec.get("relative_path") else None
        name = spec.get("location_name") or module or (file.stem if file else "location")
        locations.append(
            LocationTarget(name, working, module=module, python_file=file, attribute=spec.get("attribute"))
        )
    if not locations:
        raise ProjectNotFoundError(f"{path} lists no python_module or python_file code location")
    return ProjectTarget(path.parent, tuple(locations), str(path), workspace=path)


def load_project(target: ProjectTarget) -> LoadedProject:
    """Import each code location of `target` and collect its declared models and resources."""
    from asset_platform.declaration import DeclarationError
    from asset_platform.lifecycle.build import declarations_built_since, declarations_built_so_far
    from asset_platform.project.broken import broken_since, broken_so_far
    from asset_platform.project.locating import located

    loaded = LoadedProject(target)
    owner: dict[str, str] = {}
    broken_mark = broken_so_far()
    for location in target.locations:
        mark = declarations_built_so_far()
        try:
            definitions = load_location(location)
        except Exception as error:
            # A declaration that fails the whole module (a Python one, or YAML loaded by Dagster's
            # component tree): a user error at its file and line, not a traceback through the import.
            declaration_error = located(error, location.working_directory)
            if declaration_error is None:
                raise
            raise declaration_error from None
        keys = {key.to_user_string() for key in definitions.resolve_all_asset_keys()}
        for declaration in declarations_built_since(mark):
            if f"{declaration.name}/champion" not in keys:
                continue  # built while loading, but not part of this location's definitions
            if owner.get(declaration.name, location.name) != location.name:
                raise DeclarationError(
                    declaration.name,
                    "name",
                    f"declared in code locations {owner[declaration.name]!r} and {location.name!r}; "
                    "pick one with --location NAME",
                )
            owner[declaration.name] = location.name
            loaded.declarations[declaration.name] = declaration
            loaded.model_resources[declaration.name] = dict(definitions.resources or {})
        loaded.definitions[location.name] = definitions
        loaded.resources = loaded.resources or dict(definitions.resources or {})
    loaded.broken = broken_since(broken_mark)
    return loaded


def load_location(location: LocationTarget) -> dg.Definitions:
    """The Definitions of one code location, imported afresh (the environment may have changed since)."""
    import dagster as dg

    # On sys.path for good: modules imported from it may import more of it lazily.
    if str(location.working_directory) not in sys.path:
        sys.path.insert(0, str(location.working_directory))
    module = _import_file(location.python_file) if location.python_file else _import_fresh(location.module)
    candidates = [getattr(module, location.attribute)] if location.attribute else list(vars(module).values())
    for value in candidates:
        if isinstance(value, dg.Definitions):
            return value
    for value in candidates:
        if type(value).__name__ == "LazyDefinitions" and callable(value):  # @dg.definitions
            return value()
    raise ProjectNotFoundError(f"code location {location.name!r}: module {module.__name__} defines no Definitions")


def _import_fresh(name: str):
    # A module imported earlier in this process was built for the environment of that time.
    stale = [m for m in sys.modules if m == name or m.startswith(f"{name}.")]
    for module_name in stale:
        del sys.modules[module_name]
    importlib.invalidate_caches()
    return importlib.import_module(name)


def _import_file(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ProjectNotFoundError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
