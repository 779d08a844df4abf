"""The internal Dagster classes app/auth_server.py relies on: a Dagster upgrade that changes them fails here.

Open-source Dagster has no public way to give a request per-user permissions, so
the access layer subclasses WorkspaceRequestContext and DagsterWebserver. If one
of these tests fails after an upgrade, re-read the named Dagster source, adapt
app/auth_server.py and asset_platform/access/mutations.py, then update the pin.
"""

from __future__ import annotations

import inspect

import dagster as dg
from dagster._core.remote_representation.handle import CompoundID
from dagster._core.workspace.context import BaseWorkspaceRequestContext, WorkspaceRequestContext
from dagster._core.workspace.permissions import LOCATION_SCOPED_PERMISSIONS, PermissionResult, Permissions
from dagster_graphql.implementation import utils as graphql_utils
from dagster_webserver.graphql import GraphQLServer
from dagster_webserver.webserver import DagsterWebserver

from asset_platform.access.mutations import PERMISSION_ROLES, SCOPED_PERMISSIONS
from asset_platform.app.auth_server import PolicyRequestContext

PINNED_DAGSTER = "1.13."


def test_the_pinned_dagster_version() -> None:
    assert dg.__version__.startswith(PINNED_DAGSTER), (
        f"Dagster {dg.__version__}: re-check the internals pinned in tests/access/test_dagster_contract.py"
    )


def test_every_dagster_permission_has_a_role_and_the_same_scoping() -> None:
    assert {p.value for p in Permissions} == set(PERMISSION_ROLES), "classify new permissions in mutations.py"
    assert {p.value for p in LOCATION_SCOPED_PERMISSIONS} == set(SCOPED_PERMISSIONS)
    assert PermissionResult._fields == ("enabled", "disabled_reason")


def test_the_request_context_constructor_and_permission_hooks() -> None:
    params = list(inspect.signature(WorkspaceRequestContext.__init__).parameters)
    assert params == [
        "self",
        "instance",
        "current_workspace",
        "process_context",
        "version",
        "source",
        "read_only",
        "read_only_locations",
    ]
    for hook in (
        "permissions",
        "permissions_for_location",
        "permissions_for_owner",
        "viewer_has_any_owner_definition_permissions",
        "get_viewer_tags",
        "has_permission_for_selector",
        "code_locations",
    ):
        assert hasattr(BaseWorkspaceRequestContext, hook), hook
        assert hasattr(PolicyRequestContext, hook), hook
    # Dagster reads these through the context; our overrides are the only source of a caller's rights.
    for name in ("permissions", "read_only"):
        assert isinstance(inspect.getattr_static(PolicyRequestContext, name), property)


def test_the_webserver_seams() -> None:
    for name in ("_make_request_context", "build_graphql_middleware", "build_middleware"):
        assert name in DagsterWebserver.__dict__, name
    assert list(inspect.signature(GraphQLServer.handle_graphql_errors).parameters) == ["self", "errors"]
    status_params = list(inspect.signature(GraphQLServer._determine_status_code).parameters)
    assert status_params == ["self", "resolver_errors", "captured_errors"]
    params = list(inspect.signature(GraphQLServer.execute_graphql_subscription).parameters)
    assert params == ["self", "websocket", "operation_id", "query", "variables", "operation_name"]
    # The HTTP path builds the context from the request (our transport check reads it as `source`).
    assert "self.request_context(request)" in inspect.getsource(GraphQLServer.graphql_execution_thread)
    assert "middleware=self._graphql_middleware" in inspect.getsource(GraphQLServer.gen_graphql_response)


def test_the_permission_checks_read_the_context_as_we_feed_it() -> None:
    source = inspect.getsource(graphql_utils.has_permission_for_asset_graph)
    assert "viewer_has_any_owner_definition_permissions" in source and "has_permission_for_location" in source
    assert callable(CompoundID.from_string) and callable(CompoundID.is_valid_string)


def test_the_job_permission_fields_and_the_typed_refusal() -> None:
    from dagster_graphql.schema.errors import GrapheneUnauthorizedError
    from dagster_graphql.schema.pipelines.pipeline import GraphenePipeline

    # JobPermissionFields reads the job behind a Pipeline and re-answers its launch permission fields.
    assert "get_represented_job" in GraphenePipeline.__dict__
    assert {"hasLaunchExecutionPermission", "hasLaunchReexecutionPermission"} <= set(GraphenePipeline._meta.fields)
    assert GrapheneUnauthorizedError(message="why").message == "why"
    # The subset's owners are what Dagster answers from: if it starts keeping them, the correction is moot.
    source = inspect.getsource(graphql_utils.has_permission_for_definition)
    assert "remote_definition.owners" in source
