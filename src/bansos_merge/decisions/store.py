"""The review state: one SQLite file in the state directory (no server to install).

Tables:
- `decisions` (append-only): one row per analyst decision on an unordered pair of records,
  stored with `left` < `right` (string order) and each record's fingerprint at the time.
  The current decision of a pair is its latest row; earlier rows are its history.
- `audit` (append-only): login, logout, decide, decide_group (one entry for a group item's
  decision, however many pairs it stores), reveal_nik, export (and failed logins), by whom and
  when, with a target (record keys, never a NIK) and a short detail.
- `users`: name, role, scrypt password hash, disabled flag; `tokens`: SHA-256 of issued API
  tokens; `sessions`: server-side session ids (hashed) with an absolute expiry, so logging
  out or disabling a user ends a session even though the cookie is still signed.
- `meta`: the session-cookie signing key, generated on first use.

Append-only is enforced by triggers: UPDATE or DELETE on `decisions` or `audit` aborts.
The file is created readable by its owner only (it holds password hashes and decisions).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import UserError
from .access import check_role, token_hash

STORE_FILE = "review.sqlite"
DECISIONS = ("same", "different", "unsure")
AUDIT_ACTIONS = ("login", "login_failed", "logout", "decide", "decide_group", "reveal_nik", "export", "match")
DECISION_COLUMNS = [
    "left",
    "right",
    "decision",
    "analyst",
    "decided_at",
    "comment",
    "left_fingerprint",
    "right_fingerprint",
    "run_id",
]
_QUOTED = ", ".join(f'"{c}"' for c in DECISION_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'viewer')),
    password_hash TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL REFERENCES users(name),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    "left" TEXT NOT NULL,
    "right" TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('same', 'different', 'unsure')),
    analyst TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    comment TEXT,
    left_fingerprint TEXT,
    right_fingerprint TEXT,
    run_id TEXT,
    CHECK ("left" < "right")
);
CREATE INDEX IF NOT EXISTS decisions_pair ON decisions ("left", "right", id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def store_path(state_dir: Path) -> Path:
    return Path(state_dir) / STORE_FILE


def _decision_row(
    left: str,
    right: str,
    decision: str,
    analyst: str,
    comment: str | None,
    left_fingerprint: str | None,
    right_fingerprint: str | None,
    run_id: str | None,
) -> dict:
    """A decisions-table row: the pair in canonical order, each fingerprint on its record's side."""
    if decision not in DECISIONS:
        raise UserError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if left == right:
        raise UserError("a decision needs two different records")
    lo, hi, swapped = ordered_pair(left, right)
    fp_lo, fp_hi = (right_fingerprint, left_fingerprint) if swapped else (left_fingerprint, right_fingerprint)
    return {
        "left": lo,
        "right": hi,
        "decision": decision,
        "analyst": analyst,
        "decided_at": utc_now(),
        "comment": (comment or "").strip() or None,
        "left_fingerprint": fp_lo,
        "right_fingerprint": fp_hi,
        "run_id": run_id,
    }


def _insert_decisions(con: sqlite3.Connection, rows: list[dict]) -> None:
    con.executemany(
        f"INSERT INTO decisions ({_QUOTED}) VALUES ({', '.join('?' * len(DECISION_COLUMNS))})",
        [tuple(r[c] for c in DECISION_COLUMNS) for r in rows],
    )


def ordered_pair(left: str, right: str) -> tuple[str, str, bool]:
    """(low, high, swapped): the pair in the order the store keeps it."""
    return (left, right, False) if left < right else (right, left, True)


