"""`POST /api/match`: is this person already known? One person's canonical fields as a JSON
object, matched against the latest run by the library's matching service (bansos_merge.match:
the same path as `bansos-merge match`), read only.

Who may ask: an API token (`Authorization: Bearer ...`, no cookie, so no CSRF), or a
logged-in session whose CSRF token comes in the `X-CSRF-Token` header; the role must allow
"match" (review/auth.py: ROLES). Every query is audited: who, when, and a keyed hash
(HMAC-SHA256 under a key derived from the state's secret) of what was asked, never the values.
The same query gives the same hash, so an auditor holding the state can check whether a given
query was asked, but the hash cannot be reversed by trying NIKs without the key.

The run is loaded on the first query (seconds for a million records) and again when `latest`
moves to a new run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ...errors import UserError
from ...match.latest import LatestCache
from ...match.service import match_one
from ..auth import csrf_ok
from ..web import Forbidden, Web, web
from .api import api_user

router = APIRouter(prefix="/api")
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 16 * 1024
_SETUP = threading.Lock()


def match_user(w: Web, request: Request) -> dict:
    """The user asking: by API token, else by session with its CSRF token in the header."""
    if request.headers.get("authorization"):
        return api_user(w, request)
    user = w.current_user(request)
    if user is None:
        raise Forbidden("error.forbidden", 401)
    if not csrf_ok(request.session.get("csrf"), request.headers.get(CSRF_HEADER)):
        raise Forbidden("error.csrf")
    return user


def _state(request: Request, w: Web) -> tuple[LatestCache, bytes]:
    """The app's matching run and audit key, made on first use."""
    app = request.app
    with _SETUP:
        if getattr(app.state, "match_runs", None) is None:
            app.state.match_audit_key = hmac.new(w.store.secret().encode(), b"bansos-merge match audit", hashlib.sha256).digest()
            app.state.match_runs = LatestCache(w.runs.output_dir)
    return app.state.match_runs, app.state.match_audit_key


@router.post("/match")
async def api_match(request: Request):
    body = await request.body()
    return await run_in_threadpool(_match, web(request), request, body)


def _match(w: Web, request: Request, body: bytes) -> Response:
    user = match_user(w, request)
    w.need(user, "match")
    runs, key = _state(request, w)
    answer: dict = {}
    try:
        answer, code = _answer(runs, body)
    finally:  # audited whatever the answer, a failure included
        digest = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
        w.store.audit(user["name"], "match", None, {"query_hmac": digest, "status": answer.get("status", "refused"),
                                                     "run_id": answer.get("run_id")})  # fmt: skip
    return JSONResponse(answer, status_code=code)


def _answer(runs: LatestCache, body: bytes) -> tuple[dict, int]:
    """(JSON answer, HTTP status): the result row, or one message naming the field (never a value)."""
    if len(body) > MAX_BODY:
        return {"error": f"the body is over {MAX_BODY} bytes: send one person's fields"}, 413
    try:
        query = json.loads(body)
    except ValueError:
        return {"error": "the body is not JSON: send a JSON object of canonical fields"}, 400
    try:
        run = runs.get()
    except UserError as e:  # no run, or one this version cannot read
        return {"error": str(e)}, 503
    try:
        return match_one(run, query), 200
    except UserError as e:
        return {"error": str(e)}, 400


def _canonical(body: bytes) -> bytes:
    """The query as hashed: its JSON re-encoded with sorted keys (spacing and order do not
    change the hash); a body that is not JSON, as sent."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    except ValueError:
        return body
