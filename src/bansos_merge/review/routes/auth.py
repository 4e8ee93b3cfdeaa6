"""Login and logout: a throttle per user name, scrypt passwords or API tokens, server-side
sessions, CSRF tokens on both forms, every attempt in the audit log."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..auth import dummy_verify, new_csrf, verify_password
from ..web import Web, web

LOGIN_FAILURES = 5  # per user name ...
LOGIN_WINDOW = 300  # ... within this many seconds, then refused until the window passes

router = APIRouter()


def safe_next(target: object) -> str:
    """A local path to go to after login (never another site)."""
    target = str(target or "/")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


# Handlers that touch the database are plain functions (FastAPI runs them in its thread
# pool); POST handlers read the form asynchronously, then do the same.


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request):
    w = web(request)
    if w.current_user(request):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    notice = "login.expired" if request.query_params.get("expired") else None
    if request.query_params.get("bye"):
        notice = "login.logged_out"
    return w.render(request, "login.html", next=safe_next(request.query_params.get("next")), notice=notice)


@router.post("/login")
async def login(request: Request):
    return await run_in_threadpool(_login, web(request), request, await request.form())


def _login(w: Web, request: Request, form) -> Response:
    w.check_csrf(request, form)
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))
    target = safe_next(form.get("next"))
    now = time.monotonic()
    failures = w.failures
    if len(failures) > 10_000:  # many names tried: forget the ones whose window has passed
        for key in [k for k, q in failures.items() if not q or now - q[-1] > LOGIN_WINDOW]:
            failures.pop(key, None)
    recent = failures[name]
    while recent and now - recent[0] > LOGIN_WINDOW:
        recent.popleft()
    if len(recent) >= LOGIN_FAILURES:
        return w.render(request, "login.html", status=429, next=target, error="login.throttled", name=name)
    user = w.store.get_user(name) if name else None
    via = None
    if user is None or user["disabled"]:
        dummy_verify(password)
    elif verify_password(password, user["password_hash"]):
        via = "password"
    elif (tok := w.store.user_for_token(password)) is not None and tok["name"] == name:
        via = "token"
    if via is None:
        recent.append(now)
        w.store.audit(name or None, "login_failed", None, {"ip": request.client.host if request.client else None})
        return w.render(request, "login.html", status=401, next=target, error="login.failed", name=name)
    failures.pop(name, None)
    request.session.clear()
    request.session["sid"] = w.store.create_session(name, w.session_max_age)
    request.session["csrf"] = new_csrf()
    w.store.audit(name, "login", None, {"via": via})
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request):
    return await run_in_threadpool(_logout, web(request), request, await request.form())


def _logout(w: Web, request: Request, form) -> Response:
    w.check_csrf(request, form)
    user = w.current_user(request)
    sid = request.session.get("sid")
    if sid:
        w.store.end_session(sid)
    if user:
        w.store.audit(user["name"], "logout")
    request.session.clear()
    return RedirectResponse("/login?bye=1", status_code=303)
