"""End to end in a real browser: merge the sample, log in to the review app, decide items with
the keyboard (pairs, and a group item whose records are put in persons), merge again with the
decisions applied, and check that the persons respect them.

Playwright drives Debian's chromium (/usr/bin/chromium; never a downloaded browser). The app
runs under uvicorn in a thread on 127.0.0.1 and a free port. Screenshots of the main screens
go to docs/screenshots/review-*.png.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bansos_merge.decisions.store import Store
from bansos_merge.identity import record_keys
from bansos_merge.review.auth import hash_password
from review_fixtures import built_run, copy_output, merge_sample

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed on request only (BANSOS_UPDATE_SCREENSHOTS=1), so a
# test run leaves the work tree as it found it; otherwise they go to a temporary folder.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _screenshot_dir() -> Path:
    if os.environ.get("BANSOS_UPDATE_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOTS
    folder = Path(tempfile.gettempdir()) / "bansos-merge-screenshots"
    folder.mkdir(exist_ok=True)
    return folder
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "kata-sandi-rina-1"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path_factory, tmp_path):
    """The review app over a private copy of the sample's first run, with reviewer rina."""
    import uvicorn

    from bansos_merge.review.app import create_app

    built = built_run(tmp_path_factory)
    out = copy_output(built, tmp_path / "out")
    state = out / "state"
    Store(state).add_user("rina", "reviewer", hash_password(PASSWORD))
    app = create_app(out, state)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the review app did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "app": app, "out": out, "state": state, "config": built.config}
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _pick_items(run):
    """Two review pairs now apart (-> same, -> different), a conflict pair now one person
    (-> different) and another conflict pair (-> unsure)."""
    pid = run.records["person_id"].to_numpy()
    person = lambda key: pid[run.position[key]]  # noqa: E731
    review = [it for it in run.items if it.kind == "review" and not it.group and person(it.left) != person(it.right)]
    together = [it for it in run.items if it.kind != "review" and person(it.left) == person(it.right)]
    assert len(review) >= 2 and len(together) >= 2, "the sample should have review pairs and one-person conflicts"
    return review[0], review[1], together[0], together[1]


def _login(page, base: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", "rina")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")


def _shot(page, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(_screenshot_dir() / f"review-{name}.png"), full_page=full_page)


def _decide_with_key(page, base: str, item, key: str, comment: str | None = None) -> None:
    page.goto(f"{base}/item/{item.item_id}")
    if comment:
        page.keyboard.press("c")  # the shortcut focuses the comment box
        page.keyboard.type(comment)
        page.keyboard.press("Escape")  # leave the box, so that the next key is a shortcut
    with page.expect_navigation():
        page.keyboard.press(key)
    assert page.locator(".flash").first.is_visible()


