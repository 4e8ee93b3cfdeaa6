"""Roles, password hashing (scrypt), API tokens and CSRF tokens. No web framework here.

- Passwords: `hashlib.scrypt` (N=2^14, r=8, p=1, 16-byte salt), stored as
  `scrypt$N$r$p$salt$hash` (base64), compared in constant time.
- API tokens: 32 random bytes shown once at issue; only their SHA-256 is stored (a token has
  full entropy, so a fast hash is enough and lets a lookup be one indexed query).
- CSRF: a random token kept in the signed session, echoed by every POST form, compared in
  constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..errors import UserError

# What each role may do. A role with "reveal" may show a NIK in full (each time audited).
# "match": ask the matching service (POST /api/match) whether a person is known.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "decide", "reveal", "export", "match"}),
    "reviewer": frozenset({"view", "decide", "match"}),
    "viewer": frozenset({"view"}),
}

TOKEN_PREFIX = "bmr_"
MIN_PASSWORD = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role


def can(role: str | None, permission: str) -> bool:
    return role is not None and permission in ROLES.get(role, frozenset())


def check_user_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise UserError(f"{name!r}: a user name is 1-64 letters, digits or . _ - @")
    return name


def check_password(password: str) -> str:
    password = (password or "").rstrip("\r\n")
    if not password.strip():
        raise UserError("empty password: give it on standard input (or use --token)")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not password:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def dummy_verify(password: str) -> None:
    """Spend the time a real check would, so a wrong user name is not faster than a wrong password."""
    verify_password(password, _DUMMY_HASH)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: object, given: object) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected.encode(), given.encode())
    )
