"""`asset-platform serve --auth` for real: every mutation field x role x transport, scopes, identity, audit.

One webserver for the whole module (two tiny code locations, runs only queue).
The mutation fields come from the running server's schema (introspection), each
called with cheap invalid arguments: an allowed call gets past the permission
checks and fails harmlessly on its arguments; a denied one is refused with
PERMISSION_DENIED (our gate), 401/403 (no identity, no grant) or Dagster's own
UnauthorizedError (a location or owner it is not granted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ast_from_value,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    print_ast,
)
from graphql.pyutils import Undefined

from asset_platform.access.mutations import LAUNCHED_BY_TAG, MUTATION_RULES
from asset_platform.access.policy import Role
from tests.access.server import Server, access_server

ROLES = {"none": None, "viewer": Role.VIEWER, "launcher": Role.LAUNCHER, "editor": Role.EDITOR, "admin": Role.ADMIN}
TRANSPORTS = ["json", "get", "text", "inline_fragment", "named_fragment"]
JSON_TRANSPORTS = {"json", "inline_fragment", "named_fragment"}
DAGSTER_DENIAL = "Authorization failed"  # the message of Dagster's own UnauthorizedError


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with access_server(tmp_path_factory.mktemp("access")) as running_server:
        yield running_server


@pytest.fixture(scope="module")
def schema(server: Server) -> GraphQLSchema:
    return build_client_schema(server.data("viewer", get_introspection_query()))


def _value(graphql_type):
    """A cheap value of an input type that names nothing that exists."""
    if isinstance(graphql_type, GraphQLNonNull):
        return _value(graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return []
    if isinstance(graphql_type, GraphQLEnumType):
        return next(iter(graphql_type.values.values())).value
    if isinstance(graphql_type, GraphQLInputObjectType):
        return {
            name: _value(field.type)
            for name, field in graphql_type.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(graphql_type, GraphQLScalarType)
    return {"Int": 0, "Float": 0.0, "Boolean": False}.get(graphql_type.name, "does-not-exist")


def _call(schema: GraphQLSchema, field_name: str) -> str:
    """`field(required args) { __typename }` for one mutation field."""
    field = schema.mutation_type.fields[field_name]
    args = [
        f"{name}: {print_ast(ast_from_value(_value(arg.type), arg.type))}"
        for name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    ]
    call = field_name + (f"({', '.join(args)})" if args else "")
    output = get_named_type(field.type)
    if is_leaf_type(output):
        return call
    unauthorized = schema.get_type("UnauthorizedError")
    if output is unauthorized or (is_abstract_type(output) and schema.is_sub_type(output, unauthorized)):
        return call + " { __typename ... on UnauthorizedError { message } }"
    return call + " { __typename }"


def _document(call: str, transport: str) -> str:
    if transport == "inline_fragment":
        return f"mutation Probe {{ ... on Mutation {{ {call} }} }}"
    if transport == "named_fragment":
        return f"mutation Probe {{ ...Probe }} fragment Probe on Mutation {{ {call} }}"
    return f"mutation Probe {{ {call} }}"


def _outcome(status: int, body: dict, field_name: str) -> str:
    """'denied' (by any layer), or 'allowed' (past every permission check, whatever happened next)."""
    if status in (401, 403):
        return "denied"
    if status == 400:  # the document did not validate: the probe itself is wrong, nothing was decided
        return "invalid probe"
    for error in body.get("errors") or []:
        if (error.get("extensions") or {}).get("code") == "PERMISSION_DENIED":
            return "denied"
        assert "Permission" not in error.get("message", ""), f"{field_name}: a permission error: {error}"
    result = (body.get("data") or {}).get(field_name)
    # Dagster also answers UnauthorizedError for some things not found (a dynamic partitions definition),
    # after its permission check: only its default message is a permission decision.
    if isinstance(result, dict) and result.get("__typename") == "UnauthorizedError":
        return "denied" if result.get("message", DAGSTER_DENIAL) == DAGSTER_DENIAL else "allowed"
    return "allowed"


def _expected(field_name: str, role: Role | None, transport: str) -> str:
    rule = MUTATION_RULES.get(field_name)
    if role is None or transport not in JSON_TRANSPORTS or rule is None or rule.role is None:
        return "denied"
    return "allowed" if role >= rule.role else "denied"


def test_every_mutation_field_of_the_schema_is_classified(schema: GraphQLSchema) -> None:
    fields = set(schema.mutation_type.fields)
    unclassified = sorted(fields - set(MUTATION_RULES))
    assert not unclassified, (
        f"the installed Dagster has mutation fields the access policy does not classify: {unclassified}; "
        "they are denied to everyone until added to asset_platform/access/mutations.py MUTATION_RULES"
    )
    assert sorted(set(MUTATION_RULES) - fields) == [], "MUTATION_RULES names fields the schema no longer has"
    assert len(fields) >= 40


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("role_name", list(ROLES))
def test_mutation_matrix(server: Server, schema: GraphQLSchema, role_name: str, transport: str) -> None:
    user = "nobody" if role_name == "none" else role_name
    wrong = []
    for field_name in sorted(schema.mutation_type.fields):
        query = _document(_call(schema, field_name), "json" if transport in ("get", "text") else transport)
        response = server.request(user, query, "json" if transport in JSON_TRANSPORTS else transport)
        got = _outcome(response.status, response.body, field_name)
        expected = _expected(field_name, ROLES[role_name], transport)
        if got != expected:
            wrong.append(f"{field_name}: expected {expected}, got {got}: {json.dumps(response.body)[:300]}")
    assert not wrong, f"{role_name} over {transport}:\n" + "\n".join(wrong)


def _launch_asset(server: Server, user: str, location: str, asset: str, groups: tuple[str, ...] = ()) -> dict:
    query = """mutation Launch($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId tags { key value } } } ... on PythonError { message } } }"""
    selector = {
        "repositoryLocationName": location,
        "repositoryName": "__repository__",
        "pipelineName": "__ASSET_JOB",
        "assetSelection": [{"path": [asset]}],
    }
    params = {"selector": selector, "mode": "default", "executionMetadata": {"tags": []}}
    response = server.request(user, query, groups=groups, variables={"params": params})
    assert response.status == 200 and not response.body.get("errors"), response
    return response.body["data"]["launchPipelineExecution"]


def _launch_job(server: Server, user: str, location: str, job: str, groups: tuple[str, ...] = ()) -> dict:
    query = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } } }"""
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": job}
    variables = {"params": {"selector": selector, "mode": "default"}}
    response = server.request(user, query, groups=groups, variables=variables)
    assert response.status == 200 and not response.body.get("errors"), response
    return response.body["data"]["launchRun"]


