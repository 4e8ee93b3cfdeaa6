"""The queue page (review items in the queue's order, then conflict pairs; single-record
conflicts for information) and the decisions export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ...decisions.export import export_decisions
from ..items import Item
from ..pages import LETTERS, brief
from ..queue import PAGE_SIZE, Filters, decided_pairs, filter_info, filter_items, next_open
from ..web import web

router = APIRouter()


def item_status(item: Item, decided: dict[str, dict]) -> dict | None:
    """What the queue shows in an item's decision column: a pair's decision; for a group, its
    latest decision once every pair it asks about is decided, else how many are (or None)."""
    done = [decided[p] for p in item.asked if p in decided]
    if not done:
        return None
    latest = max(done, key=lambda d: d["decided_at"])
    if not item.group:
        return latest
    return {**latest, "decision": "group" if len(done) == len(item.asked) else "partial", "done": len(done), "of": len(item.asked)}


def progress(items: list[Item], decided: dict[str, dict]) -> dict:
    """Items and pairs done: an item is done when every pair it asks about is decided."""
    return {
        "items": len(items),
        "items_done": sum(it.done(decided) for it in items),
        "pairs": sum(len(it.asked) for it in items),
        "pairs_done": sum(it.pairs_done(decided) for it in items),
    }


@router.get("/", response_class=HTMLResponse)
def queue(request: Request):
    w = web(request)
    user = w.page_user(request)
    if isinstance(user, Response):
        return user
    run = w.runs.get()
    filters = Filters.parse(request.query_params)
    decided = decided_pairs(run, w.store.current_decisions())
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
        by_kind.append((kind, len(members), sum(it.done(decided) for it in members)))
    info = filter_info(run, filters)
    first_open = next_open(run, filters, decided, None)
    rows = [
        (it, [brief(run, k) for k in it.keys], item_status(it, decided)) for it in shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    ]
    return w.render(
        request,
        "queue.html",
        user=user,
        run=run,
        filters=filters,
        rows=rows,
        shown=len(shown),
        shown_decided=sum(it.done(decided) for it in shown),
        progress=progress(run.items, decided),
        by_kind=by_kind,
        info=[(it, brief(run, it.left)) for it in info[:200]],
        info_total=len(info),
        page=page,
        pages=pages,
        page_url=lambda p: "/?" + urlencode(filters.query(page=p)),
        kind_url=lambda k: "/?" + urlencode(filters.query(kind=k)),
        item_url=lambda it: w.item_url(it, filters),
        first_open=first_open and w.item_url(first_open, filters),
        letters=LETTERS,
    )


@router.get("/export")
def export(request: Request):
    w = web(request)
    user = w.page_user(request)
    if isinstance(user, Response):
        return user
    w.need(user, "export")
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "parquet"):
        return w.error(request, "error.bad_request", 400, user=user)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"decisions.{fmt}"
        export_decisions(w.state_dir, path, fmt, user=user["name"])
        data = path.read_bytes()
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="decisions.{fmt}"'})
