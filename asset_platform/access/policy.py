"""The access policy: who holds which role, where; read from a YAML file that names the line of any mistake.

    grants:
      - role: admin
        users: [alice@example.com]
      - role: launcher
        groups: [growth]
        scope: owner:team:growth        # the declarations' owners
      - role: editor
        users: [bob@example.com]
        scope: location:asset_platform  # a code location

Roles are ordered, each including the ones below it: viewer < launcher < editor
< admin (the split Dagster+ uses). A grant without `scope` is global. A caller
with no grant at all has no access (deny by default).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class PolicyError(ValueError):
    """The policy file is malformed; the message names the file, the line and what to write instead."""


class AccessDenied(ValueError):
    """The caller's roles do not allow what it asked; the message names the role and scope needed."""


class Role(enum.IntEnum):
    VIEWER = 1
    LAUNCHER = 2
    EDITOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()


ROLES = {role.label: role for role in Role}
SCOPE_KINDS = ("global", "location", "owner")
_GRANT_KEYS = {"role", "users", "groups", "scope"}


@dataclass(frozen=True)
class Grant:
    role: Role
    users: frozenset[str]
    groups: frozenset[str]
    # ("global", ""), ("location", "<code location>") or ("owner", "team:growth")
    scope: tuple[str, str] = ("global", "")
    line: int = 0

    def applies_to(self, user: str, groups: Iterable[str]) -> bool:
        return user in self.users or bool(self.groups.intersection(groups))


@dataclass(frozen=True)
class Roles:
    """The roles one caller holds: globally, per code location and per asset owner."""

    global_role: Role | None = None
    locations: Mapping[str, Role] = field(default_factory=dict)
    owners: Mapping[str, Role] = field(default_factory=dict)

    @property
    def any_access(self) -> bool:
        return self.highest is not None

    @property
    def highest(self) -> Role | None:
        """The highest role held in any scope (None: no grant at all)."""
        held = [r for r in (self.global_role, *self.locations.values(), *self.owners.values()) if r is not None]
        return max(held) if held else None

    def at_location(self, location: str) -> Role | None:
        return _max(self.global_role, self.locations.get(location))

    def for_owner(self, owner: str) -> Role | None:
        return _max(self.global_role, self.owners.get(owner))

    def holds(self, needed: Role, location: str | None = None, owners: Iterable[str] = ()) -> bool:
        """The access rule, in one place: `needed` or a higher role held globally, at `location` or for an owner."""
        held = [self.global_role, self.locations.get(location) if location else None]
        held += [self.owners.get(owner) for owner in owners]
        return any(role is not None and role >= needed for role in held)


def _max(*roles: Role | None) -> Role | None:
    held = [r for r in roles if r is not None]
    return max(held) if held else None