def test_a_team_launcher_materializes_its_own_model_and_not_another_teams(server: Server) -> None:
    own = _launch_asset(server, "gina", "teams", "growth_model", groups=("growth",))
    assert own["__typename"] == "LaunchRunSuccess", own
    assert {"key": LAUNCHED_BY_TAG, "value": "gina"} in own["run"]["tags"]
    other = _launch_asset(server, "gina", "teams", "ops_model", groups=("growth",))
    assert other["__typename"] == "UnauthorizedError", other
    # The same through the teams' named jobs, which carry their model's owners.
    assert _launch_job(server, "gina", "teams", "growth_job", ("growth",))["__typename"] == "LaunchRunSuccess"
    assert _launch_job(server, "gina", "teams", "ops_job", ("growth",))["__typename"] == "UnauthorizedError"
    # Without the group, the same person has no role at all.
    assert server.request("gina", "{ version }").status == 403


def test_a_team_editor_turns_its_own_sensor_on_and_off_and_not_another_teams(server: Server) -> None:
    def selector(sensor: str) -> dict:
        return {"repositoryLocationName": "teams", "repositoryName": "__repository__", "sensorName": sensor}

    def start(sensor: str, user: str = "growth-editor") -> dict:
        query = """mutation Start($s: SensorSelector!) { startSensor(sensorSelector: $s) {
            __typename ... on Sensor { sensorState { id status } } } }"""
        return server.data(user, query, variables={"s": selector(sensor)})["startSensor"]

    started = start("growth_sensor")
    assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING", started
    stop = "mutation Stop($id: String!) { stopSensor(id: $id) { __typename } }"
    stopped = server.data("growth-editor", stop, variables={"id": started["sensorState"]["id"]})["stopSensor"]
    assert stopped["__typename"] == "StopSensorMutationResult", stopped
    assert start("ops_sensor")["__typename"] == "UnauthorizedError"
    ops_state = start("ops_sensor", user="admin")["sensorState"]["id"]
    refused = server.data("growth-editor", stop, variables={"id": ops_state})["stopSensor"]
    assert refused["__typename"] == "UnauthorizedError", refused
    # A team launcher is below editor: it may not touch its own team's sensor either.
    query = "mutation Start($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }"
    response = server.request("gina", query, groups=("growth",), variables={"s": selector("growth_sensor")})
    assert _outcome(response.status, response.body, "startSensor") == "denied", response


def test_a_location_grant_covers_that_location_only(server: Server) -> None:
    assert _launch_job(server, "other-launcher", "other", "other_job")["__typename"] == "LaunchRunSuccess"
    assert _launch_job(server, "other-launcher", "teams", "growth_job")["__typename"] == "UnauthorizedError"


