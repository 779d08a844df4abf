"""The policy file: roles per user, group and scope; every mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_platform.access.mutations import MUTATION_RULES, PERMISSION_ROLES, field_decision, permission_enabled
from asset_platform.access.policy import PolicyError, Role, load_policy, parse_policy

POLICY = """\
grants:
  - role: admin
    users: [alice]
  - role: launcher
    groups: [growth]
    scope: owner:team:growth
  - role: editor
    groups: [growth-leads]
    scope: owner:team:growth
  - role: viewer
    groups: [everyone]
  - role: editor
    users: [bob]
    scope: location:asset_platform
"""


def test_roles_combine_per_scope_taking_the_highest() -> None:
    policy = parse_policy(POLICY)
    alice = policy.roles_for("alice")
    assert alice.global_role is Role.ADMIN and alice.for_owner("team:ops") is Role.ADMIN
    carol = policy.roles_for("carol", ["growth", "growth-leads", "everyone"])
    assert carol.global_role is Role.VIEWER
    assert carol.for_owner("team:growth") is Role.EDITOR and carol.for_owner("team:ops") is Role.VIEWER
    assert carol.at_location("asset_platform") is Role.VIEWER and carol.highest is Role.EDITOR
    bob = policy.roles_for("bob")
    assert bob.global_role is None and bob.at_location("asset_platform") is Role.EDITOR
    assert bob.at_location("other") is None
    assert not policy.roles_for("mallory", ["strangers"]).any_access


def test_a_role_is_held_globally_at_the_location_or_for_an_owner() -> None:
    """The one rule the webserver's job and page checks and the CLI's promotion check share."""
    policy = parse_policy(POLICY)
    assert policy.roles_for("alice").holds(Role.ADMIN), "a global grant holds everywhere"
    bob = policy.roles_for("bob")
    assert bob.holds(Role.EDITOR, "asset_platform") and not bob.holds(Role.EDITOR, "other")
    assert not bob.holds(Role.VIEWER), "a location grant does not hold outside any location"
    dave = policy.roles_for("dave", ["growth"])
    assert dave.holds(Role.LAUNCHER, "other", ["team:ops", "team:growth"]), "one owner is enough"
    assert not dave.holds(Role.EDITOR, "asset_platform", ["team:growth"]), "a lower role does not hold"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("grants:\n  - role: superuser\n    users: [a]\n", 2, "unknown role 'superuser'"),
        ("grants:\n  - role: viewer\n    users: [a]\n    scope: team:growth\n", 4, "scope 'team:growth'"),
        ("grants:\n  - role: viewer\n    users: [a]\n  - role: viewer\n    usres: [b]\n", 5, "unknown key 'usres'"),
        ("grants:\n  - role: viewer\n    users: [a]\n  - role: editor\n", 4, "names nobody"),
        ("grants:\n  - users: [a]\n", 2, "needs `role:`"),
        ("grants:\n  - role: viewer\n    users: alice\n", 3, "must be a list"),
        ("grants:\n  - role: viewer\n    users: [a\n", 4, "not valid YAML"),
        ("grants: []\n", 1, "non-empty list"),
        ("roles:\n  - role: viewer\n", 1, "unknown key 'roles'"),
        ("grants:\n  - role: viewer\n    role: admin\n    users: [a]\n", 3, "given twice"),
    ],
)
def test_a_bad_policy_fails_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policy.yaml")
    assert f"policy.yaml:{line}:" in str(caught.value) and words in str(caught.value)


def test_a_missing_or_empty_policy_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(PolicyError, match="empty"):
        load_policy(tmp_path / "empty.yaml")


def test_unclassified_mutations_and_permissions_are_denied_to_everyone() -> None:
    assert field_decision("dropEverything", Role.ADMIN, Role.ADMIN) == (
        False,
        "mutation 'dropEverything' is not classified by the access policy: denied for everyone",
    )
    assert not permission_enabled("a_permission_from_the_future", Role.ADMIN)
    assert not field_decision("setAppManagedComponent", Role.ADMIN, Role.ADMIN)[0]


def test_the_roles_follow_the_dagster_plus_split() -> None:
    def lowest(field: str) -> Role | None:
        return MUTATION_RULES[field].role

    assert lowest("launchRun") is Role.LAUNCHER and lowest("terminateRun") is Role.LAUNCHER
    assert lowest("launchPartitionBackfill") is Role.LAUNCHER
    assert lowest("stopSensor") is Role.EDITOR and lowest("setSensorCursor") is Role.EDITOR
    assert lowest("wipeAssets") is Role.EDITOR and lowest("reloadWorkspace") is Role.EDITOR
    assert lowest("shutdownRepositoryLocation") is Role.ADMIN
    assert PERMISSION_ROLES["edit_app_managed_components"] is None


def test_a_scoped_grant_passes_the_gate_only_for_fields_dagster_checks_per_scope() -> None:
    # A team launcher (launcher for team:growth only) may try a launch: Dagster then checks the owners.
    assert field_decision("launchRun", None, Role.LAUNCHER)[0]
    # Deployment-wide fields need a global role, whatever the scoped grants.
    assert not field_decision("reloadWorkspace", None, Role.ADMIN)[0]
    assert not field_decision("setConcurrencyLimit", Role.LAUNCHER, Role.ADMIN)[0]


def test_a_cli_promotion_needs_the_editor_role_on_the_models_owners(tmp_path: Path) -> None:
    from asset_platform.access.policy import cli_refusal

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    env = {"ASSET_PLATFORM_POLICY": str(policy), "ASSET_PLATFORM_USER": "carol", "ASSET_PLATFORM_GROUPS": "growth"}
    refusal = cli_refusal(Role.EDITOR, ["team:growth"], "promote of churn", env)
    assert refusal is not None and "needs the editor role (owner:team:growth)" in refusal and "carol" in refusal
    leads = {**env, "ASSET_PLATFORM_GROUPS": "growth,growth-leads"}
    assert cli_refusal(Role.EDITOR, ["team:growth"], "promote of churn", leads) is None
    assert cli_refusal(Role.EDITOR, ["team:ops"], "promote of ops", leads) is not None
    assert cli_refusal(Role.EDITOR, ["team:ops"], "promote of ops", {**env, "ASSET_PLATFORM_USER": "alice"}) is None
    assert cli_refusal(Role.EDITOR, ["team:growth"], "promote", {}) is None  # no policy configured


def test_the_readme_policy_example_is_a_valid_policy() -> None:
    import re

    from tests import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"<!-- access:policy -->\n```yaml\n(.*?)```", text, re.DOTALL)
    assert found, "README.md has no policy example after <!-- access:policy -->"
    policy = parse_policy(found.group(1), "README.md")
    assert policy.roles_for("carol", ["growth"]).for_owner("team:growth") is Role.LAUNCHER
