"""The UI's access policy in front of the V2 endpoint: the same policy file, identities and audit log.

`serve-model --auth POLICY` identifies each caller as `asset-platform serve --auth` does (an authenticating
proxy's headers, an argon2 users file, or one user on loopback: `access/identity.py`) and reads its roles
from the same policy. Scoring needs `SCORE_ROLE` on the model: globally, on its code location or for one of
the declaration's owners. It is the launcher role because an answered request's rows are captured and land
as production batches, which start runs (batches, drift, retraining): what a launcher may cause in the UI.
Reading the model's metadata (its inputs, from the contract) needs the viewer role, as every page does.
The health and readiness probes stay open: a kubelet sends no identity, and they reveal nothing.

A refusal (401 without an identity, 403 without the role) is answered before the body is parsed and
written to the UI's audit log in the shape of its page refusals. An answered request is not audited,
as the UI does not audit what its callers read: its rows, score, version and request id are in the
served batches, and a line per request would make the audit log the largest file of the platform.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asset_platform.access.audit import AuditLog, variables_sha256
from asset_platform.access.identity import Identity
from asset_platform.access.policy import Policy, Role

SCORE_ROLE = Role.LAUNCHER
READ_ROLE = Role.VIEWER
PERMISSION_DENIED = "PERMISSION_DENIED"  # the result the UI's audit lines give a refusal (app/auth_server.py)
# Probes (liveness, readiness of the server or the model): no identity, no data.
_OPEN = re.compile(r"^/v2/health/(live|ready)/?$|^/v2/models/[^/]+(/versions/[^/]+)?/ready/?$")
# The routes that score rows (MLServer's infer, generate and their streaming forms).
_SCORING = re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/(infer|generate)(_stream)?/?$")


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status, the reason (for the caller and the audit log), a challenge."""

    status: int
    reason: str
    identity: Identity | None = None
    challenge: str | None = None


@dataclass(frozen=True)
class EndpointAccess:
    """Who may call one served model: the policy, how callers are identified, where refusals are written."""

    model: str
    policy: Policy
    authenticator: Any  # ProxyHeaders, UsersFile or SingleUser (access/identity.py)
    audit: AuditLog
    location: str | None = None  # the model's code location, for `location:` grants
    owners: tuple[str, ...] = ()  # the declaration's owners, for `owner:` grants

    def refusal(self, path: str, headers: Mapping[str, str]) -> Refusal | None:
        """None where the caller may make this request; else why not."""
        if _OPEN.match(path):
            return None
        identity = self.authenticator.identify(headers)
        if not isinstance(identity, Identity):
            return Refusal(401, identity.reason, None, identity.challenge)
        needed, what = (SCORE_ROLE, "score") if _SCORING.match(path) else (READ_ROLE, "read")
        roles = self.policy.roles_for(identity.user, identity.groups)
        if roles.holds(needed, self.location, self.owners):
            return None
        scopes = ["globally"]
        scopes += [f"on code location {self.location!r}"] if self.location else []
        scopes += [f"for owner {owner!r}" for owner in self.owners]
        return Refusal(
            403,
            f"user {identity.user!r} may not {what} model {self.model!r}: that needs the {needed.label} role "
            f"{' or '.join(scopes)} "
            f"in {self.policy.source}; ask an admin",
            identity,
        )

    def write_refusal(self, method: str, path: str, query: str, refused: Refusal) -> None:
        """One line in the audit log, as the UI writes a refused page."""
        identity = refused.identity
        self.audit.write(
            user=identity.user if identity else None,
            groups=list(identity.groups) if identity else [],
            operation=f"{method} {path}",
            field=path.lstrip("/"),
            variables_sha256=variables_sha256({"query": query}),
            allowed=False,
            reason=refused.reason,
            result=PERMISSION_DENIED,
            run_id=None,
        )


class AccessGuard:
    """Pure ASGI, outermost: refuses (and audits) a caller the policy does not let make the request."""

    def __init__(self, app: Any, access: EndpointAccess):
        self.app, self.access = app, access

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        refused = self.access.refusal(scope["path"], headers)
        if refused is None:
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        self.access.write_refusal(scope["method"], scope["path"], query, refused)
        # Read the body unkept before answering: closing on unread bytes resets the connection, and the client
        # would see that instead of the refusal.
        more = True
        while more:
            message = await receive()
            more = message["type"] == "http.request" and message.get("more_body", False)
        error = "unauthenticated" if refused.status == 401 else "permission denied"
        body = json.dumps({"error": f"{error}: {refused.reason}"}).encode()
        response = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if refused.challenge:
            response.append((b"www-authenticate", refused.challenge.encode("latin-1")))
        await send({"type": "http.response.start", "status": refused.status, "headers": response})
        await send({"type": "http.response.body", "body": body})