def test_a_promotion_job_needs_the_editor_role_on_the_models_owners(server: Server) -> None:
    query = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename } }"""
    selector = {"repositoryLocationName": "teams", "repositoryName": "__repository__", "jobName": "growth_promote"}
    variables = {"params": {"selector": selector, "mode": "default"}}
    # A team launcher launches the team's ordinary jobs, not the one that changes its champion.
    refused = server.request("gina", query, groups=("growth",), variables=variables)
    assert _outcome(refused.status, refused.body, "launchRun") == "denied", refused
    granted = server.data("growth-editor", query, variables=variables)["launchRun"]
    assert granted["__typename"] == "LaunchRunSuccess", granted
    global_launcher = server.request("launcher", query, variables=variables)
    assert _outcome(global_launcher.status, global_launcher.body, "launchRun") == "denied", global_launcher


def test_a_refused_promotion_is_an_unauthorized_error_that_names_the_role_needed(server: Server) -> None:
    query = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on UnauthorizedError { message } } }"""
    selector = {"repositoryLocationName": "teams", "repositoryName": "__repository__", "jobName": "growth_promote"}
    refused = server.data("launcher", query, variables={"params": {"selector": selector, "mode": "default"}})
    # A typed result the UI shows, not a GraphQL error (an "Unexpected GraphQL error" toast hiding the reason).
    assert refused["launchRun"]["__typename"] == "UnauthorizedError", refused
    message = refused["launchRun"]["message"]
    assert "'growth_promote' needs the editor role" in message and "launcher does not hold" in message, message
    lines = [json.loads(line) for line in server.audit_path.read_text().splitlines()]
    audited = [line for line in lines if line["user"] == "launcher" and line["field"] == "launchRun"]
    assert audited[-1]["allowed"] is False and audited[-1]["result"] == "UnauthorizedError", audited[-1]


def _launch_permission(server: Server, user: str, job: str, assets: list[str] | None, groups=()) -> bool:
    query = """query P($s: PipelineSelector!) { pipelineOrError(params: $s) {
        __typename ... on Pipeline { hasLaunchExecutionPermission hasLaunchReexecutionPermission } } }"""
    selector = {"repositoryLocationName": "teams", "repositoryName": "__repository__", "pipelineName": job}
    if assets is not None:
        selector["assetSelection"] = [{"path": [asset]} for asset in assets]
    job_or_error = server.data(user, query, groups=groups, variables={"s": selector})["pipelineOrError"]
    assert job_or_error["__typename"] == "Pipeline", job_or_error
    assert job_or_error["hasLaunchExecutionPermission"] == job_or_error["hasLaunchReexecutionPermission"]
    return job_or_error["hasLaunchExecutionPermission"]


def test_the_launch_permission_the_ui_reads_matches_the_launch_for_a_job_subset_and_a_required_role(
    server: Server,
) -> None:
    # The launchpad asks for the job with its selected assets: Dagster answered from the subset's owners,
    # which it drops, so an owner-scoped editor never got the launchpad of its own model's promotion job.
    for assets in (None, ["growth_model"]):
        assert _launch_permission(server, "growth-editor", "growth_promote", assets), assets
        assert _launch_permission(server, "editor", "growth_promote", assets), assets
        # Below the job's required role: the UI greys the button out instead of a refusal after the click.
        assert not _launch_permission(server, "launcher", "growth_promote", assets), assets
        assert not _launch_permission(server, "gina", "growth_promote", assets, ("growth",)), assets
        # Not a team's owner: still nothing.
        assert not _launch_permission(server, "growth-editor", "ops_job", assets and ["ops_model"]), assets
    assert _launch_permission(server, "gina", "growth_job", ["growth_model"], ("growth",))


def test_a_team_scoped_user_may_dismiss_the_uis_dialogs(server: Server) -> None:
    # The "what's new" dialog and telemetry write nothing that matters; a refusal there greets every
    # team-scoped user with an error on their first page.
    assert server.request("gina", "mutation { setNuxSeen }", groups=("growth",)).status == 200
    assert server.request("other-launcher", "mutation { setNuxSeen }").status == 200


