"""Access control for the platform's UI and GraphQL API: roles, policy, identity, audit log.

Dagster's open-source webserver has no users (dagster issue 2219); its GraphQL
layer does check permissions per deployment, code location and asset owner,
reading them from the request context. This package holds the pure parts
(the policy file, the role of every Dagster permission and mutation field, the
caller's identity, the audit log); `app/auth_server.py` builds Dagster's request
context from them per request.
"""

from asset_platform.access.policy import ROLES, Grant, Policy, PolicyError, Role, Roles, load_policy

__all__ = ["ROLES", "Grant", "Policy", "PolicyError", "Role", "Roles", "load_policy"]