def test_decide_in_the_browser_then_rerun_respects_the_decisions(browser, server):
    base, app = server["base"], server["app"]
    run = app.state.runs.get()
    same, different, one_person, unsure = _pick_items(run)
    page = browser.new_page(viewport={"width": 1280, "height": 860})

    # Anonymous: the login page. Wrong password first, then the right one.
    page.goto(base + "/")
    assert "/login" in page.url
    _shot(page, "login")
    page.fill("input[name=name]", "rina")
    page.fill("input[name=password]", "salah-sekali")
    page.click("form.stack button[type=submit]")
    assert page.locator(".error").is_visible()
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    assert page.url == base + "/"
    assert page.locator("h1").inner_text() == "Antrean tinjauan"
    _shot(page, "queue", full_page=False)

    # The item page: both records, the evidence, masked NIKs; then decide with the keyboard.
    page.goto(f"{base}/item/{same.item_id}")
    assert page.locator("table.side tr.diff").count() >= 1
    assert page.locator("table.evidence tbody tr").count() == 8
    nik = run.record(same.left)["nik"]
    if isinstance(nik, str):
        assert nik not in page.content()
    _shot(page, "item")
    _decide_with_key(page, base, same, "s", comment="KK, tanggal lahir dan ibu kandung cocok")
    _decide_with_key(page, base, different, "d")
    _decide_with_key(page, base, one_person, "d", comment="dua orang: tanggal lahir berbeda")
    _decide_with_key(page, base, unsure, "u")

    # N goes to the next undecided item; decided items show their decision.
    page.goto(f"{base}/item/{same.item_id}")
    assert "Orang yang sama" in page.locator(".current").inner_text()
    assert "KK, tanggal lahir dan ibu kandung cocok" in page.content()
    next_href = page.get_attribute("#next-link", "href")
    with page.expect_navigation():
        page.keyboard.press("n")
    assert page.url.endswith(next_href)

    # A viewer cannot use the app to decide: the reviewer's progress is on the queue page.
    page.goto(base + "/?lang=en&status=all")
    assert f"4 of {len(run.items)} items decided" in page.locator(".progress-text").inner_text()
    _shot(page, "queue-en", full_page=False)
    page.goto(f"{base}/item/{one_person.item_id}")
    _shot(page, "item-en")

    # Merge again with the decisions applied (as the flow will): persons respect them.
    merged = merge_sample(server["config"], server["out"], decisions_state=server["state"])
    report = merged.decisions_report
    assert (report["applied_same"], report["applied_different"], report["unsure"], report["stale_count"]) == (1, 2, 1, 0)
    keys = record_keys(merged.records).to_numpy()
    person = dict(zip(keys, merged.records["person_id"].to_numpy()))
    assert person[same.left] == person[same.right]
    assert person[different.left] != person[different.right]
    assert person[one_person.left] != person[one_person.right]
    import pandas as pd

    registry = pd.read_parquet(merged.run_dir / "registry.parquet")
    joined = registry[registry["person_id"] == person[same.left]].iloc[0]
    assert joined["n_records"] >= 2
    assert {person[one_person.left], person[one_person.right]} <= set(registry["person_id"])

    # The app serves the new run without a restart; the joined pair left the review queue.
    page.goto(base + "/?status=all")
    assert merged.manifest["run_id"] in page.content()
    assert same.pair not in {it.pair for it in app.state.runs.get().items if it.kind == "review"}
    page.close()


def _persons(page) -> list[str]:
    """The person chosen for each record of a group page, in column order."""
    n = int(page.get_attribute("#group-form", "data-records"))
    return [page.locator(f'input[name="person-{i}"]:checked').get_attribute("value") for i in range(n)]