def test_the_ui_sees_the_roles_as_permissions(server: Server) -> None:
    query = "{ permissions { permission value } }"
    viewer = {p["permission"]: p["value"] for p in server.data("viewer", query)["permissions"]}
    launcher = {p["permission"]: p["value"] for p in server.data("launcher", query)["permissions"]}
    assert not any(viewer.values())
    assert launcher["launch_pipeline_execution"] and not launcher["edit_sensor"]
    # The UI greys out a launch button from the location's permissions: a growth launcher has none there
    # (its right is per owner), an other-launcher has it on `other` only.
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name permissions { permission value } } } } }"
    entries = server.data("other-launcher", query)["workspaceOrError"]["locationEntries"]
    launch = {e["name"]: {p["permission"]: p["value"] for p in e["permissions"]} for e in entries}
    assert launch["other"]["launch_pipeline_execution"] and not launch["teams"]["launch_pipeline_execution"]


def test_no_identity_is_401_and_a_spoofed_header_without_the_secret_too(server: Server) -> None:
    assert server.request(None, "{ version }").status == 401
    assert server.request("admin", "{ version }", secret=None).status == 401
    assert server.request("admin", "{ version }", secret="guess").status == 401
    assert server.request("stranger", "{ version }").status == 403


def test_every_attempt_is_in_the_audit_log_with_its_user(server: Server) -> None:
    server.request("viewer", "mutation Wipe { wipeAssets(assetPartitionRanges: []) { __typename } }")
    server.request("admin", "mutation { setNuxSeen }", transport="get")
    own = _launch_asset(server, "gina", "teams", "growth_model", groups=("growth",))
    _launch_asset(server, "gina", "teams", "ops_model", groups=("growth",))
    server.request(None, "mutation Anonymous { reloadWorkspace { __typename } }")
    lines = [json.loads(line) for line in Path(server.audit_path).read_text().splitlines()]
    keys = {"time", "user", "groups", "operation", "field", "variables_sha256", "allowed", "result", "run_id"}
    assert all(keys <= set(line) for line in lines)

    def find(**match) -> dict:
        found = [line for line in lines if all(line.get(k) == v for k, v in match.items())]
        assert found, f"no audit line with {match}"
        return found[-1]

    denial = server.request("viewer", "mutation Wipe { wipeAssets(assetPartitionRanges: []) { __typename } }")
    assert "errorInfo" not in denial.body["errors"][0]["extensions"], "a refusal leaks the server's stack"
    wipe = find(user="viewer", field="wipeAssets", operation="Wipe")
    assert wipe["allowed"] is False and wipe["result"] == "PERMISSION_DENIED"
    assert find(user="admin", field="setNuxSeen")["allowed"] is False
    launched = find(user="gina", field="launchPipelineExecution", run_id=own["run"]["runId"])
    assert launched["allowed"] is True and launched["groups"] == ["growth"]
    assert launched["result"] == "LaunchRunSuccess" and len(launched["variables_sha256"]) == 64
    refused = find(user="gina", field="launchPipelineExecution", result="UnauthorizedError")
    assert refused["allowed"] is False
    assert find(user=None, field="reloadWorkspace")["allowed"] is False


def test_the_websocket_carries_subscriptions_only_and_needs_an_identity(server: Server) -> None:
    import websocket

    from tests.access.server import SECRET

    url = f"ws://127.0.0.1:{server.port}/graphql"
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(url, subprotocols=["graphql-ws"], timeout=30)
    headers = [f"X-Asset-Platform-Proxy-Secret: {SECRET}", "X-Forwarded-User: admin"]
    connection = websocket.create_connection(url, subprotocols=["graphql-ws"], header=headers, timeout=30)
    try:
        connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(connection.recv())["type"] == "connection_ack"
        query = "mutation { setNuxSeen }"
        connection.send(json.dumps({"id": "1", "type": "start", "payload": {"query": query}}))
        answer = json.loads(connection.recv())
    finally:
        connection.close()
    assert answer["type"] == "error" and "refused over the websocket" in answer["payload"]["message"]


def test_the_rest_report_endpoints_follow_the_roles_and_are_audited(server: Server) -> None:
    import urllib.error
    import urllib.request

    from tests.access.server import SECRET

    def report(user: str, content_type: str = "application/json") -> int:
        headers = {"X-Asset-Platform-Proxy-Secret": SECRET, "X-Forwarded-User": user}
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/report_asset_materialization/growth_model",
            data=b"{}",
            headers={"Content-Type": content_type, **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert report("launcher") == 401  # Dagster's own answer: reporting a runless event needs editor
    assert report("editor") == 200
    assert report("admin", content_type="text/plain") == 403  # as a cross-site form would send it
    lines = [json.loads(line) for line in server.audit_path.read_text().splitlines()]
    reports = [line for line in lines if line["field"] == "report_asset_materialization/growth_model"]
    decisions = [(line["user"], line["allowed"]) for line in reports[-3:]]
    assert decisions == [("launcher", False), ("editor", True), ("admin", False)]
