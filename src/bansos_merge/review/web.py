"""What every route of the review app shares: the store, the latest run, the templates, and
the checks a request passes (session user, CSRF token, permission). The app keeps one `Web`
in `app.state.web`; routes reach it with `web(request)`.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..decisions.store import Store
from ..errors import UserError
from ..publish.run_folder import latest_run
from . import strings
from .auth import can, csrf_ok, new_csrf
from .items import Item
from .queue import Filters, RunData

HERE = Path(__file__).parent
LANG_COOKIE = "bansos_review_lang"
MAX_COMMENT = 2000


class Forbidden(Exception):
    """A refused request: rendered as the error page (or JSON under /api) with `status`."""

    def __init__(self, key: str, status: int = 403) -> None:
        self.key, self.status = key, status


class RunCache:
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


def _percent(value: float | None, lang: str) -> str:
    if value is None or value != value:
        return "\u2013"
    return strings.fmt_number(100 * value, lang, 0) + "%"


class Web:
    """The app's shared state and request helpers."""

    def __init__(self, store: Store, runs: RunCache, state_dir: Path, session_max_age: float) -> None:
        self.store, self.runs, self.state_dir, self.session_max_age = store, runs, state_dir, session_max_age
        self.failures: dict[str, deque] = defaultdict(deque)  # login failures per user name
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))

    # ------------------------------------------------------------ session and checks

    def lang_of(self, request: Request) -> str:
        return strings.language(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))

    def csrf_token(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_csrf()
        return token

    def current_user(self, request: Request) -> dict | None:
        sid = request.session.get("sid")
        if not sid:
            return None
        user = self.store.session_user(sid)
        if user is None:
            request.session.clear()
            request.state.expired = True
        return user

    def login_redirect(self, request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params = {"next": target}
        if getattr(request.state, "expired", False):
            params["expired"] = "1"
        return RedirectResponse("/login?" + urlencode(params), status_code=303)

    def page_user(self, request: Request) -> dict | Response:
        """The logged-in user of a page request, or the redirect to the login page."""
        user = self.current_user(request)
        if user is None:
            return self.login_redirect(request)
        request.state.user = user
        return user

    def check_csrf(self, request: Request, form) -> None:
        if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
            raise Forbidden("error.csrf")

    @staticmethod
    def need(user: dict, permission: str) -> None:
        if not can(user["role"], permission):
            raise Forbidden("error.forbidden")

    def posted_item(self, request: Request, item_id: str, form, permission: str) -> tuple[dict, RunData, Item] | Response:
        """The checks every form POST on an item passes: logged in, CSRF token, permission,
        and an item of the current run. Returns (user, run, item), or the response to send."""
        user = self.page_user(request)
        if isinstance(user, Response):
            return user
        self.check_csrf(request, form)
        self.need(user, permission)
        run = self.runs.get()
        item = run.by_id.get(item_id)
        if item is None:
            return self.error(request, "error.not_found", 404, user=user)
        return user, run, item

    # ------------------------------------------------------------ pages

    def flash(self, request: Request, message: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), message][-3:]

    def render(self, request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        lang = self.lang_of(request)
        query = dict(request.query_params)
        query["lang"] = "en" if lang == "id" else "id"
        context.setdefault("user", None)
        html = self.env.get_template(template).render(
            t=lambda key, **kw: strings.t(key, lang, **kw),
            kind_label=lambda kind: strings.kind_label(kind, lang),
            code_label=lambda group, code: strings.code_label(group, code, lang),
            label=lambda prefix, code: strings.label_or_code(prefix, code, lang),
            num=lambda v, d=1: "\u2013" if v is None or v != v else strings.fmt_number(v, lang, d),
            pct=lambda v: _percent(v, lang),
            lang=lang,
            lang_url=request.url.path + "?" + urlencode(query),
            csrf=self.csrf_token(request),
            flashes=request.session.pop("flash", []),
            can=lambda perm: can((context.get("user") or {}).get("role"), perm),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, key: str, status: int, user: dict | None = None) -> HTMLResponse:
        return self.render(request, "error.html", status=status, message_key=key, user=user)

    @staticmethod
    def filter_query(raw: str | None) -> Filters:
        pairs = parse_qsl(raw or "", keep_blank_values=False)
        return Filters.parse({k: v for k, v in pairs})

    @staticmethod
    def item_url(item: Item, filters: Filters) -> str:
        q = urlencode(filters.query())
        return f"/item/{item.item_id}" + (f"?{q}" if q else "")


def web(request: Request) -> Web:
    return request.app.state.web
