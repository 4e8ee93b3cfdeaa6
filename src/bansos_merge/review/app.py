"""The review web app (FastAPI, server-rendered Jinja2 pages, a little vanilla JS).

Security model (see the README's review section):
- Everything but the login page and the static CSS/JS needs a logged-in user. A session is
  a random id in a signed cookie (itsdangerous via Starlette's SessionMiddleware), checked
  against the `sessions` table on every request: it ends at logout, when the user is
  disabled or their password changes, and at an absolute expiry (default 8 hours).
- Every POST form carries a CSRF token bound to the session (403 otherwise).
- Roles (auth.ROLES): a viewer may look, a reviewer may also decide, an admin may also
  reveal NIKs in full and export. NIK and KK numbers are masked unless revealed; each reveal
  and each decision is written to the audit log.
- The JSON API under /api takes `Authorization: Bearer <token>` only (no cookies, so no CSRF).
- Responses are not cached and may not be framed; the CSP allows only this app's own CSS/JS.
- Nothing personal is logged: URLs carry item ids (hashes) and filter codes, never a NIK.

This module assembles the app; the routes are in `routes/` (auth, queue, items, api, match), what
they share in `web.py`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..decisions.store import Store
from . import strings
from .routes import api, auth, items, queue
from .web import HERE, LANG_COOKIE, Forbidden, RunCache, Web
from .routes import match as match_routes

DEFAULT_SESSION_MAX_AGE = 8 * 3600
SESSION_COOKIE = "bansos_review_session"
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    output_dir: Path,
    state_dir: Path | None = None,
    session_max_age: float = DEFAULT_SESSION_MAX_AGE,
    allowed_hosts: list[str] | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The review app over the latest run in `output_dir`; decisions in `state_dir`
    (default `<output_dir>/state`)."""
    output_dir = Path(output_dir)
    state_dir = Path(state_dir) if state_dir else output_dir / "state"
    store = Store(state_dir)
    web = Web(store, RunCache(output_dir), state_dir, session_max_age)

    app = FastAPI(title="bansos-merge review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web, app.state.store, app.state.runs, app.state.state_dir = web, store, web.runs, state_dir
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (auth, queue, items, api):
        app.include_router(module.router)
    app.include_router(match_routes.router)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": strings.t(exc.key, "en")}, status_code=exc.status)
        return web.error(request, exc.key, exc.status, user=getattr(request.state, "user", None))

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        chosen = request.query_params.get("lang")
        if chosen in strings.LANGUAGES:
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    # Added last = outermost: the session is decoded before the handlers above run. The
    # sessions table enforces the expiry; the signed cookie outlives it by an hour so that the
    # login page can say the session expired (rather than silently asking to log in).
    app.add_middleware(
        SessionMiddleware,
        secret_key=store.secret(),
        session_cookie=SESSION_COOKIE,
        max_age=int(session_max_age) + 3600,
        same_site="lax",
        https_only=secure_cookies,
    )
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app