def test_group_item_in_the_browser_then_rerun_respects_it(browser, server, tmp_path_factory):
    """The household's group (an aid record, a father and a son of one name and card): put
    the aid record with the father by keyboard, save, merge again: the registry agrees."""
    base, app = server["base"], server["app"]
    hh = built_run(tmp_path_factory).household
    run = app.state.runs.get()
    group = next(it for it in run.items if it.group and set(it.records) == {hh.aid, hh.father, hh.son})
    assert list(group.records) == [hh.aid, hh.father, hh.son]
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    _login(page, base)

    # The queue lists the group as one entry; it opens the group page.
    row = page.locator("tr.group").filter(has_text=hh.son)
    assert "Kelompok 3 catatan" in row.inner_text()
    with page.expect_navigation():
        row.locator("a.group-label").click()
    assert f"/item/{group.item_id}" in page.url
    assert page.locator("table.group-side thead th.rec-col").count() == 3
    assert page.locator("table.group-pairs tbody tr").count() == 3
    assert _persons(page) == ["1", "2", "3"]  # as the run left them: three persons

    # Keys 1 1 2: record A in person 1, B in person 1, C in person 2; the chips follow.
    for key in "112":
        page.keyboard.press(key)
    assert _persons(page) == ["1", "1", "2"]
    assert [page.locator(f'[data-chip="{i}"]').inner_text() for i in range(3)] == ["Orang 1", "Orang 1", "Orang 2"]
    page.keyboard.press("c")
    page.keyboard.type("KK sama; tanggal lahir ayah cocok dengan kartu")
    page.keyboard.press("Escape")
    _shot(page, "group")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    _login(phone, base)
    phone.goto(f"{base}/item/{group.item_id}")
    _shot(phone, "group-phone")
    phone.close()
    with page.expect_navigation():
        page.keyboard.press("s")
    assert "3 catatan sebagai 2 orang" in page.locator(".flash").first.inner_text()

    store = Store(server["state"])
    decided = {(d["left"], d["right"]): d["decision"] for d in store.current_decisions()}
    assert decided == {
        tuple(sorted((hh.aid, hh.father))): "same",
        tuple(sorted((hh.aid, hh.son))): "different",
        tuple(sorted((hh.father, hh.son))): "different",
    }
    assert [a["action"] for a in store.audit_log() if a["action"].startswith("decide")] == ["decide_group"]
    page.goto(f"{base}/item/{group.item_id}")
    assert _persons(page) == ["1", "1", "2"]  # the page shows the saved answer

    # Merge again with the decisions: the aid record is the father's, the son stays apart.
    merged = merge_sample(server["config"], server["out"], decisions_state=server["state"])
    assert (merged.decisions_report["applied_same"], merged.decisions_report["applied_different"]) == (1, 2)
    person = dict(zip(record_keys(merged.records).to_numpy(), merged.records["person_id"].to_numpy()))
    assert person[hh.aid] == person[hh.father] != person[hh.son]
    import pandas as pd

    registry = pd.read_parquet(merged.run_dir / "registry.parquet").set_index("person_id")
    assert registry.loc[person[hh.father], "n_records"] == 2 and "bpnt" in registry.loc[person[hh.father], "sources"]
    # the app serves the new run: the question is answered, the group is gone from its queue
    page.goto(base + "/?status=all")
    assert merged.manifest["run_id"] in page.content()
    assert group.item_id not in {it.item_id for it in app.state.runs.get().items}
    page.close()


def test_item_page_leads_with_the_runs_decision_in_indonesian(browser, server):
    """An item the run decided as two people, although its weights alone say one: the first
    thing on the page is the run's decision and its reason; the weights' probability sits
    beside it, labelled as the weights' alone; the evidence levels read in Indonesian."""
    base, app = server["base"], server["app"]
    run = app.state.runs.get()
    pid = run.records["person_id"].to_numpy()
    apart = [it for it in run.items if not it.group and it.right and pid[run.position[it.left]] != pid[run.position[it.right]]]
    item = max(apart, key=lambda it: it.weight)
    assert item.weight > 6, "the sample should hold a pair kept apart against its weights"
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    _login(page, base)
    page.goto(f"{base}/item/{item.item_id}")
    verdict = page.locator("#verdict")
    assert verdict.is_visible()
    assert page.locator("#verdict .run-decision").inner_text() == "Keputusan proses: dua orang"
    assert page.locator("#verdict .run-reason").inner_text().startswith("Alasan: ")
    weights = page.locator("#verdict .weights-only").inner_text()
    assert weights.startswith("Peluang orang yang sama menurut bobot saja: ")
    # it leads: above the decision buttons and the records
    assert verdict.bounding_box()["y"] < page.locator("#decide").bounding_box()["y"] < page.locator("table.side").bounding_box()["y"]
    levels = page.locator("table.evidence td.level").all_inner_texts()
    assert len(levels) == 8 and not any("_" in lv or lv in ("exact", "different", "same", "no evidence") for lv in levels)
    assert "alive" not in page.locator("table.side").inner_text()
    _shot(page, "item-verdict", full_page=False)
    page.goto(f"{base}/item/{item.item_id}?lang=en")
    assert page.locator("#verdict .run-decision").inner_text() == "The run's decision: two people"
    assert "from the weights alone" in page.locator("#verdict .weights-only").inner_text()
    # on a 390 px phone the decision still leads and the page does not scroll sideways: the
    # tables scroll inside their own boxes
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/item/{item.item_id}?lang=id")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    assert page.locator("#verdict .run-decision").is_visible()
    _shot(page, "item-phone", full_page=False)
    page.close()
