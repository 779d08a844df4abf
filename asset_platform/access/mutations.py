"""The minimum role of every Dagster permission and every GraphQL mutation field; anything else is denied.

Dagster 1.13's GraphQL resolvers check named permissions (the values of its
`Permissions` enum) against the request context. We give each a minimum role,
following the Dagster+ split: a launcher launches, re-executes, terminates and
backfills; an editor also turns schedules and sensors on and off, moves cursors,
wipes, reports runless events, edits dynamic partitions and concurrency, and
reloads code; an admin also shuts code servers down (and edits this policy).

Deny by default: a permission or mutation field missing here is refused for
every role, so a Dagster upgrade that adds one stays closed until someone
classifies it (tests/access/test_classification.py fails until then).
"""

from __future__ import annotations

from dataclasses import dataclass

from asset_platform.access.policy import Role

# The string values of dagster._core.workspace.permissions.Permissions, each with its minimum role.
# None: nobody (app-managed components are a Dagster+ feature that open source keeps off).
PERMISSION_ROLES: dict[str, Role | None] = {
    "launch_pipeline_execution": Role.LAUNCHER,
    "launch_pipeline_reexecution": Role.LAUNCHER,
    "terminate_pipeline_execution": Role.LAUNCHER,
    "launch_partition_backfill": Role.LAUNCHER,
    "cancel_partition_backfill": Role.LAUNCHER,
    "start_schedule": Role.EDITOR,
    "stop_running_schedule": Role.EDITOR,
    "schedule_dry_run": Role.EDITOR,
    "edit_sensor": Role.EDITOR,
    "sensor_dry_run": Role.EDITOR,
    "update_sensor_cursor": Role.EDITOR,
    "delete_pipeline_run": Role.EDITOR,
    "reload_repository_location": Role.EDITOR,
    "reload_workspace": Role.EDITOR,
    "wipe_assets": Role.EDITOR,
    "report_runless_asset_events": Role.EDITOR,
    "edit_dynamic_partitions": Role.EDITOR,
    "toggle_auto_materialize": Role.EDITOR,
    "edit_concurrency_limit": Role.EDITOR,
    "refresh_component_state": Role.EDITOR,
    "edit_app_managed_components": None,
}

# Permissions Dagster checks per code location and per asset owner (its LOCATION_SCOPED_PERMISSIONS);
# the others are deployment-wide, so only a global grant gives them.
_DEPLOYMENT_WIDE = {"reload_workspace", "toggle_auto_materialize", "edit_concurrency_limit"}
SCOPED_PERMISSIONS = frozenset(PERMISSION_ROLES) - _DEPLOYMENT_WIDE


@dataclass(frozen=True)
class MutationRule:
    """What a mutation field needs: its Dagster permission (None: the resolver checks none) and minimum role."""

    permission: str | None
    role: Role | None  # None: nobody

    @property
    def scoped(self) -> bool:
        """True when Dagster itself checks the permission per code location / owner for this field."""
        return self.permission in SCOPED_PERMISSIONS


def _by_permission(permission: str, role: Role | None = None) -> MutationRule:
    return MutationRule(permission, role if role is not None else PERMISSION_ROLES[permission])


