"""`bansos-merge review` and `bansos-merge review-users ...`.

`register(subparsers)` adds them to the main parser. FastAPI and uvicorn are imported inside
the `review` handler only, so the other commands stay fast. Where the review database is:
`decisions.cli.locate` (`--output`, `--config`, `--state-dir`).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import sys

from ..decisions.cli import location_args, locate
from ..errors import UserError

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def _store(args: argparse.Namespace, create: bool = True):
    from ..decisions.store import Store

    _, state_dir = locate(args)
    return Store(state_dir, create=create)


def _read_password(confirm: bool = True) -> str:
    """From the terminal (asked twice), else the first line of standard input."""
    from .auth import check_password

    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if confirm and getpass.getpass("again: ") != first:
            raise UserError("the two passwords differ")
        return check_password(first)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return check_password(line)


# ----------------------------------------------------------------- review


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _review(args: argparse.Namespace) -> int:
    from ..publish.run_folder import latest_run

    output_dir, state_dir = locate(args, need_output=True)
    folder = latest_run(output_dir)
    if folder is None or not (folder / "records.parquet").exists():
        raise UserError(f"{output_dir}: no published run here (run `bansos-merge run` first)")
    if not (1 <= args.port <= 65535):
        raise UserError("--port must be 1-65535")
    if args.session_hours <= 0:
        raise UserError("--session-hours must be positive")
    from ..decisions.store import Store

    store = Store(state_dir)
    if store.active_user_count() == 0:
        raise UserError(
            f"no review users yet in {store.path}: add one with "
            f"`bansos-merge review-users add NAME --role admin --output {output_dir}` (password on standard input)"
        )
    loopback = _is_loopback(args.host)
    if not loopback:
        print(
            f"bansos-merge: warning: serving personal data on {args.host}, not only this machine; "
            "put it behind HTTPS (and use --secure-cookies) or bind 127.0.0.1",
            file=sys.stderr,
        )
    import uvicorn

    from .app import create_app

    app = create_app(
        output_dir,
        state_dir,
        session_max_age=args.session_hours * 3600,
        allowed_hosts=["127.0.0.1", "localhost"] if args.host in ("127.0.0.1", "localhost") else None,
        secure_cookies=args.secure_cookies,
    )
    print(f"review app for run {folder.name}: http://{args.host}:{args.port}/  (Ctrl+C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", server_header=False, proxy_headers=False)
    return 0


# ----------------------------------------------------------------- users


def _users_add(args: argparse.Namespace) -> int:
    from ..decisions.access import check_role
    from .auth import check_user_name, hash_password, new_token

    name = check_user_name(args.name)
    role = check_role(args.role)
    store = _store(args)
    if args.token:
        token = new_token()
        store.add_user(name, role, None)
        store.add_token(name, token)
        print(f"user {name} ({role}) added. API token (shown once, keep it secret):")
        print(token)
        return 0
    password_hash = hash_password(_read_password())
    store.add_user(name, role, password_hash)
    print(f"user {name} ({role}) added")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    users = _store(args).list_users()
    if not users:
        print("no review users")
    for u in users:
        state = "disabled" if u["disabled"] else "active"
        login = ("password" if u["has_password"] else "no password") + f", {u['tokens']} token(s)"
        print(f"{u['name']:<24} {u['role']:<9} {state:<9} {login}")
    return 0


def _users_passwd(args: argparse.Namespace) -> int:
    from .auth import hash_password

    store = _store(args, create=False)
    if store.get_user(args.name) is None:
        raise UserError(f"no user {args.name!r}")
    store.set_password(args.name, hash_password(_read_password()))
    print(f"password of {args.name} changed; their sessions are ended")
    return 0


def _users_role(args: argparse.Namespace) -> int:
    from ..decisions.access import check_role

    _store(args, create=False).set_role(args.name, check_role(args.role))
    print(f"{args.name} is now {args.role}")
    return 0


def _users_token(args: argparse.Namespace) -> int:
    from .auth import new_token

    token = new_token()
    _store(args, create=False).add_token(args.name, token)
    print(f"API token for {args.name} (shown once, keep it secret):")
    print(token)
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    _store(args, create=False).set_disabled(args.name, not args.enable)
    print(f"{args.name} {'enabled' if args.enable else 'disabled (sessions ended, tokens revoked)'}")
    return 0


# ----------------------------------------------------------------- registration


USER_NAME_HELP = "the user's login name"


def register(subparsers) -> None:
    """Add `review` and `review-users` to the main parser's subparsers."""
    rv = subparsers.add_parser("review", help="start the review web app over the latest run")
    location_args(rv)
    rv.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    rv.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    rv.add_argument("--session-hours", type=float, default=8.0, help="a login lasts this long (default 8)")
    rv.add_argument("--secure-cookies", action="store_true", help="send the session cookie over HTTPS only (behind a TLS proxy)")
    rv.set_defaults(func=_review)

    us = subparsers.add_parser("review-users", help="manage the review app's users")
    us_sub = us.add_subparsers(dest="users_command", required=True)
    add = us_sub.add_parser("add", help="add a user; password on standard input, or --token")
    add.add_argument("name", help="the new user's login name")
    add.add_argument("--role", required=True, help="admin | reviewer | viewer")
    add.add_argument("--token", action="store_true", help="issue an API token (shown once) instead of reading a password")
    location_args(add)
    add.set_defaults(func=_users_add)
    ls = us_sub.add_parser("list", help="list users")
    location_args(ls)
    ls.set_defaults(func=_users_list)
    pw = us_sub.add_parser("passwd", help="set a user's password (standard input); ends their sessions")
    pw.add_argument("name", help=USER_NAME_HELP)
    location_args(pw)
    pw.set_defaults(func=_users_passwd)
    ro = us_sub.add_parser("role", help="change a user's role")
    ro.add_argument("name", help=USER_NAME_HELP)
    ro.add_argument("role", help="admin | reviewer | viewer")
    location_args(ro)
    ro.set_defaults(func=_users_role)
    tk = us_sub.add_parser("token", help="issue another API token for a user (shown once)")
    tk.add_argument("name", help=USER_NAME_HELP)
    location_args(tk)
    tk.set_defaults(func=_users_token)
    ds = us_sub.add_parser("disable", help="disable a user: ends sessions, revokes tokens (kept for the audit log)")
    ds.add_argument("name", help=USER_NAME_HELP)
    location_args(ds)
    ds.set_defaults(func=_users_disable, enable=False)
    en = us_sub.add_parser("enable", help="enable a disabled user again")
    en.add_argument("name", help=USER_NAME_HELP)
    location_args(en)
    en.set_defaults(func=_users_disable, enable=True)