class Store:
    """The review database. Each call opens its own connection (safe across threads)."""

    def __init__(self, state_dir: Path, create: bool = True, read_only: bool = False) -> None:
        """`read_only`: open an existing database for reading only (no schema set-up, no writes)."""
        self.path = store_path(state_dir)
        self.read_only = read_only
        if read_only:
            if not self.path.exists():
                raise UserError(f"{self.path}: no review database here yet")
            return
        if not self.path.exists():
            if not create:
                raise UserError(f"{self.path}: no review database here yet")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as e:
                raise UserError(f"cannot create the review database {self.path}: {e.strerror}") from None
        with self._conn() as con:
            # The default rollback journal, not WAL: a reader then needs no side files, so
            # `load_decisions` works on a read-only state directory too. Writes are a few a
            # minute per analyst; the 30 s busy timeout covers concurrent ones.
            con.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        else:
            con = sqlite3.connect(self.path, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys=ON")
        try:
            with con:  # one transaction: commit on success, roll back on error
                yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ meta

    def secret(self) -> str:
        """The session-cookie signing key (created on first use, kept across restarts)."""
        with self._conn() as con:
            con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('session_secret', ?)", (secrets.token_urlsafe(48),))
            return con.execute("SELECT value FROM meta WHERE key = 'session_secret'").fetchone()[0]

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, role: str, password_hash: str | None) -> None:
        check_role(role)
        now = utc_now()
        with self._conn() as con:
            if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserError(f"user {name!r} exists; change it with review-users passwd/role/token")
            con.execute(
                "INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (name, role, password_hash, now, now),
            )

    def get_user(self, name: str) -> dict | None:
        with self._conn() as con:
            row = con.execute("SELECT name, role, password_hash, disabled FROM users WHERE name = ?", (name,)).fetchone()
        return dict(row) if row else None

    def list_users(self) -> list[dict]:
        with self._conn() as con:
            rows = con.execute(
                "SELECT u.name, u.role, u.disabled, u.created_at, u.password_hash IS NOT NULL AS has_password, "
                "(SELECT COUNT(*) FROM tokens t WHERE t.user = u.name AND t.revoked_at IS NULL) AS tokens "
                "FROM users u ORDER BY u.name"
            ).fetchall()
        return [dict(r) for r in rows]

    def _update_user(self, name: str, sql: str, args: tuple) -> None:
        with self._conn() as con:
            cur = con.execute(f"UPDATE users SET {sql}, updated_at = ? WHERE name = ?", (*args, utc_now(), name))
            if cur.rowcount == 0:
                raise UserError(f"no user {name!r}")
            if "disabled" in sql or "password_hash" in sql:
                con.execute("UPDATE sessions SET ended_at = ? WHERE user = ? AND ended_at IS NULL", (utc_now(), name))

    def set_password(self, name: str, password_hash: str) -> None:
        self._update_user(name, "password_hash = ?", (password_hash,))

    def set_role(self, name: str, role: str) -> None:
        self._update_user(name, "role = ?", (check_role(role),))

    def set_disabled(self, name: str, disabled: bool) -> None:
        self._update_user(name, "disabled = ?", (int(disabled),))
        if disabled:
            with self._conn() as con:
                con.execute("UPDATE tokens SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL", (utc_now(), name))

    def active_user_count(self) -> int:
        with self._conn() as con:
            return con.execute("SELECT COUNT(*) FROM users WHERE disabled = 0").fetchone()[0]

    # ------------------------------------------------------------------ tokens

    def add_token(self, name: str, token: str) -> None:
        with self._conn() as con:
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserError(f"no user {name!r}")
            con.execute("INSERT INTO tokens (user, token_hash, created_at) VALUES (?, ?, ?)", (name, token_hash(token), utc_now()))

    def user_for_token(self, token: str) -> dict | None:
        with self._conn() as con:
            row = con.execute(
                "SELECT u.name, u.role FROM tokens t JOIN users u ON u.name = t.user "
                "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled = 0",
                (token_hash(token),),
            ).fetchone()
        return dict(row) if row else None

    # ------------------------------------------------------------------ sessions

    def create_session(self, name: str, max_age: float) -> str:
        sid = secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.timezone.utc)
        expires = now + dt.timedelta(seconds=max_age)
        with self._conn() as con:
            con.execute(
                "INSERT INTO sessions (sid_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash(sid), name, now.isoformat(timespec="milliseconds"), expires.isoformat(timespec="milliseconds")),
            )
            con.execute("DELETE FROM sessions WHERE expires_at < ?", ((now - dt.timedelta(days=7)).isoformat(),))
        return sid

    def session_user(self, sid: str) -> dict | None:
        """The user of a live session (not ended, not expired, user not disabled), else None."""
        with self._conn() as con:
            row = con.execute(
                "SELECT u.name, u.role, s.expires_at FROM sessions s JOIN users u ON u.name = s.user "
                "WHERE s.sid_hash = ? AND s.ended_at IS NULL AND u.disabled = 0",
                (token_hash(sid),),
            ).fetchone()
        if row is None or dt.datetime.fromisoformat(row["expires_at"]) <= dt.datetime.now(dt.timezone.utc):
            return None
        return {"name": row["name"], "role": row["role"]}

    def end_session(self, sid: str) -> None:
        with self._conn() as con:
            con.execute("UPDATE sessions SET ended_at = ? WHERE sid_hash = ? AND ended_at IS NULL", (utc_now(), token_hash(sid)))

    # ------------------------------------------------------------------ decisions

    def add_decision(
        self,
        left: str,
        right: str,
        decision: str,
        analyst: str,
        comment: str | None,
        left_fingerprint: str | None,
        right_fingerprint: str | None,
        run_id: str | None,
    ) -> dict:
        """Append a decision (the pair is stored in canonical order) and its audit entry, in one transaction."""
        row = _decision_row(left, right, decision, analyst, comment, left_fingerprint, right_fingerprint, run_id)
        with self._conn() as con:
            _insert_decisions(con, [row])
            self._audit(con, analyst, "decide", f"{row['left']}|{row['right']}", json.dumps({"decision": decision, "run_id": run_id}))
        return row

    def add_group_decision(
        self,
        pairs: list[tuple[str, str, str]],
        fingerprints: dict[str, str | None],
        analyst: str,
        comment: str | None,
        run_id: str | None,
        detail: dict,
    ) -> list[dict]:
        """Append one decision per (left, right, decision) of a group item, with one audit
        entry for the group (target: its record keys; `detail`: what was decided), all in one
        transaction: a group decision is stored whole or not at all."""
        rows = [_decision_row(a, b, d, analyst, comment, fingerprints.get(a), fingerprints.get(b), run_id) for a, b, d in pairs]
        if not rows:
            raise UserError("a group decision needs at least one pair")
        target = "|".join(sorted({k for r in rows for k in (r["left"], r["right"])}))
        with self._conn() as con:
            _insert_decisions(con, rows)
            self._audit(con, analyst, "decide_group", target, json.dumps({**detail, "run_id": run_id}, sort_keys=True))
        return rows

    def pair_history(self, left: str, right: str) -> list[dict]:
        lo, hi, _ = ordered_pair(left, right)
        with self._conn() as con:
            rows = con.execute(
                'SELECT id, decision, analyst, decided_at, comment, run_id FROM decisions WHERE "left" = ? AND "right" = ? '
                "ORDER BY id DESC",
                (lo, hi),
            ).fetchall()
        return [dict(r) for r in rows]

    def current_decisions(self) -> list[dict]:
        """The latest decision of every pair."""
        cols = ", ".join(f'd."{c}"' for c in DECISION_COLUMNS)
        with self._conn() as con:
            rows = con.execute(
                f'SELECT {cols} FROM decisions d JOIN (SELECT MAX(id) AS id FROM decisions GROUP BY "left", "right") m '
                "ON m.id = d.id ORDER BY d.id"
            ).fetchall()
        return [dict(r) for r in rows]

    def all_decisions(self) -> list[dict]:
        """The whole log, oldest first, with its ids."""
        cols = ", ".join(f'"{c}"' for c in ["id", *DECISION_COLUMNS])
        with self._conn() as con:
            return [dict(r) for r in con.execute(f"SELECT {cols} FROM decisions ORDER BY id").fetchall()]

    # ------------------------------------------------------------------ audit

    @staticmethod
    def _audit(con: sqlite3.Connection, user: str | None, action: str, target: str | None, detail: str | None) -> None:
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        con.execute(
            "INSERT INTO audit (time, user, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (utc_now(), user, action, target, detail),
        )

    def audit(self, user: str | None, action: str, target: str | None = None, detail: dict | str | None = None) -> None:
        if isinstance(detail, dict):
            detail = json.dumps(detail, sort_keys=True)
        with self._conn() as con:
            self._audit(con, user, action, target, detail)

    def audit_log(self, limit: int | None = None) -> list[dict]:
        sql = "SELECT id, time, user, action, target, detail FROM audit ORDER BY id DESC"
        with self._conn() as con:
            rows = con.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [dict(r) for r in rows]
