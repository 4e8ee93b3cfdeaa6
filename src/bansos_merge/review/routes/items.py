"""Item pages and decisions: a pair (same person / different people / not sure), a group
(each record put in a person, or not sure: stored as a decision on every pair of its
records, one audit entry), a single-record conflict (nothing to decide); NIK reveal."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import strings
from ..items import UNSURE, Item, assignment_decisions, parse_assignment, prefill
from ..pages import LETTERS, brief, masked_values, run_verdict, side_by_side
from ...decisions.store import DECISIONS
from ...publish.masking import mask_ids_in_text
from ..queue import Filters, RunData, decided_pairs, filter_items, next_open
from ..web import MAX_COMMENT, Web, web
from .queue import item_status

log = logging.getLogger(__name__)
router = APIRouter()


@lru_cache(maxsize=512)
def _explain(folder: str, left: str, right: str, reveal: bool):
    from ...explain import explain_pair

    return explain_pair(Path(folder), left, right, show_full_nik=reveal)


def _evidence(run: RunData, item: Item, reveal: bool):
    """A pair's per-field evidence (the same as `explain`), or None."""
    try:
        return _explain(str(run.folder), item.left, item.right, reveal)
    except Exception as e:  # an old run's model, a record gone: the page works without it
        log.warning("review: evidence unavailable for item %s (%s)", item.item_id, type(e).__name__)
        return None


def _others(run: RunData, keys: list[str], reveal: bool) -> list[tuple[str, list[dict]]]:
    """Per person of the shown records, its other records."""
    others, seen = [], set()
    for key in keys:
        pid, recs = run.other_records(key, set(keys))
        if pid not in seen:
            seen.add(pid)
            others.append((pid, [brief(run, k, reveal) for k in recs["key"]]))
    return others


def item_page(w: Web, request: Request, user: dict, item_id: str, filters: Filters, reveal: bool = False) -> HTMLResponse:
    run = w.runs.get()
    item = run.by_id.get(item_id)
    if item is None:
        return w.error(request, "error.not_found", 404, user=user)
    stored = w.store.current_decisions()
    decided = decided_pairs(run, stored)
    keys = item.keys
    # "Item n of N" counts the items matching the filter whatever their status.
    everything = Filters(filters.kind, filters.region, filters.source, filters.min, filters.max, "all")
    shown = filter_items(run, everything, decided) if not item.info else []
    stale = {f"{d['left']}|{d['right']}" for d in stored} - set(decided)
    context = dict(
        user=user,
        run=run,
        item=item,
        rows=side_by_side(run, keys, reveal, w.lang_of(request)),
        letters=dict(zip(keys, LETTERS)),
        others=_others(run, keys, reveal),
        current=item_status(item, decided),
        stale_history=any(p in stale for p in item.all_pairs) and not item.done(decided),
        next_url=(nxt := next_open(run, filters, decided, item.item_id)) and w.item_url(nxt, filters),
        back_url="/?" + urlencode(filters.query()),
        filter_q=urlencode(filters.query()),
        position=next((i for i, it in enumerate(shown, start=1) if it.item_id == item.item_id), None),
        shown=len(shown),
        reveal=reveal,
        conflicts=[(c, masked_values(c, reveal, w.lang_of(request)), c.explanation if reveal else mask_ids_in_text(c.explanation)) for c in item.conflicts],
    )
    if item.group:
        persons = prefill(item, decided, {k: run.person(k) for k in keys})
        return w.render(request, "group.html", persons=persons, decided=decided, **context)
    evidence = None if item.info else _evidence(run, item, reveal)
    history = [] if item.info else w.store.pair_history(item.left, item.right)
    verdict = run_verdict(run, item, evidence, w.lang_of(request))
    return w.render(request, "item.html", evidence=evidence, history=history, verdict=verdict, **context)


@router.get("/item/{item_id}", response_class=HTMLResponse)
def item(request: Request, item_id: str):
    w = web(request)
    user = w.page_user(request)
    if isinstance(user, Response):
        return user
    return item_page(w, request, user, item_id, Filters.parse(request.query_params))


@router.post("/item/{item_id}/decide")
async def decide(request: Request, item_id: str):
    return await run_in_threadpool(_decide, web(request), request, item_id, await request.form())


def _decide(w: Web, request: Request, item_id: str, form) -> Response:
    checked = w.posted_item(request, item_id, form, "decide")
    if isinstance(checked, Response):
        return checked
    user, run, item = checked
    if item.info:
        return w.error(request, "error.not_found", 404, user=user)
    decision = str(form.get("decision", ""))
    comment = str(form.get("comment", ""))[:MAX_COMMENT]
    lang = w.lang_of(request)
    if item.group:
        n = len(item.records)
        persons = [UNSURE] * n if decision == UNSURE else parse_assignment([str(form.get(f"person-{i}", "")) for i in range(n)], n)
        if decision not in ("group", UNSURE) or persons is None:
            return w.error(request, "error.bad_request", 400, user=user)
        pairs = assignment_decisions(item.records, persons)
        detail = {"item": item.item_id, "persons": [str(p) for p in persons], **{d: sum(x[2] == d for x in pairs) for d in DECISIONS}}
        w.store.add_group_decision(pairs, {k: run.fingerprint(k) for k in item.records}, user["name"], comment, run.run_id, detail)
        sure = [p for p in persons if p != UNSURE]
        message = strings.t("flash.saved_group", lang, records=n, persons=len(set(sure)), unsure=n - len(sure))
    else:
        if decision not in DECISIONS:
            return w.error(request, "error.bad_request", 400, user=user)
        w.store.add_decision(
            item.left, item.right, decision, user["name"], comment, run.fingerprint(item.left), run.fingerprint(item.right), run.run_id
        )
        message = strings.t("flash.saved", lang, decision=strings.t(f"decision.{decision}", lang))
    w.flash(request, message)
    filters = w.filter_query(str(form.get("q", "")))
    nxt = next_open(run, filters, decided_pairs(run, w.store.current_decisions()), item.item_id)
    if nxt is None:
        w.flash(request, strings.t("flash.done", lang))
        return RedirectResponse("/?" + urlencode(filters.query()), status_code=303)
    return RedirectResponse(w.item_url(nxt, filters), status_code=303)


@router.post("/item/{item_id}/reveal", response_class=HTMLResponse)
async def reveal(request: Request, item_id: str):
    return await run_in_threadpool(_reveal, web(request), request, item_id, await request.form())


def _reveal(w: Web, request: Request, item_id: str, form) -> Response:
    checked = w.posted_item(request, item_id, form, "reveal")
    if isinstance(checked, Response):
        return checked
    user, run, item = checked
    w.store.audit(user["name"], "reveal_nik", item.target, {"item": item_id, "run_id": run.run_id})
    return item_page(w, request, user, item_id, w.filter_query(str(form.get("q", ""))), reveal=True)
