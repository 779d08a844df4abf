"""Who is calling: from a trusted authenticating proxy, a local users file, or a single-user mode.

Proxy mode (production, oauth2-proxy in front): `X-Forwarded-User` and
`X-Forwarded-Groups` are believed only when the request also carries the
proxy's shared secret in `X-Asset-Platform-Proxy-Secret`, equal to the
environment variable named by `--proxy-secret-env` (default
ASSET_PLATFORM_PROXY_SECRET). Without a secret configured the server refuses
to bind anything but loopback, so the only caller that can reach it is a
process in the same pod or machine: the proxy sidecar. Both are checked at
start (`check_bind`), not per request.

Users file (a laptop, a small team): HTTP Basic against argon2id hashes:

    users:
      alice:
        password_hash: "$argon2id$v=19$m=65536,t=3,p=4$..."
        groups: [growth]

argon2 is slow on purpose (about a second here), and a browser sends the same
Basic header with every request: a header verified once is remembered, as an
HMAC under a key of this process, in a small bounded cache for a few minutes.

Single-user mode: every request is that one user; loopback only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

USER_HEADER = "x-forwarded-user"
GROUPS_HEADER = "x-forwarded-groups"
SECRET_HEADER = "x-asset-platform-proxy-secret"
DEFAULT_SECRET_ENV = "ASSET_PLATFORM_PROXY_SECRET"


class IdentityConfigError(ValueError):
    """The identity configuration cannot be used safely; the message says what to change."""


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Denial:
    """No identity: the HTTP status (401) and the reason, for the response and the audit log."""

    reason: str
    challenge: str | None = None  # a WWW-Authenticate value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProxyHeaders:
    """Trusts the proxy's user and groups headers, given the shared secret (or a loopback bind)."""

    mode = "proxy"

    def __init__(self, secret_env: str = DEFAULT_SECRET_ENV, environ: Mapping[str, str] | None = None):
        self.secret_env = secret_env
        secret = (environ if environ is not None else os.environ).get(secret_env, "")
        self._secret = secret.encode() if secret else None

    def check_bind(self, host: str) -> None:
        if self._secret is None and not is_loopback(host):
            raise IdentityConfigError(
                f"--auth-mode proxy on {host}: anyone reaching this address could send X-Forwarded-User. "
                f"Set {self.secret_env} (and make the proxy send it in X-Asset-Platform-Proxy-Secret), "
                "or bind to 127.0.0.1 behind the proxy"
            )

    def identify(self, headers: Mapping[str, str]) -> Identity | Denial:
        if self._secret is not None:
            given = headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, self._secret):
                return Denial("missing or wrong proxy secret: requests must come through the authenticating proxy")
        user = headers.get(USER_HEADER, "").strip()
        if not user:
            return Denial("no X-Forwarded-User header: requests must come through the authenticating proxy")
        groups = tuple(g.strip() for g in headers.get(GROUPS_HEADER, "").split(",") if g.strip())
        return Identity(user, groups)


@dataclass(frozen=True)
class _LocalUser:
    password_hash: str
    groups: tuple[str, ...] = field(default_factory=tuple)


class UsersFile:
    """HTTP Basic against a YAML file of argon2 password hashes (`hash_password` writes one)."""

    mode = "users"
    # Verified Basic headers remembered: enough for a team's browsers, short enough that a
    # password removed from the file (after a restart) or a stolen header does not live long.
    CACHE_SIZE = 256
    CACHE_TTL_S = 300.0

    def __init__(self, path: str | Path):
        from argon2 import PasswordHasher

        self.path = Path(path)
        self._users = _read_users(self.path)
        self._hasher = PasswordHasher()
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()
        self.argon2_verifications = 0  # how many headers paid for argon2 (the cache's hit rate, for tests)

    def _remembered(self, digest: bytes) -> Identity | None:
        with self._lock:
            entry = self._verified.get(digest)
            if entry is None or time.monotonic() - entry[0] > self.CACHE_TTL_S:
                self._verified.pop(digest, None)
                return None
            self._verified.move_to_end(digest)
            return entry[1]

    def _remember(self, digest: bytes, identity: Identity) -> None:
        with self._lock:
            self._verified[digest] = (time.monotonic(), identity)
            while len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)

    def check_bind(self, host: str) -> None:
        # Basic credentials travel in clear text: off loopback, put TLS (a proxy, an ingress) in front.
        return None

    def identify(self, headers: Mapping[str, str]) -> Identity | Denial:
        from argon2.exceptions import InvalidHashError, VerificationError

        challenge = 'Basic realm="asset-platform", charset="UTF-8"'
        kind, _, encoded = headers.get("authorization", "").partition(" ")
        if kind.lower() != "basic" or not encoded:
            return Denial("sign in: HTTP Basic credentials required", challenge)
        # Only successes are remembered: a wrong password pays for argon2 every time.
        digest = hmac.new(self._cache_key, encoded.encode(), hashlib.sha256).digest()
        if (remembered := self._remembered(digest)) is not None:
            return remembered
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return Denial("malformed HTTP Basic credentials", challenge)
        known = self._users.get(user)
        try:
            self.argon2_verifications += known is not None
            if known is None or not self._hasher.verify(known.password_hash, password):
                return Denial("unknown user or wrong password", challenge)
        except (VerificationError, InvalidHashError):
            return Denial("unknown user or wrong password", challenge)
        identity = Identity(user, known.groups)
        self._remember(digest, identity)
        return identity


class SingleUser:
    """Every request is one user: for a laptop where the person at the keyboard is the only caller."""

    mode = "single-user"

    def __init__(self, user: str, groups: tuple[str, ...] = ()):
        if not user.strip():
            raise IdentityConfigError("--single-user needs a user name, such as your e-mail address")
        self._identity = Identity(user.strip(), groups)

    def check_bind(self, host: str) -> None:
        if not is_loopback(host):
            raise IdentityConfigError(
                f"--single-user on {host} would give everyone who reaches it that user's roles; "
                "bind to 127.0.0.1, or use --users-file / --auth-mode proxy"
            )

    def identify(self, headers: Mapping[str, str]) -> Identity | Denial:
        return self._identity


def hash_password(password: str) -> str:
    """An argon2id hash for the users file (argon2-cffi's recommended parameters)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def _read_users(path: Path) -> dict[str, _LocalUser]:
    if not path.is_file():
        raise IdentityConfigError(f"users file {path} not found; create it (see README, 'Access control')")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise IdentityConfigError(f"users file {path} is not valid YAML: {error}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not users:
        raise IdentityConfigError(f"users file {path}: expected `users:` mapping names to password_hash and groups")
    result = {}
    for name, entry in users.items():
        if not isinstance(entry, dict) or not str(entry.get("password_hash", "")).startswith("$argon2"):
            raise IdentityConfigError(
                f"users file {path}: user {name!r} needs `password_hash:` with an argon2 hash "
                "(asset-platform serve --hash-password prints one)"
            )
        groups = entry.get("groups") or []
        if not isinstance(groups, list):
            raise IdentityConfigError(f"users file {path}: groups of {name!r} must be a list")
        result[str(name)] = _LocalUser(str(entry["password_hash"]), tuple(str(g) for g in groups))
    return result
