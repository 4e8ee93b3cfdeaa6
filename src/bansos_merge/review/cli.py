"""`bansos-merge review`, `bansos-merge review-users ...` and `bansos-merge decisions ...`.

`register(subparsers)` adds them to the main parser. FastAPI and uvicorn are imported inside
the `review` handler only, so the other commands stay fast.

Where things are: `--output DIR` (the merge's output directory; the review database is
`DIR/state/review.sqlite`), or `--config merge.yaml` (its output_dir and state_dir);
`--state-dir` overrides either.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import sys
from pathlib import Path

from ..errors import UserError

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def _location_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, help="the merge's output directory (the review uses its latest run)")
    p.add_argument("--config", type=Path, help="or: merge.yaml, for output_dir and state_dir")
    p.add_argument("--state-dir", type=Path, help="where review.sqlite lives (default: OUTPUT/state, or the config's state_dir)")


def locate(args: argparse.Namespace, need_output: bool = False) -> tuple[Path | None, Path]:
    """(output_dir, state_dir) from --output / --config / --state-dir; output_dir is None
    when only --state-dir is given (enough for users and export)."""
    output = getattr(args, "output", None)
    config = getattr(args, "config", None)
    state = getattr(args, "state_dir", None)
    if config is not None:
        from ..config import load_config

        cfg = load_config(config, output)
        output_dir, state_dir = Path(cfg.output_dir), cfg.state_path
    elif output is not None:
        output_dir, state_dir = Path(output), Path(output) / "state"
    elif state is not None and not need_output:
        return None, Path(state)
    else:
        raise UserError("give --output DIR (the merge's output directory) or --config merge.yaml")
    return output_dir, Path(state) if state is not None else state_dir


def _store(args: argparse.Namespace, create: bool = True):
    from .store import Store

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
    from .store import Store

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
    from .auth import check_role, check_user_name, hash_password, new_token

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
    from .auth import check_role

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


# ----------------------------------------------------------------- decisions


def _decisions_export(args: argparse.Namespace) -> int:
    from .decisions import export_decisions

    _, state_dir = locate(args)
    try:
        user = "cli:" + getpass.getuser()
    except (KeyError, OSError):
        user = "cli"
    n = export_decisions(state_dir, Path(args.to), args.format, user=user, history=args.history)
    print(f"{n} decision{'s' if n != 1 else ''} written to {args.to}")
    return 0


def _decisions_check(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..publish.run_folder import latest_run
    from .decisions import constraints, load_decisions

    output_dir, state_dir = locate(args, need_output=True)
    folder = latest_run(output_dir)
    if folder is None or not (folder / "records.parquet").exists():
        raise UserError(f"{output_dir}: no published run here")
    records = pd.read_parquet(folder / "records.parquet")
    ml, cl, report = constraints(load_decisions(state_dir), records)
    print(f"decisions against run {folder.name}: {report['decisions']} current")
    print(f"  would apply: {report['applied_same']} same person (must-link), {report['applied_different']} different people (cannot-link)")
    print(f"  not sure: {report['unsure']}")
    print(
        f"  stale: {report['stale_count']} ({report['stale_record_missing']} record missing, "
        f"{report['stale_record_changed']} record changed)"
    )
    for s in report["stale"][:20]:
        print(f"    {s['left']} | {s['right']}: {s['decision']}, {s['why']}")
    if report["contradictions"]:
        print(f"  contradictions: {len(report['contradictions'])} 'different' pairs joined by a chain of 'same' decisions")
        for c in report["contradictions"][:20]:
            print(f"    {c['left']} | {c['right']}")
    return 0


# ----------------------------------------------------------------- registration


def register(subparsers) -> None:
    """Add `review`, `review-users` and `decisions` to the main parser's subparsers."""
    rv = subparsers.add_parser("review", help="start the review web app over the latest run")
    _location_args(rv)
    rv.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    rv.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    rv.add_argument("--session-hours", type=float, default=8.0, help="a login lasts this long (default 8)")
    rv.add_argument("--secure-cookies", action="store_true", help="send the session cookie over HTTPS only (behind a TLS proxy)")
    rv.set_defaults(func=_review)

    us = subparsers.add_parser("review-users", help="manage the review app's users")
    us_sub = us.add_subparsers(dest="users_command", required=True)
    add = us_sub.add_parser("add", help="add a user; password on standard input, or --token")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="admin | reviewer | viewer")
    add.add_argument("--token", action="store_true", help="issue an API token (shown once) instead of reading a password")
    _location_args(add)
    add.set_defaults(func=_users_add)
    ls = us_sub.add_parser("list", help="list users")
    _location_args(ls)
    ls.set_defaults(func=_users_list)
    pw = us_sub.add_parser("passwd", help="set a user's password (standard input); ends their sessions")
    pw.add_argument("name")
    _location_args(pw)
    pw.set_defaults(func=_users_passwd)
    ro = us_sub.add_parser("role", help="change a user's role")
    ro.add_argument("name")
    ro.add_argument("role", help="admin | reviewer | viewer")
    _location_args(ro)
    ro.set_defaults(func=_users_role)
    tk = us_sub.add_parser("token", help="issue another API token for a user (shown once)")
    tk.add_argument("name")
    _location_args(tk)
    tk.set_defaults(func=_users_token)
    ds = us_sub.add_parser("disable", help="disable a user: ends sessions, revokes tokens (kept for the audit log)")
    ds.add_argument("name")
    _location_args(ds)
    ds.set_defaults(func=_users_disable, enable=False)
    en = us_sub.add_parser("enable", help="enable a disabled user again")
    en.add_argument("name")
    _location_args(en)
    en.set_defaults(func=_users_disable, enable=True)

    dc = subparsers.add_parser("decisions", help="analysts' decisions: export, check against the latest run")
    dc_sub = dc.add_subparsers(dest="decisions_command", required=True)
    ex = dc_sub.add_parser("export", help="write the current decisions as Parquet or CSV (readable by evaluate --labels)")
    _location_args(ex)
    ex.add_argument("--format", choices=("parquet", "csv"), help="default: from the --to suffix, else parquet")
    ex.add_argument("--to", required=True, type=Path, help="the file to write")
    ex.add_argument("--history", action="store_true", help="the whole append-only log, not only the current decisions")
    ex.set_defaults(func=_decisions_export)
    ck = dc_sub.add_parser("check", help="how the decisions apply to the latest run: applied, stale, contradictions")
    _location_args(ck)
    ck.set_defaults(func=_decisions_check)
