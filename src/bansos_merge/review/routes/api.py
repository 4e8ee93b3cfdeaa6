"""The JSON API: `Authorization: Bearer <token>` only (no cookies, so no CSRF)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..items import Item
from ..queue import Filters, decided_pairs, filter_items
from ...decisions.store import DECISIONS
from ..web import MAX_COMMENT, Forbidden, Web, web

router = APIRouter(prefix="/api")


def api_user(w: Web, request: Request) -> dict:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = w.store.user_for_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if user is None:
        raise Forbidden("error.forbidden", 401)
    return user


def _number(value: float, digits: int) -> float | None:
    return None if value != value else round(value, digits)


def _item(it: Item, decided: dict[str, dict]) -> dict:
    """An item as JSON: a pair's `left`, `right` and decision; a group's `records` and the
    current decision of each pair it asks about (`right` and `decision` are null)."""
    out = {
        "item_id": it.item_id,
        "kinds": it.kinds,
        "reason": it.reason,
        "queue_no": it.queue_no,
        "stake": it.stake,
        "doubt": _number(it.doubt, 4),
        "group": it.group,
        "records": it.keys,
        "left": it.left,
        "right": it.right,
        "weight": _number(it.weight, 3),
        "decision": None if it.group else (decided.get(it.pair) or {}).get("decision"),
    }
    if it.group:
        out["pairs"] = [{"pair": p, "decision": (decided.get(p) or {}).get("decision")} for p in it.asked]
    return out


@router.get("/items")
def api_items(request: Request):
    w = web(request)
    user = api_user(w, request)
    w.need(user, "view")
    run = w.runs.get()
    decided = decided_pairs(run, w.store.current_decisions())
    return {"run_id": run.run_id, "items": [_item(it, decided) for it in filter_items(run, Filters.parse(request.query_params), decided)]}


@router.post("/decisions")
async def api_decide(request: Request):
    w = web(request)
    user = await run_in_threadpool(api_user, w, request)
    w.need(user, "decide")
    try:
        body = await request.json()
        left, right, decision = str(body["left"]), str(body["right"]), str(body["decision"])
        comment = str(body.get("comment") or "")[:MAX_COMMENT]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {left, right, decision, comment?}"}, status_code=400)
    return await run_in_threadpool(_decide, w, user, left, right, decision, comment)


def _decide(w: Web, user: dict, left: str, right: str, decision: str, comment: str) -> Response:
    run = w.runs.get()
    if decision not in DECISIONS or left == right:
        return JSONResponse({"error": f"decision must be one of {', '.join(DECISIONS)}, on two records"}, status_code=400)
    missing = [k for k in (left, right) if run.fingerprint(k) is None]
    if missing:
        return JSONResponse({"error": f"no such record in run {run.run_id}: {', '.join(missing)}"}, status_code=404)
    row = w.store.add_decision(left, right, decision, user["name"], comment, run.fingerprint(left), run.fingerprint(right), run.run_id)
    return JSONResponse(row, status_code=201)
