"""What the store checks and keeps about who may decide: the roles, and secrets kept as hashes.

- Roles: what each may do. A role with "reveal" may show a NIK in full (each time audited);
  "match" may ask the matching service (POST /api/match) whether a person is known.
  The `users` table accepts these roles only.
- API tokens and session ids are stored as their SHA-256 only: they are random with full
  entropy, so a fast hash is enough and lets a lookup be one indexed query.
"""

from __future__ import annotations

import hashlib

from ..errors import UserError

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "decide", "reveal", "export", "match"}),
    "reviewer": frozenset({"view", "decide", "match"}),
    "viewer": frozenset({"view"}),
}


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
