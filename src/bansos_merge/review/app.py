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
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict, deque
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import UserError
from ..publish.masking import mask_ids_in_text, mask_one
from ..publish.run_folder import latest_run
from . import strings
from .auth import can, csrf_ok, dummy_verify, new_csrf, verify_password
from .decisions import export_decisions
from .queue import PAGE_SIZE, ConflictRef, Filters, Item, RunData, decided_pairs, filter_info, filter_items, next_open
from .store import DECISIONS, Store

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
DEFAULT_SESSION_MAX_AGE = 8 * 3600
SESSION_COOKIE = "bansos_review_session"
LANG_COOKIE = "bansos_review_lang"
MAX_COMMENT = 2000
LOGIN_FAILURES = 5  # per user name ...
LOGIN_WINDOW = 300  # ... within this many seconds, then refused until the window passes
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class _Forbidden(Exception):
    def __init__(self, key: str, status: int = 403) -> None:
        self.key, self.status = key, status


class _RunCache:
    """The latest run, reloaded when `latest` moves to a new run."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self.lock = threading.Lock()
        self.run: RunData | None = None
        self.get()

    def folder(self) -> Path:
        folder = latest_run(self.output_dir)
        if folder is None or not (folder / "records.parquet").exists():
            raise UserError(f"{self.output_dir}: no published run here (expected latest/records.parquet)")
        return folder

    def get(self) -> RunData:
        folder = self.folder()
        if self.run is None or self.run.folder != folder:
            with self.lock:
                if self.run is None or self.run.folder != folder:
                    self.run = RunData(folder)
        return self.run


@lru_cache(maxsize=512)
def _explain(folder: str, left: str, right: str, reveal: bool):
    from ..explain import explain_pair

    return explain_pair(Path(folder), left, right, show_full_nik=reveal)


def _blank(value: object) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) == 0
    return value is None or value is pd.NA or (isinstance(value, float) and value != value) or str(value).strip() == ""


def _text(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in list(value))
    if isinstance(value, (dt.date, pd.Timestamp)):
        return str(value)[:10]
    return str(value)


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
    runs = _RunCache(output_dir)
    failures: dict[str, deque] = defaultdict(deque)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))

    app = FastAPI(title="bansos-merge review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.runs, app.state.state_dir = store, runs, state_dir
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # ------------------------------------------------------------ helpers

    def lang_of(request: Request) -> str:
        return strings.language(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_csrf()
        return token

    def current_user(request: Request) -> dict | None:
        sid = request.session.get("sid")
        if not sid:
            return None
        user = store.session_user(sid)
        if user is None:
            request.session.clear()
            request.state.expired = True
        return user

    def login_redirect(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params = {"next": target}
        if getattr(request.state, "expired", False):
            params["expired"] = "1"
        return RedirectResponse("/login?" + urlencode(params), status_code=303)

    def flash(request: Request, message: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), message][-3:]

    def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        lang = lang_of(request)
        query = dict(request.query_params)
        query["lang"] = "en" if lang == "id" else "id"
        context.setdefault("user", None)
        html = env.get_template(template).render(
            t=lambda key, **kw: strings.t(key, lang, **kw),
            kind_label=lambda kind: strings.kind_label(kind, lang),
            code_label=lambda group, code: strings.code_label(group, code, lang),
            label=lambda prefix, code: strings.label_or_code(prefix, code, lang),
            num=lambda v, d=1: "\u2013" if v is None or v != v else strings.fmt_number(v, lang, d),
            lang=lang,
            lang_url=request.url.path + "?" + urlencode(query),
            csrf=csrf_token(request),
            flashes=request.session.pop("flash", []),
            can=lambda perm: can((context.get("user") or {}).get("role"), perm),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(request: Request, key: str, status: int, user: dict | None = None) -> HTMLResponse:
        return render(request, "error.html", status=status, message_key=key, user=user)

    def check_csrf(request: Request, form) -> None:
        if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
            raise _Forbidden("error.csrf")

    def need(user: dict, permission: str) -> None:
        if not can(user["role"], permission):
            raise _Forbidden("error.forbidden")

    def filter_query(raw: str | None) -> Filters:
        pairs = parse_qsl(raw or "", keep_blank_values=False)
        return Filters.parse({k: v for k, v in pairs})

    def item_url(item: Item, filters: Filters) -> str:
        q = urlencode(filters.query())
        return f"/item/{item.item_id}" + (f"?{q}" if q else "")

    # ------------------------------------------------------------ middleware

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, exc: _Forbidden):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": strings.t(exc.key, "en")}, status_code=exc.status)
        return error(request, exc.key, exc.status, user=getattr(request.state, "user", None))

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

    # ------------------------------------------------------------ login / logout

    def safe_next(target: object) -> str:
        target = str(target or "/")
        return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"

    # Handlers that touch the database or pandas are plain functions (FastAPI runs them in
    # its thread pool); POST handlers read the form asynchronously, then do the same.

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        if current_user(request):
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        notice = "login.expired" if request.query_params.get("expired") else None
        if request.query_params.get("bye"):
            notice = "login.logged_out"
        return render(request, "login.html", next=safe_next(request.query_params.get("next")), notice=notice)

    @app.post("/login")
    async def login(request: Request):
        return await run_in_threadpool(login_sync, request, await request.form())

    def login_sync(request: Request, form) -> Response:
        check_csrf(request, form)
        name = str(form.get("name", "")).strip()[:64]
        password = str(form.get("password", ""))
        target = safe_next(form.get("next"))
        now = time.monotonic()
        if len(failures) > 10_000:  # many names tried: forget the ones whose window has passed
            for key in [k for k, q in failures.items() if not q or now - q[-1] > LOGIN_WINDOW]:
                failures.pop(key, None)
        recent = failures[name]
        while recent and now - recent[0] > LOGIN_WINDOW:
            recent.popleft()
        if len(recent) >= LOGIN_FAILURES:
            return render(request, "login.html", status=429, next=target, error="login.throttled", name=name)
        user = store.get_user(name) if name else None
        via = None
        if user is None or user["disabled"]:
            dummy_verify(password)
        elif verify_password(password, user["password_hash"]):
            via = "password"
        elif (tok := store.user_for_token(password)) is not None and tok["name"] == name:
            via = "token"
        if via is None:
            recent.append(now)
            store.audit(name or None, "login_failed", None, {"ip": request.client.host if request.client else None})
            return render(request, "login.html", status=401, next=target, error="login.failed", name=name)
        failures.pop(name, None)
        request.session.clear()
        request.session["sid"] = store.create_session(name, session_max_age)
        request.session["csrf"] = new_csrf()
        store.audit(name, "login", None, {"via": via})
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        return await run_in_threadpool(logout_sync, request, await request.form())

    def logout_sync(request: Request, form) -> Response:
        check_csrf(request, form)
        user = current_user(request)
        sid = request.session.get("sid")
        if sid:
            store.end_session(sid)
        if user:
            store.audit(user["name"], "logout")
        request.session.clear()
        return RedirectResponse("/login?bye=1", status_code=303)

    # ------------------------------------------------------------ queue

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request):
        user = current_user(request)
        if user is None:
            return login_redirect(request)
        request.state.user = user
        run = runs.get()
        filters = Filters.parse(request.query_params)
        decided = decided_pairs(run, store.current_decisions())
        shown = filter_items(run, filters, decided)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        pages = max(1, -(-len(shown) // PAGE_SIZE))
        page = min(page, pages)
        by_kind = []
        for kind in run.kinds:
            members = [it for it in run.items if kind in it.kinds]
            by_kind.append((kind, len(members), sum(it.pair in decided for it in members)))
        info = filter_info(run, filters)
        first_open = next_open(run, filters, decided, None)
        rows = []
        for it in shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
            rows.append((it, _brief(run, it.left), _brief(run, it.right), decided.get(it.pair)))
        return render(
            request,
            "queue.html",
            user=user,
            run=run,
            filters=filters,
            rows=rows,
            shown=len(shown),
            shown_decided=sum(it.pair in decided for it in shown),
            total=len(run.items),
            decided=sum(it.pair in decided for it in run.items),
            by_kind=by_kind,
            info=[(it, _brief(run, it.left)) for it in info[:200]],
            info_total=len(info),
            page=page,
            pages=pages,
            page_url=lambda p: "/?" + urlencode(filters.query(page=p)),
            kind_url=lambda k: "/?" + urlencode(filters.query(kind=k)),
            item_url=lambda it: item_url(it, filters),
            first_open=first_open and item_url(first_open, filters),
        )

    # ------------------------------------------------------------ item

    def item_page(request: Request, user: dict, item_id: str, filters: Filters, reveal: bool = False) -> HTMLResponse:
        run = runs.get()
        item = run.by_id.get(item_id)
        if item is None:
            return error(request, "error.not_found", 404, user=user)
        decided = decided_pairs(run, store.current_decisions())
        keys = [item.left] if item.info else [item.left, item.right]
        rows = _side_by_side(run, keys, reveal)
        evidence = None
        if not item.info:
            try:
                evidence = _explain(str(run.folder), item.left, item.right, reveal)
            except Exception as e:  # an old run's model, a record gone: the page works without it
                log.warning("review: evidence unavailable for item %s (%s)", item_id, type(e).__name__)
        others = []
        seen_persons = set()
        for key in keys:
            pid, recs = run.other_records(key, set(keys))
            if pid in seen_persons:
                continue
            seen_persons.add(pid)
            others.append((pid, [_brief(run, k, reveal) for k in recs["key"]]))
        history = [] if item.info else store.pair_history(item.left, item.right)
        current = decided.get(item.pair) if not item.info else None
        nxt = next_open(run, filters, decided, item.item_id)
        # "Item n of N" counts the items matching the filter whatever their status.
        everything = Filters(filters.kind, filters.region, filters.source, filters.min, filters.max, "all")
        shown = filter_items(run, everything, decided) if not item.info else []
        position = next((i for i, it in enumerate(shown, start=1) if it.item_id == item.item_id), None)
        return render(
            request,
            "item.html",
            user=user,
            run=run,
            item=item,
            rows=rows,
            evidence=evidence,
            others=others,
            history=history,
            current=current,
            stale_history=bool(history) and current is None,
            next_url=nxt and item_url(nxt, filters),
            back_url="/?" + urlencode(filters.query()),
            filter_q=urlencode(filters.query()),
            position=position,
            shown=len(shown),
            reveal=reveal,
            conflicts=[(c, _masked_values(c, reveal), c.explanation if reveal else mask_ids_in_text(c.explanation)) for c in item.conflicts],
        )

    @app.get("/item/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: str):
        user = current_user(request)
        if user is None:
            return login_redirect(request)
        request.state.user = user
        return item_page(request, user, item_id, Filters.parse(request.query_params))

    @app.post("/item/{item_id}/decide")
    async def decide(request: Request, item_id: str):
        return await run_in_threadpool(decide_sync, request, item_id, await request.form())

    def posted_item(request: Request, item_id: str, form, permission: str):
        """The checks every form POST on an item passes: logged in, CSRF token, permission,
        and an item of the current run. Returns (user, run, item), or the response to send."""
        user = current_user(request)
        if user is None:
            return login_redirect(request)
        request.state.user = user
        check_csrf(request, form)
        need(user, permission)
        run = runs.get()
        item = run.by_id.get(item_id)
        if item is None:
            return error(request, "error.not_found", 404, user=user)
        return user, run, item

    def decide_sync(request: Request, item_id: str, form) -> Response:
        checked = posted_item(request, item_id, form, "decide")
        if isinstance(checked, Response):
            return checked
        user, run, item = checked
        if item.info:
            return error(request, "error.not_found", 404, user=user)
        decision = str(form.get("decision", ""))
        if decision not in DECISIONS:
            return error(request, "error.bad_request", 400, user=user)
        comment = str(form.get("comment", ""))[:MAX_COMMENT]
        store.add_decision(
            item.left, item.right, decision, user["name"], comment, run.fingerprint(item.left), run.fingerprint(item.right), run.run_id
        )
        lang = lang_of(request)
        flash(request, strings.t("flash.saved", lang, decision=strings.t(f"decision.{decision}", lang)))
        filters = filter_query(str(form.get("q", "")))
        nxt = next_open(run, filters, decided_pairs(run, store.current_decisions()), item.item_id)
        if nxt is None:
            flash(request, strings.t("flash.done", lang))
            return RedirectResponse("/?" + urlencode(filters.query()), status_code=303)
        return RedirectResponse(item_url(nxt, filters), status_code=303)

    @app.post("/item/{item_id}/reveal", response_class=HTMLResponse)
    async def reveal(request: Request, item_id: str):
        return await run_in_threadpool(reveal_sync, request, item_id, await request.form())

    def reveal_sync(request: Request, item_id: str, form) -> Response:
        checked = posted_item(request, item_id, form, "reveal")
        if isinstance(checked, Response):
            return checked
        user, run, item = checked
        store.audit(user["name"], "reveal_nik", item.pair or item.left, {"item": item_id, "run_id": run.run_id})
        return item_page(request, user, item_id, filter_query(str(form.get("q", ""))), reveal=True)

    # ------------------------------------------------------------ export

    @app.get("/export")
    def export(request: Request):
        user = current_user(request)
        if user is None:
            return login_redirect(request)
        request.state.user = user
        need(user, "export")
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "parquet"):
            return error(request, "error.bad_request", 400, user=user)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"decisions.{fmt}"
            export_decisions(state_dir, path, fmt, user=user["name"])
            data = path.read_bytes()
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="decisions.{fmt}"'})

    # ------------------------------------------------------------ JSON API (bearer tokens)

    def api_user(request: Request) -> dict:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        user = store.user_for_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            raise _Forbidden("error.forbidden", 401)
        return user

    @app.get("/api/items")
    def api_items(request: Request):
        user = api_user(request)
        need(user, "view")
        run = runs.get()
        filters = Filters.parse(request.query_params)
        decided = decided_pairs(run, store.current_decisions())
        return {
            "run_id": run.run_id,
            "items": [
                {
                    "item_id": it.item_id,
                    "kinds": it.kinds,
                    "reason": it.reason,
                    "left": it.left,
                    "right": it.right,
                    "weight": None if it.weight != it.weight else round(it.weight, 3),
                    "decision": (decided.get(it.pair) or {}).get("decision"),
                }
                for it in filter_items(run, filters, decided)
            ],
        }

    @app.post("/api/decisions")
    async def api_decide(request: Request):
        user = await run_in_threadpool(api_user, request)
        need(user, "decide")
        try:
            body = await request.json()
            left, right, decision = str(body["left"]), str(body["right"]), str(body["decision"])
            comment = str(body.get("comment") or "")[:MAX_COMMENT]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected JSON {left, right, decision, comment?}"}, status_code=400)
        return await run_in_threadpool(api_decide_sync, user, left, right, decision, comment)

    def api_decide_sync(user: dict, left: str, right: str, decision: str, comment: str) -> Response:
        run = runs.get()
        if decision not in DECISIONS or left == right:
            return JSONResponse({"error": f"decision must be one of {', '.join(DECISIONS)}, on two records"}, status_code=400)
        missing = [k for k in (left, right) if run.fingerprint(k) is None]
        if missing:
            return JSONResponse({"error": f"no such record in run {run.run_id}: {', '.join(missing)}"}, status_code=404)
        row = store.add_decision(left, right, decision, user["name"], comment, run.fingerprint(left), run.fingerprint(right), run.run_id)
        return JSONResponse(row, status_code=201)

    return app


# ---------------------------------------------------------------- page data


def _show_id(value: object, reveal: bool) -> str:
    if _blank(value):
        return ""
    return str(value) if reveal else str(mask_one(str(value)))


def _brief(run: RunData, key: str | None, reveal: bool = False) -> dict | None:
    """A record in one line: key, name, birth date, masked NIK, village."""
    if key is None:
        return None
    r = run.record(key)
    if r is None:
        return {"key": key, "name": "", "birth_date": "", "nik": "", "village": "", "person_id": ""}
    return {
        "key": key,
        "name": _text(r["name"]) or _text(r["name_raw"]),
        "birth_date": _text(r["birth_date"]) or _text(r["birth_date_raw"]),
        "nik": _show_id(r["nik"] if not _blank(r["nik"]) else r["nik_raw"], reveal),
        "village": _text(r["village"]),
        "program": _text(r["program"]),
        "person_id": _text(r["person_id"]),
    }


# (label key, fields compared, how to show); "meta" rows are never highlighted.
def _side_by_side(run: RunData, keys: list[str], reveal: bool) -> list[dict]:
    recs = [run.record(k) for k in keys]

    def val(r: pd.Series, f: str) -> object:
        return r[f] if f in r.index else None

    def shown(r: pd.Series, spec: str) -> str:
        if spec == "origin":
            sheet = _text(val(r, "source_sheet"))
            return f"{_text(val(r, 'source_file'))}{' [' + sheet + ']' if sheet else ''} #{_text(val(r, 'row_number'))}"
        if spec in ("nik", "kk"):
            return _show_id(val(r, spec) if not _blank(val(r, spec)) else val(r, f"{spec}_raw"), reveal)
        if spec == "rtrw":
            rt, rw = _text(val(r, "rt")), _text(val(r, "rw"))
            return f"{rt or '-'}/{rw or '-'}" if rt or rw else ""
        if spec == "birth_date":
            d, raw = _text(val(r, "birth_date")), _text(val(r, "birth_date_raw"))
            return f"{d} ({raw})" if d and raw and raw != d else d or raw
        if spec == "status":
            s, when = _text(val(r, "status")), _text(val(r, "death_date"))
            return f"{s} {when}".strip()
        return _text(val(r, spec))

    specs = [
        ("f.source", "source", None),
        ("f.record_id", "record_id", None),
        ("f.origin", "origin", None),
        ("f.person_id", "person_id", ("person_id",)),
        ("f.nik", "nik", ("nik", "nik_raw")),
        ("f.nik_status", "nik_status", ("nik_status",)),
        ("f.kk", "kk", ("kk", "kk_raw")),
        ("f.name", "name", ("name_key",)),
        ("f.name_raw", "name_raw", ("name_raw",)),
        ("f.birth_date", "birth_date", ("birth_date",)),
        ("f.birth_place", "birth_place", ("birth_place",)),
        ("f.sex", "sex", ("sex",)),
        ("f.mother_name", "mother_name", ("mother_name",)),
        ("f.address", "address", ("address",)),
        ("f.rtrw", "rtrw", ("@shown",)),
        ("f.village", "village", ("village_code", "village")),
        ("f.district", "district", ("district_code", "district")),
        ("f.regency", "regency", ("regency_code", "regency")),
        ("f.province", "province", ("province_code", "province")),
        ("f.program", "program", ("program",)),
        ("f.status", "status", ("@shown",)),
        ("f.flags", "flags", None),
    ]
    rows = []
    for label, spec, compare in specs:
        values = [shown(r, spec) for r in recs]
        cls = "meta" if compare is None else ""
        if compare is not None and len(recs) == 2:
            # The first compared field both records have decides (a code before a name).
            if compare == ("@shown",):
                a, b = [values[0]], [values[1]]
            else:
                a = [_text(val(recs[0], f)) for f in compare]
                b = [_text(val(recs[1], f)) for f in compare]
            both = next(((x, y) for x, y in zip(a, b) if x and y), None)
            if both is not None:
                cls = "diff" if both[0] != both[1] else ""
            elif any(a) or any(b):
                cls = "missing"
        rows.append({"label": label, "values": values, "cls": cls})
    return rows


def _masked_values(conflict: ConflictRef, reveal: bool) -> str | None:
    if conflict.values is None:
        return None
    if reveal:
        return conflict.values
    # Values are NIKs (multiple_nik), person ids (nik_shared), regencies ...: mask every
    # identity-number-like run of digits, leave the rest readable.
    return str(mask_ids_in_text(conflict.values))