@dataclass(frozen=True)
class Policy:
    grants: tuple[Grant, ...]
    source: str = "<policy>"

    def roles_for(self, user: str, groups: Iterable[str] = ()) -> Roles:
        groups = list(groups)
        global_role: Role | None = None
        locations: dict[str, Role] = {}
        owners: dict[str, Role] = {}
        for grant in self.grants:
            if not grant.applies_to(user, groups):
                continue
            kind, name = grant.scope
            if kind == "global":
                global_role = _max(global_role, grant.role)
            elif kind == "location":
                locations[name] = _max(locations.get(name), grant.role)  # type: ignore[assignment]
            else:
                owners[name] = _max(owners.get(name), grant.role)  # type: ignore[assignment]
        return Roles(global_role, locations, owners)


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file; a mistake raises PolicyError naming `path:line`."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file {path} not found: write one (see README, 'Access control') or fix the path")
    return parse_policy(path.read_text(), str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    # yaml.compose keeps each node's position (its start_mark), which yaml.safe_load throws away.
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise PolicyError(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if root is None:
        raise PolicyError(f"{source}: the policy is empty; it needs a `grants:` list")
    top = _mapping(root, source, "the policy")
    unknown = set(top) - {"grants"}
    if unknown:
        key = sorted(unknown)[0]
        raise PolicyError(f"{_at(source, top[key][0])}: unknown key {key!r}; a policy has only `grants:`")
    if "grants" not in top:
        raise PolicyError(f"{_at(source, root)}: the policy has no `grants:` list")
    grants_node = top["grants"][1]
    if not isinstance(grants_node, yaml.SequenceNode) or not grants_node.value:
        raise PolicyError(f"{_at(source, grants_node)}: `grants:` must be a non-empty list of grants")
    return Policy(tuple(_grant(node, source) for node in grants_node.value), source)


def _grant(node: yaml.Node, source: str) -> Grant:
    items = _mapping(node, source, "a grant")
    for key, (key_node, _value) in items.items():
        if key not in _GRANT_KEYS:
            raise PolicyError(
                f"{_at(source, key_node)}: unknown key {key!r} in a grant; use {', '.join(sorted(_GRANT_KEYS))}"
            )
    if "role" not in items:
        raise PolicyError(f"{_at(source, node)}: a grant needs `role:` ({', '.join(ROLES)})")
    role_node = items["role"][1]
    role = ROLES.get(_scalar(role_node, source, "role").lower())
    if role is None:
        raise PolicyError(f"{_at(source, role_node)}: unknown role {role_node.value!r}; choose from {', '.join(ROLES)}")
    users = _names(items.get("users"), source, "users")
    groups = _names(items.get("groups"), source, "groups")
    if not users and not groups:
        raise PolicyError(f"{_at(source, node)}: a grant names nobody; give it `users:` or `groups:`")
    scope = ("global", "")
    if "scope" in items:
        scope_node = items["scope"][1]
        scope = _scope(_scalar(scope_node, source, "scope"), _at(source, scope_node))
    return Grant(role, users, groups, scope, node.start_mark.line + 1)


def _scope(text: str, where: str) -> tuple[str, str]:
    if text == "global":
        return ("global", "")
    kind, _, name = text.partition(":")
    if kind not in ("location", "owner") or not name:
        raise PolicyError(
            f"{where}: scope {text!r} is not one of `global`, `location:<code location>`, `owner:<owner>` "
            "(for example owner:team:growth)"
        )
    return (kind, name)


def _names(entry: tuple[yaml.Node, yaml.Node] | None, source: str, what: str) -> frozenset[str]:
    if entry is None:
        return frozenset()
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        raise PolicyError(f"{_at(source, node)}: `{what}:` must be a list, like [alice@example.com]")
    return frozenset(_scalar(item, source, what) for item in node.value)


def _mapping(node: yaml.Node, source: str, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise PolicyError(f"{_at(source, node)}: {what} must be a mapping of `key: value`")
    items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, source, "key")
        if key in items:
            raise PolicyError(f"{_at(source, key_node)}: {key!r} is given twice")
        items[key] = (key_node, value_node)
    return items


def _scalar(node: yaml.Node, source: str, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise PolicyError(f"{_at(source, node)}: {what} must be a non-empty text value")
    return str(node.value).strip()


def _at(source: str, node: yaml.Node) -> str:
    return f"{source}:{node.start_mark.line + 1}"


POLICY_ENV = "ASSET_PLATFORM_POLICY"
USER_ENV = "ASSET_PLATFORM_USER"
GROUPS_ENV = "ASSET_PLATFORM_GROUPS"


def cli_refusal(needed: Role, owners: Iterable[str], what: str, environ: Mapping[str, str]) -> str | None:
    """For a CLI command that changes a model: why the caller may not (None: allowed, or no policy set).

    With ASSET_PLATFORM_POLICY set, the caller is ASSET_PLATFORM_USER (default: the login name) in the
    groups of ASSET_PLATFORM_GROUPS (comma-separated), and needs `needed` globally or for one of `owners`.
    This guards against mistakes, not against someone with write access to the platform home.
    """
    import getpass

    path = environ.get(POLICY_ENV)
    if not path:
        return None
    user = environ.get(USER_ENV) or getpass.getuser()
    groups = [g.strip() for g in environ.get(GROUPS_ENV, "").split(",") if g.strip()]
    roles = load_policy(path).roles_for(user, groups)
    if roles.holds(needed, owners=owners):
        return None
    scope = ", ".join(f"owner:{o}" for o in owners) or "global"
    return f"{what} needs the {needed.label} role ({scope}) in {path}; {user} does not hold it: ask an admin"
