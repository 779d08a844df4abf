"""`asset-platform serve --auth POLICY`: Dagster's webserver with users, roles and an audit log.

Enforcement happens in one place: every request's Dagster request context is
built from the caller's identity and the policy, so Dagster's own per-deployment,
per-location and per-owner permission checks (dagster_graphql/implementation/
utils.py) decide. In front of every mutation field a GraphQL middleware adds what
Dagster does not do: deny by default (a field the policy does not classify is
refused), mutations only over POST with a JSON body (a GET link or a text/plain
form can otherwise mutate), the audit line, and the `launched_by` tag on runs.

Internal Dagster classes used, pinned by tests/access/test_dagster_contract.py:
- WorkspaceRequestContext: the request context the GraphQL resolvers read permissions from; open-source
  Dagster has no public hook to give it per-user permissions, so we subclass it.
- DagsterWebserver: its `_make_request_context`, `build_graphql_middleware`, `build_middleware`,
  `handle_graphql_errors`, `_determine_status_code` and `execute_graphql_subscription` are the seams;
  there is no public way to wrap the app's context.
- Permissions, LOCATION_SCOPED_PERMISSIONS, PermissionResult: the permission names and result type the
  resolvers look up.
- WorkspaceProcessContext, WorkspaceFileTarget: what `dagster-webserver -w` builds at start.
- CompoundID: to find the sensor a stopSensor call names (see _grant_stop_sensor_by_owner).
- GrapheneUnauthorizedError: the typed refusal of a launch (a launch's result union has it), and
  GraphenePipeline.get_represented_job: the job whose launch permission the UI asks for (see JobPermissionFields).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster._core.workspace.context import WorkspaceRequestContext
from dagster._core.workspace.permissions import LOCATION_SCOPED_PERMISSIONS, PermissionResult, Permissions
from dagster_graphql.schema.errors import GrapheneUnauthorizedError
from dagster_webserver.webserver import DagsterWebserver
from graphql import GraphQLError, OperationType, parse
from graphql.language import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from asset_platform.access.audit import AUDIT_FILE, AuditLog, variables_sha256
from asset_platform.access.identity import Identity, ProxyHeaders, SingleUser, UsersFile
from asset_platform.access.mutations import (
    LAUNCH_FIELDS,
    LAUNCHED_BY_TAG,
    REQUIRED_ROLE_TAG,
    field_decision,
    permission_enabled,
)
from asset_platform.access.policy import ROLES, Policy, Role, Roles
from asset_platform.app.pages import PAGES_PREFIX
from asset_platform.app.pages.server import PagesWebserver

IDENTITY_KEY = "asset_platform.identity"
ROLES_KEY = "asset_platform.roles"
PERMISSION_DENIED = "PERMISSION_DENIED"
# Meta fields any GraphQL document may select on the root type; they read, never write.
_META_FIELDS = frozenset({"__typename", "__schema", "__type"})
_DAGSTER_DENIAL = "Authorization failed"  # GrapheneUnauthorizedError's default message
_REPORT_ROUTE = "/report_asset_"  # Dagster's REST routes for runless asset events
_PAGE_STATIC = f"{PAGES_PREFIX}/static/"  # the pages' plotly.js: the installed package's file, not audited


class PolicyRequestContext(WorkspaceRequestContext):
    """Dagster's request context with the permissions of one caller's roles."""

    def __init__(self, *args: Any, identity: Identity, roles: Roles, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.identity = identity
        self.roles = roles
        # Location roles lent for one resolver call because the target's owners grant them.
        self.owner_grants: dict[str, Role] = {}

    def _results(self, role: Role | None, names) -> dict[str, PermissionResult]:
        results = {}
        for permission in names:
            enabled = permission_enabled(str(permission), role)
            reason = None if enabled else f"{self.identity.user} lacks the role for {permission}"
            results[permission] = PermissionResult(enabled=enabled, disabled_reason=reason)
        return results

    @property
    def read_only(self) -> bool:
        return not permission_enabled(Permissions.LAUNCH_PIPELINE_EXECUTION.value, self.roles.global_role)

    @property
    def permissions(self) -> Mapping[str, PermissionResult]:
        return self._results(self.roles.global_role, Permissions)

    def permissions_for_location(self, *, location_name: str) -> Mapping[str, PermissionResult]:
        role = self.roles.at_location(location_name)
        if location_name in self.owner_grants:  # see MutationGate._grant_stop_sensor_by_owner
            role = max(r for r in (role, self.owner_grants[location_name]) if r is not None)
        return self._results(role, LOCATION_SCOPED_PERMISSIONS)

    def permissions_for_owner(self, *, owner: str) -> Mapping[str, PermissionResult]:
        return self._results(self.roles.for_owner(owner), LOCATION_SCOPED_PERMISSIONS)

    def viewer_has_any_owner_definition_permissions(self) -> bool:
        return bool(self.roles.owners)

    def get_viewer_tags(self) -> dict[str, str]:
        # Dagster adds these to backfill runs; single runs get the same tag from the mutation gate.
        return {LAUNCHED_BY_TAG: self.identity.user}


class MutationGate:
    """Graphene middleware in front of every root mutation field: transport, classification, audit, tag."""

    def __init__(self, audit: AuditLog):
        self.audit = audit

    def resolve(self, next_, root, info, **args):
        if info.operation.operation != OperationType.MUTATION or root is not None or info.field_name in _META_FIELDS:
            return next_(root, info, **args)
        context: PolicyRequestContext = info.context
        record = {
            "user": context.identity.user,
            "groups": list(context.identity.groups),
            "operation": info.operation.name.value if info.operation.name else None,
            "field": info.field_name,
            "variables_sha256": variables_sha256(info.variable_values),
        }
        allowed, reason = _transport_allows(context.source)
        if allowed:
            allowed, reason = field_decision(info.field_name, context.roles.global_role, context.roles.highest)
        if not allowed:
            self.audit.write(**record, allowed=False, reason=reason, result=PERMISSION_DENIED, run_id=None)
            raise GraphQLError(f"permission denied: {reason}", extensions={"code": PERMISSION_DENIED})
        if info.field_name in LAUNCH_FIELDS:
            refusal = _job_role_refusal(context, args)
            if refusal is not None:
                message = f"permission denied: {refusal}"
                if _returns_unauthorized_error(info):
                    # A typed refusal, as Dagster's own scope checks answer: the UI and API clients read it as
                    # a result, where a GraphQL error is an "Unexpected GraphQL error" toast hiding the reason.
                    self.audit.write(**record, allowed=False, reason=refusal, result="UnauthorizedError", run_id=None)
                    return GrapheneUnauthorizedError(message=message)
                self.audit.write(**record, allowed=False, reason=refusal, result=PERMISSION_DENIED, run_id=None)
                raise GraphQLError(message, extensions={"code": PERMISSION_DENIED})
            _tag_launch(args, context.identity.user)
        try:
            if info.field_name == "stopSensor":
                _grant_stop_sensor_by_owner(context, args)
            result = next_(root, info, **args)
        except Exception as error:
            self.audit.write(**record, allowed=True, reason=reason, result=type(error).__name__, run_id=None)
            raise
        finally:
            context.owner_grants.clear()
        if inspect.isawaitable(result):
            return self._audited(result, record, reason)
        self._write_result(record, reason, result)
        return result

    async def _audited(self, awaitable, record: dict, reason: str):
        try:
            result = await awaitable
        except Exception as error:
            self.audit.write(**record, allowed=True, reason=reason, result=type(error).__name__, run_id=None)
            raise
        self._write_result(record, reason, result)
        return result

    def _write_result(self, record: dict, reason: str, result: Any) -> None:
        meta = getattr(type(result), "_meta", None)
        result_type = getattr(meta, "name", None) or type(result).__name__
        # Dagster's own scope check (a location or owner) refuses with an UnauthorizedError and this message;
        # the same type with another message is a "not found" past the check.
        allowed = not (result_type == "UnauthorizedError" and getattr(result, "message", "") == _DAGSTER_DENIAL)
        self.audit.write(**record, allowed=allowed, reason=reason, result=result_type, run_id=_run_ids(result))


class JobPermissionFields:
    """Graphene middleware on a job's `hasLaunchExecutionPermission` / `hasLaunchReexecutionPermission`, which
    the UI reads to offer (or grey out) the Materialize button and the launchpad of a job.

    Two corrections, so the UI offers exactly what a launch will be allowed:
    - Dagster 1.13 answers for a job *subset* (the launchpad asks with the selected assets) from the
      subset's owners, which Dagster does not carry over from the job: an owner-scoped role never got the
      launchpad. The launch itself is checked against the full job's owners; so is this answer.
    - A job tagged `asset_platform/required_role` (the champion's `<model>_set_champion`: editor) is
      offered only to a caller holding that role, so a launcher sees Dagster's "You do not have permission"
      on a disabled button instead of a refusal after clicking.
    """

    _FIELDS = {
        "hasLaunchExecutionPermission": Permissions.LAUNCH_PIPELINE_EXECUTION.value,
        "hasLaunchReexecutionPermission": Permissions.LAUNCH_PIPELINE_REEXECUTION.value,
    }

    def resolve(self, next_, root, info, **args):
        permission = self._FIELDS.get(info.field_name)
        result = next_(root, info, **args)
        if permission is None or info.parent_type.name not in ("Pipeline", "Job") or not isinstance(result, bool):
            return result
        job = root.get_represented_job()
        handle = getattr(job, "handle", None)
        if handle is None:
            return result
        context: PolicyRequestContext = info.context
        location, repository = handle.location_name, handle.repository_name
        full, keys = _full_job(context, location, repository, job.name)
        if full is None:
            return result
        if not result and full.owners:
            result = context.has_permission_for_owners(permission, full.owners)
        if result:
            result = _required_role_refusal(context, location, job.name, full.tags, keys) is None
        return result


def _returns_unauthorized_error(info) -> bool:
    return_type = info.return_type
    while hasattr(return_type, "of_type"):
        return_type = return_type.of_type
    return any(member.name == "UnauthorizedError" for member in getattr(return_type, "types", ()))


def _transport_allows(source: object) -> tuple[bool, str]:
    # A mutation over GET fires from a link or an <img>; text/plain and form bodies are "simple" requests
    # a foreign page can send cross-site without a CORS preflight. Only a JSON POST can mutate.
    if isinstance(source, Request):
        content_type = source.headers.get("content-type", "").split(";")[0].strip().lower()
        if source.method == "POST" and content_type == "application/json":
            return True, ""
        return False, f"mutations need POST with Content-Type application/json (got {source.method} {content_type!r})"
    return False, "mutations are refused over this transport"


def _grant_stop_sensor_by_owner(context: PolicyRequestContext, args: dict) -> None:
    """Dagster 1.13's stopSensor checks the sensor's code location only, never its owners (startSensor does
    check them): without this a team's editor could turn its sensor on and not off. For this one call,
    lend the sensor's location the role its owners give the caller."""
    from dagster._core.remote_representation.handle import CompoundID

    state_id = args.get("id") or args.get("job_origin_id")
    if not state_id or not CompoundID.is_valid_string(state_id):
        return
    origin_id = CompoundID.from_string(state_id).remote_origin_id
    for location in context.code_locations:
        for repository in location.get_repositories().values():
            for sensor in repository.get_sensors():
                if sensor.get_remote_origin_id() == origin_id:
                    roles = [context.roles.for_owner(owner) for owner in sensor.owners or []]
                    held = [r for r in roles if r is not None]
                    if held:
                        context.owner_grants[sensor.selector.location_name] = max(held)
                    return


def _job_role_refusal(context: PolicyRequestContext, args: dict) -> str | None:
    """A job tagged `asset_platform/required_role` (the champion promotion and rollback job: editor) needs
    that role, held globally, on its code location, or for an owner of one of its assets."""
    targets = []  # (location, repository, job, run tags or None)
    for params in [*(args.get("executionParamsList") or []), args.get("executionParams")]:
        selector = (params or {}).get("selector") or {}
        job = selector.get("jobName") or selector.get("pipelineName")
        if job:
            targets.append((selector.get("repositoryLocationName"), selector.get("repositoryName"), job, None))
    parent_id = (args.get("reexecutionParams") or {}).get("parentRunId")
    parent = context.instance.get_run_by_id(parent_id) if parent_id else None
    if parent is not None and parent.remote_job_origin is not None:
        origin = parent.remote_job_origin
        targets.append((origin.location_name, origin.repository_origin.repository_name, parent.job_name, parent.tags))
    for location_name, repository_name, job_name, run_tags in targets:
        job, keys = _full_job(context, location_name, repository_name, job_name)
        tags = job.tags if job is not None else {}
        refusal = _required_role_refusal(context, location_name, job_name, tags if run_tags is None else run_tags, keys)
        if refusal is not None:
            return refusal
    return None


def _required_role_refusal(
    context: PolicyRequestContext, location_name: str | None, job_name: str, tags: Mapping[str, str], keys: list
) -> str | None:
    """Why the caller may not launch a job with these tags and assets (None: no role asked, or held)."""
    required = tags.get(REQUIRED_ROLE_TAG)
    if not required:
        return None
    needed = ROLES.get(required)
    if needed is None:
        return f"job {job_name!r} asks for an unknown role {required!r}: denied"
    owners = [owner for key in keys for owner in context.get_owners_for_selector(key)]
    if context.roles.holds(needed, location_name, owners):
        return None
    return (
        f"job {job_name!r} needs the {needed.label} role on its model's owners or its code location, "
        f"which {context.identity.user} does not hold: ask an admin for it"
    )


def _full_job(context, location_name, repository_name, job_name) -> tuple[Any, list]:
    """The job as its code location defines it (not a subset) and its asset keys; (None, []) if none."""
    if not location_name or not context.has_code_location(location_name):
        return None, []
    location = context.get_code_location(location_name)
    if not repository_name or not location.has_repository(repository_name):
        return None, []
    repository = location.get_repository(repository_name)
    if not repository.has_job(job_name):
        return None, []
    return repository.get_full_job(job_name), list(repository.get_asset_keys_in_job(job_name=job_name))


def _tag_launch(args: dict, user: str) -> None:
    """Add (or overwrite) the launched_by tag on every run the mutation launches."""
    params = list(args.get("executionParamsList") or [])
    if args.get("executionParams") is not None:
        params.append(args["executionParams"])
    for param in params:
        metadata = param.get("executionMetadata") or {}
        tags = [t for t in (metadata.get("tags") or []) if t["key"] != LAUNCHED_BY_TAG]
        metadata["tags"] = [*tags, {"key": LAUNCHED_BY_TAG, "value": user}]
        param["executionMetadata"] = metadata
    reexecution = args.get("reexecutionParams")
    if reexecution is not None:
        tags = [t for t in (reexecution.get("extraTags") or []) if t["key"] != LAUNCHED_BY_TAG]
        reexecution["extraTags"] = [*tags, {"key": LAUNCHED_BY_TAG, "value": user}]


def _run_ids(result: Any) -> str | list[str] | None:
    run = getattr(result, "run", None)
    if run is not None and getattr(run, "runId", None):
        return run.runId
    many = getattr(result, "launchMultipleRunsResult", None)
    if many:
        return [rid for item in many if isinstance(rid := _run_ids(item), str)] or None
    return None


def mutation_fields(query: str) -> list[str] | None:
    """The root fields of a document's mutations (through fragments); None if it has no mutation."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    fields: list[str] = []

    def collect(selection_set, seen: set[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    collect(fragment.selection_set, seen | {selection.name.value})

    mutations = [d for d in document.definitions if getattr(d, "operation", None) == OperationType.MUTATION]
    for operation in mutations:
        collect(operation.selection_set, set())
    return fields if mutations else None


class AccessMiddleware:
    """ASGI middleware: no identity, 401; an identity without any grant, 403; both audited for mutations."""

    def __init__(self, app, *, authenticator, policy: Policy, audit: AuditLog):
        self.app = app
        self.authenticator = authenticator
        self.policy = policy
        self.audit = audit

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        identity = self.authenticator.identify(headers)
        if isinstance(identity, Identity):
            roles = self.policy.roles_for(identity.user, identity.groups)
            if roles.any_access:
                scope[IDENTITY_KEY], scope[ROLES_KEY] = identity, roles
                if scope["type"] == "http" and _REPORT_ROUTE in scope["path"]:
                    return await self._audited_report(scope, receive, send, identity)
                if scope["type"] == "http" and _is_page(scope["path"]):
                    return await self._audited_page(scope, receive, send, identity)
                return await self.app(scope, receive, send)
            status, reason = 403, f"user {identity.user!r} has no role in the access policy; ask an admin for one"
            challenge = None
        else:
            status, reason, challenge = 401, identity.reason, identity.challenge
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status})
            return
        receive = await self._audit_refused(scope, receive, identity, reason)
        response_headers = {"WWW-Authenticate": challenge} if challenge else None
        body = {"error": "permission denied" if status == 403 else "unauthenticated", "reason": reason}
        await JSONResponse(body, status_code=status, headers=response_headers)(scope, receive, send)

    async def _audited_report(self, scope, receive, send, identity: Identity):
        """Dagster's REST endpoints for runless events (POST /report_asset_materialization/<key>, ...)
        write to the instance too: Dagster checks their permission through our context; we audit them."""
        route = scope["path"].split(_REPORT_ROUTE, 1)[1]

        def audit(code: int, reason: str) -> None:
            self.audit.write(
                user=identity.user,
                groups=list(identity.groups),
                operation=f"{scope['method']} /report_asset_{route.split('/', 1)[0]}",
                field=f"report_asset_{route}",
                variables_sha256=variables_sha256({"query": scope.get("query_string", b"").decode()}),
                allowed=code < 400,
                reason=reason,
                result=f"HTTP {code}",
                run_id=None,
            )

        async def send_audited(message):
            # Written before the answer leaves, so a caller that reads the log next finds the line.
            if message["type"] == "http.response.start":
                audit(message["status"], f"HTTP {message['status']}")
            await send(message)

        allowed, reason = _transport_allows(Request(scope))
        if allowed:
            return await self.app(scope, receive, send_audited)
        # The same rule as for GraphQL mutations: a foreign page cannot send a JSON POST cross-site.
        audit(403, reason)
        await JSONResponse({"error": "permission denied", "reason": reason}, status_code=403)(scope, receive, send)

    async def _audited_page(self, scope, receive, send, identity: Identity):
        """A page under /platform/ reads the instance: each request is audited with its answer, as reports are."""

        async def send_audited(message):
            if message["type"] == "http.response.start":
                code = message["status"]
                self._audit_page(scope, identity, code < 400, f"HTTP {code}", f"HTTP {code}")
            await send(message)

        return await self.app(scope, receive, send_audited)

    def _audit_page(self, scope, identity, allowed: bool, reason: str, result: str) -> None:
        user = identity.user if isinstance(identity, Identity) else None
        groups = list(identity.groups) if isinstance(identity, Identity) else []
        path = scope["path"]
        self.audit.write(
            user=user,
            groups=groups,
            operation=f"{scope['method']} {path}",
            field=path.lstrip("/"),
            variables_sha256=variables_sha256({"query": scope.get("query_string", b"").decode()}),
            allowed=allowed,
            reason=reason,
            result=result,
            run_id=None,
        )

    async def _audit_refused(self, scope, receive, identity, reason: str):
        if scope["type"] == "http" and _is_page(scope["path"]):
            self._audit_page(scope, identity, False, reason, PERMISSION_DENIED)
            return receive
        if not scope["path"].rstrip("/").endswith("/graphql"):
            return receive
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = Request(scope)
        query = request.query_params.get("query")
        variables: Any = request.query_params.get("variables")
        body = b"".join(chunks)
        if query is None and body:
            try:
                data = json.loads(body)
                query, variables = data.get("query"), data.get("variables")
            except (ValueError, AttributeError):
                query = body.decode(errors="replace")
        for field in mutation_fields(query or "") or []:
            user = identity.user if isinstance(identity, Identity) else None
            groups = list(identity.groups) if isinstance(identity, Identity) else []
            self.audit.write(
                user=user,
                groups=groups,
                operation=None,
                field=field,
                variables_sha256=variables_sha256(variables if isinstance(variables, dict) else {"raw": variables}),
                allowed=False,
                reason=reason,
                result=PERMISSION_DENIED,
                run_id=None,
            )

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        return replay


def _is_page(path: str) -> bool:
    return (path == PAGES_PREFIX or path.startswith(f"{PAGES_PREFIX}/")) and not path.startswith(_PAGE_STATIC)


class AuthWebserver(PagesWebserver):
    """DagsterWebserver (with the platform's pages) whose request context carries the caller's roles."""

    def __init__(self, process_context, *, policy: Policy, authenticator, audit: AuditLog, **kwargs: Any):
        self.policy = policy
        self.authenticator = authenticator
        self.audit = audit
        super().__init__(process_context, **kwargs)

    def _make_request_context(self, conn: HTTPConnection) -> PolicyRequestContext:
        process = self._process_context
        roles: Roles = conn.scope[ROLES_KEY]
        return PolicyRequestContext(
            instance=process.instance,
            current_workspace=process.get_current_workspace(),
            process_context=process,
            version=process.version,
            source=conn,
            read_only=not permission_enabled(Permissions.LAUNCH_PIPELINE_EXECUTION.value, roles.global_role),
            identity=conn.scope[IDENTITY_KEY],
            roles=roles,
        )

    def build_graphql_middleware(self) -> list:
        return [MutationGate(self.audit), JobPermissionFields()]

    def refusal(self, request: Request, keys: list) -> str | None:
        """A page about these assets needs the viewer role on their code location or on one of their owners."""
        context = self._make_request_context(request)
        roles, identity = context.roles, context.identity
        for key in keys:
            if not context.asset_graph.has(key):
                return f"{key.to_user_string()} is not in any loaded code location"
            location = context.asset_graph.get_repository_handle(key).location_name
            if not roles.holds(Role.VIEWER, location, context.get_owners_for_selector(key)):
                return (
                    f"{identity.user} holds no role on code location {location!r} or on the owners of "
                    f"{key.to_user_string()}: ask an admin for the viewer role there"
                )
        return None

    def _determine_status_code(self, resolver_errors, captured_errors) -> int:
        # Dagster answers 500 for any error raised in a resolver; a refusal is a 403.
        errors = resolver_errors or []
        denied = [e for e in errors if (e.extensions or {}).get("code") == PERMISSION_DENIED]
        if denied and len(denied) == len(errors) and not captured_errors:
            return 403
        return super()._determine_status_code(resolver_errors, captured_errors)

    def handle_graphql_errors(self, errors):
        # A refusal says why; the server's stack trace is nobody's business.
        results = super().handle_graphql_errors(errors)
        for result in results:
            extensions = result.get("extensions") or {}
            if extensions.get("code") == PERMISSION_DENIED:
                extensions.pop("errorInfo", None)
        return results

    def build_middleware(self) -> list[Middleware]:
        access = Middleware(AccessMiddleware, authenticator=self.authenticator, policy=self.policy, audit=self.audit)
        return [access, *super().build_middleware()]

    async def execute_graphql_subscription(self, websocket, operation_id, query, variables, operation_name):
        # Dagster runs websocket documents through `subscribe`, without the GraphQL middleware: only
        # subscriptions may come this way.
        if mutation_fields(query) is not None:
            return None, {"message": "permission denied: mutations are refused over the websocket"}
        return await super().execute_graphql_subscription(websocket, operation_id, query, variables, operation_name)


def make_authenticator(args: argparse.Namespace):
    if args.auth_mode == "proxy":
        return ProxyHeaders(args.proxy_secret_env)
    if args.auth_mode == "users":
        if not args.users_file:
            raise ValueError("--auth-mode users needs --users-file FILE (users with argon2 password hashes)")
        return UsersFile(args.users_file)
    if not args.single_user:
        raise ValueError("--auth-mode single-user needs --single-user NAME")
    return SingleUser(args.single_user)


def serve_with_auth(args: argparse.Namespace) -> int:
    from asset_platform.access.policy import load_policy
    from asset_platform.home import PlatformHome

    policy = load_policy(args.auth)
    authenticator = make_authenticator(args)
    authenticator.check_bind(args.host)
    home = PlatformHome.from_env()
    audit = AuditLog(args.audit_log or home.root / AUDIT_FILE, to_stdout=args.audit_stdout)

    def build(process) -> DagsterWebserver:
        return AuthWebserver(process, policy=policy, authenticator=authenticator, audit=audit)

    banner = f"with {authenticator.mode} identities, policy {args.auth}, audit log {audit.path}"
    return run_webserver(args, build, banner)


def run_webserver(args: argparse.Namespace, build, banner: str) -> int:
    """Serve `build(process context)` on --host/--port over the workspace and the platform home's instance."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_webserver.version import __version__

    from asset_platform.home import PlatformHome

    home = PlatformHome.from_env()
    if args.workspace:
        workspace = Path(args.workspace).resolve()
        if not workspace.is_file():
            raise FileNotFoundError(f"workspace file {workspace} not found; pass -w workspace.yaml")
    else:
        from asset_platform.app.location import project_target

        workspace = project_target().workspace_file(home.dagster_home)
    if not os.environ.get("DAGSTER_HOME"):
        # The instance of the platform home, as every other command resolves it.
        from asset_platform.app.serve import prepare_dagster_home

        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    with DagsterInstance.get() as instance:
        target = WorkspaceFileTarget(paths=[str(workspace)])
        with WorkspaceProcessContext(instance, version=__version__, workspace_load_target=target) as process:
            app = build(process).create_asgi_app()
            print(f"serving {workspace} on http://{args.host}:{args.port} {banner}", flush=True)
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