# Every field of Dagster 1.13's `Mutation` type (dagster_graphql/schema/roots/mutation.py).
MUTATION_RULES: dict[str, MutationRule] = {
    "launchPipelineExecution": _by_permission("launch_pipeline_execution"),
    "launchRun": _by_permission("launch_pipeline_execution"),
    "launchMultipleRuns": _by_permission("launch_pipeline_execution"),
    "launchPipelineReexecution": _by_permission("launch_pipeline_reexecution"),
    "launchRunReexecution": _by_permission("launch_pipeline_reexecution"),
    "terminatePipelineExecution": _by_permission("terminate_pipeline_execution"),
    "terminateRun": _by_permission("terminate_pipeline_execution"),
    "terminateRuns": _by_permission("terminate_pipeline_execution"),
    "launchPartitionBackfill": _by_permission("launch_partition_backfill"),
    "resumePartitionBackfill": _by_permission("launch_partition_backfill"),
    "reexecutePartitionBackfill": _by_permission("launch_partition_backfill"),
    "cancelPartitionBackfill": _by_permission("cancel_partition_backfill"),
    "startSchedule": _by_permission("start_schedule"),
    "stopRunningSchedule": _by_permission("stop_running_schedule"),
    "resetSchedule": _by_permission("start_schedule"),
    "scheduleDryRun": _by_permission("schedule_dry_run"),
    "startSensor": _by_permission("edit_sensor"),
    "stopSensor": _by_permission("edit_sensor"),
    "resetSensor": _by_permission("edit_sensor"),
    "setSensorCursor": _by_permission("update_sensor_cursor"),
    "sensorDryRun": _by_permission("sensor_dry_run"),
    "deletePipelineRun": _by_permission("delete_pipeline_run"),
    "deleteRun": _by_permission("delete_pipeline_run"),
    "reloadRepositoryLocation": _by_permission("reload_repository_location"),
    # Stopping a code server interrupts everyone's work on that location: admins only.
    "shutdownRepositoryLocation": _by_permission("reload_repository_location", Role.ADMIN),
    "reloadWorkspace": _by_permission("reload_workspace"),
    "wipeAssets": _by_permission("wipe_assets"),
    "reportRunlessAssetEvents": _by_permission("report_runless_asset_events"),
    "reportAssetCheckEvaluations": _by_permission("report_runless_asset_events"),
    "addDynamicPartition": _by_permission("edit_dynamic_partitions"),
    "deleteDynamicPartitions": _by_permission("edit_dynamic_partitions"),
    "setAutoMaterializePaused": _by_permission("toggle_auto_materialize"),
    "setConcurrencyLimit": _by_permission("edit_concurrency_limit"),
    "deleteConcurrencyLimit": _by_permission("edit_concurrency_limit"),
    "freeConcurrencySlots": _by_permission("edit_concurrency_limit"),
    "freeConcurrencySlotsForRun": _by_permission("edit_concurrency_limit"),
    "setAppManagedComponent": _by_permission("edit_app_managed_components"),
    "deleteAppManagedComponent": _by_permission("edit_app_managed_components"),
    "refreshComponentState": _by_permission("refresh_component_state"),
    # The UI's own bookkeeping (the "what's new" dialog, opt-in telemetry): harmless, any viewer.
    "logTelemetry": MutationRule(None, Role.VIEWER),
    "setNuxSeen": MutationRule(None, Role.VIEWER),
}

# Mutation fields that start runs: the webserver tags those runs with who launched them.
LAUNCH_FIELDS = frozenset(
    {"launchPipelineExecution", "launchRun", "launchMultipleRuns", "launchPipelineReexecution", "launchRunReexecution"}
)
LAUNCHED_BY_TAG = "asset_platform/launched_by"
# A job tag naming the role a launch of that job needs on the model's owners (or location, or globally),
# above the launcher's: the champion promotion / rollback job asks for editor.
REQUIRED_ROLE_TAG = "asset_platform/required_role"


def permission_enabled(permission: str, role: Role | None) -> bool:
    """Whether `role` holds Dagster `permission`; unknown permissions are denied."""
    needed = PERMISSION_ROLES.get(permission)
    return role is not None and needed is not None and role >= needed


def field_decision(field: str, roles_global: Role | None, roles_highest: Role | None) -> tuple[bool, str]:
    """The gate in front of a mutation field: (allowed, reason).

    Fields Dagster scopes per location/owner pass this gate with the role held in ANY
    scope; Dagster's own check then compares it with the target's location and owners.
    Every other field needs the role globally.
    """
    rule = MUTATION_RULES.get(field)
    if rule is None:
        return False, f"mutation {field!r} is not classified by the access policy: denied for everyone"
    if rule.role is None:
        return False, f"mutation {field!r} is disabled for every role"
    # The UI's own bookkeeping (no Dagster permission: the "what's new" dialog, telemetry) is anyone's with a
    # grant in any scope: a team-scoped user otherwise meets a refusal the moment the first page opens.
    held = roles_highest if rule.scoped or rule.permission is None else roles_global
    if held is not None and held >= rule.role:
        return True, f"{held.label} >= {rule.role.label}"
    scope = "in some scope" if rule.scoped else "globally"
    return False, f"mutation {field!r} needs the {rule.role.label} role {scope}"
