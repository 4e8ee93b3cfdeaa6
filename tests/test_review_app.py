"""The review web app against a real run folder (FastAPI's TestClient): login, sessions,
CSRF, roles, masking, decisions, audit, filters, language."""

from __future__ import annotations

import re
import sqlite3
from html import unescape
import time
import warnings

import pandas as pd
import pytest

with warnings.catch_warnings():  # starlette's TestClient asks for httpx2; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from bansos_merge.publish import i18n  # noqa: E402
from bansos_merge.review.app import create_app  # noqa: E402
from bansos_merge.review.auth import hash_password, new_token  # noqa: E402
from bansos_merge.decisions.constraints import constraints, load_decisions  # noqa: E402
from bansos_merge.decisions.store import Store  # noqa: E402
from bansos_merge.identity import record_keys  # noqa: E402
from bansos_merge.review.queue import RunData  # noqa: E402
from review_fixtures import built_run, copy_output  # noqa: E402

PASSWORD = "kata-sandi-uji-1"
USERS = {"ana": "admin", "rudi": "reviewer", "vera": "viewer"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return built_run(tmp_path_factory)


def _state(path, token_user: str | None = None) -> tuple[Store, str | None]:
    store = Store(path)
    hashed = hash_password(PASSWORD)
    for name, role in USERS.items():
        store.add_user(name, role, hashed)
    token = None
    if token_user:
        token = new_token()
        store.add_user(token_user, "reviewer", None)
        store.add_token(token_user, token)
    return store, token


@pytest.fixture(scope="module")
def env(run, tmp_path_factory):
    """One app over the shared run, with its own state (users ana/rudi/vera, token user bot)."""
    state = tmp_path_factory.mktemp("review_state")
    store, token = _state(state, "bot")
    app = create_app(run.output_dir, state)
    return {"app": app, "store": store, "state": state, "token": token, "run": app.state.runs.get()}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(app, name: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app)
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text), "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return client


def pair_items(env, kind: str | None = None):
    """The pair items (not groups) of the run, of `kind` if given."""
    return [it for it in env["run"].items if not it.group and (kind is None or it.kind == kind)]


def position(records: pd.DataFrame, key: str) -> int:
    return int((record_keys(records) == key).to_numpy().nonzero()[0][0])


# ----------------------------------------------------------------------------- access


def test_anonymous_requests_are_redirected_or_refused(env):
    client = TestClient(env["app"])
    item = pair_items(env)[0]
    for path in ("/", f"/item/{item.item_id}", "/export?format=csv", "/?kind=review"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "same"}, follow_redirects=False)
    assert r.status_code in (303, 403)
    assert client.get("/api/items").status_code == 401
    assert client.get("/login").status_code == 200
    assert client.get("/static/review.css").status_code == 200
    assert env["store"].current_decisions() == [] or all(d["analyst"] != "" for d in env["store"].current_decisions())


def test_security_headers_and_no_store(env):
    r = TestClient(env["app"]).get("/login")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


def test_wrong_password_refused_audited_and_throttled(env):
    env["store"].add_user("tina", "reviewer", hash_password(PASSWORD))
    client = TestClient(env["app"])
    for _ in range(5):
        page = client.get("/login")
        r = client.post("/login", data={"name": "tina", "password": "salah-sekali", "csrf": csrf_of(page.text)})
        assert r.status_code == 401
    page = client.get("/login")
    r = client.post("/login", data={"name": "tina", "password": "salah-sekali", "csrf": csrf_of(page.text)})
    assert r.status_code == 429
    failed = [a for a in env["store"].audit_log() if a["action"] == "login_failed" and a["user"] == "tina"]
    assert len(failed) == 5
    # the password is in no audit row
    assert not any("salah" in str(a) for a in env["store"].audit_log())
    # a good password is also refused while throttled; other users are not affected
    r = client.post("/login", data={"name": "tina", "password": PASSWORD, "csrf": csrf_of(client.get("/login").text)})
    assert r.status_code == 429
    login(env["app"], "ana")


def test_login_form_without_csrf_is_refused(env):
    r = TestClient(env["app"]).post("/login", data={"name": "ana", "password": PASSWORD})
    assert r.status_code == 403


def test_forged_decision_form_is_refused(env):
    client = login(env["app"], "ana")
    item = pair_items(env)[1]
    before = len(env["store"].all_decisions())
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "same"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "same", "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    # a token from another session is no good either
    other = login(env["app"], "ana")
    foreign = csrf_of(other.get(f"/item/{item.item_id}").text)
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "same", "csrf": foreign}, follow_redirects=False)
    assert r.status_code == 403
    assert len(env["store"].all_decisions()) == before


def test_viewer_can_look_but_not_decide_nor_reveal(env):
    client = login(env["app"], "vera")
    item = pair_items(env)[2]
    page = client.get(f"/item/{item.item_id}")
    assert page.status_code == 200
    assert 'data-decision="same"' not in page.text and "/reveal" not in page.text
    token = csrf_of(page.text)
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "same", "csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"/item/{item.item_id}/reveal", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    assert not [d for d in env["store"].all_decisions() if d["analyst"] == "vera"]
    assert not [a for a in env["store"].audit_log() if a["user"] == "vera" and a["action"] in ("decide", "reveal_nik")]


def test_reviewer_cannot_reveal(env):
    client = login(env["app"], "rudi")
    item = pair_items(env)[2]
    page = client.get(f"/item/{item.item_id}")
    assert "/reveal" not in page.text
    r = client.post(f"/item/{item.item_id}/reveal", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403


# ----------------------------------------------------------------------------- decisions


def test_reviewer_decision_is_stored_audited_and_becomes_a_constraint(env):
    store, run = env["store"], env["run"]
    client = login(env["app"], "rudi")
    same_item = pair_items(env, "review")[0]
    diff_item = next(it for it in run.items if it.kind != "review")
    page = client.get(f"/item/{same_item.item_id}")
    t0 = pd.Timestamp.now(tz="UTC")
    r = client.post(
        f"/item/{same_item.item_id}/decide",
        data={"decision": "same", "comment": "KK dan tanggal lahir cocok", "csrf": csrf_of(page.text), "q": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/item/")
    assert r.headers["location"] != f"/item/{same_item.item_id}"
    page = client.get(f"/item/{diff_item.item_id}")
    client.post(f"/item/{diff_item.item_id}/decide", data={"decision": "different", "csrf": csrf_of(page.text)})

    decisions = load_decisions(env["state"])
    row = decisions[decisions["decision"] == "same"].iloc[-1]
    assert {row["left"], row["right"]} == {same_item.left, same_item.right}
    assert row["analyst"] == "rudi" and row["comment"] == "KK dan tanggal lahir cocok"
    assert row["run_id"] == run.run_id
    assert abs((row["decided_at"] - t0).total_seconds()) < 60
    audit = [a for a in store.audit_log() if a["action"] == "decide" and a["user"] == "rudi"]
    assert {a["target"] for a in audit} >= {same_item.pair, diff_item.pair}

    must, cannot, report = constraints(decisions, run.records)
    pos = lambda k: position(run.records, k)  # noqa: E731
    expected_same = tuple(sorted((pos(same_item.left), pos(same_item.right))))
    expected_diff = tuple(sorted((pos(diff_item.left), pos(diff_item.right))))
    assert expected_same in set(map(tuple, must[["left", "right"]].to_numpy().tolist()))
    assert expected_diff in set(map(tuple, cannot[["left", "right"]].to_numpy().tolist()))
    assert report["applied_same"] >= 1 and report["applied_different"] >= 1 and report["stale_count"] == 0

    # the queue and the item page show the decision
    item_page = client.get(f"/item/{same_item.item_id}").text
    assert "KK dan tanggal lahir cocok" in item_page and "Orang yang sama" in item_page
    decided = client.get("/?status=decided").text
    assert f"/item/{same_item.item_id}" in decided
    assert f"/item/{same_item.item_id}" not in client.get("/?kind=review&status=open").text


def test_latest_decision_wins_and_the_log_is_append_only(env):
    client = login(env["app"], "ana")
    item = pair_items(env, "review")[1]
    for decision in ("same", "unsure", "different"):
        page = client.get(f"/item/{item.item_id}")
        client.post(f"/item/{item.item_id}/decide", data={"decision": decision, "csrf": csrf_of(page.text)})
    current = load_decisions(env["state"])
    mine = current[(current["left"] + "|" + current["right"]) == item.pair]
    assert mine["decision"].tolist() == ["different"]
    assert [h["decision"] for h in env["store"].pair_history(item.left, item.right)] == ["different", "unsure", "same"]
    with sqlite3.connect(env["store"].path) as con, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE decisions SET decision = 'same'")
    with sqlite3.connect(env["store"].path) as con, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")


def test_bad_decision_value_and_info_item_are_refused(env):
    client = login(env["app"], "rudi")
    item = pair_items(env)[7]
    page = client.get(f"/item/{item.item_id}")
    r = client.post(f"/item/{item.item_id}/decide", data={"decision": "maybe", "csrf": csrf_of(page.text)})
    assert r.status_code == 400
    info = env["run"].info_items[0]
    page = client.get(f"/item/{info.item_id}")
    assert page.status_code == 200 and 'data-decision="same"' not in page.text
    r = client.post(f"/item/{info.item_id}/decide", data={"decision": "same", "csrf": csrf_of(page.text)})
    assert r.status_code == 404


# ----------------------------------------------------------------------------- masking


def _niks(records: pd.DataFrame) -> set[str]:
    values = pd.concat([records["nik"], records["nik_raw"], records["kk"]]).dropna().astype(str)
    return {v for v in values if re.fullmatch(r"[0-9]{16}", v)}


def test_niks_are_masked_for_reviewers_and_revealed_for_admins_with_audit(env, caplog):
    caplog.set_level("DEBUG")
    run = env["run"]
    niks = _niks(run.records)
    item = next(it for it in pair_items(env, "review") if not pd.isna(run.record(it.left)["nik"]))
    nik = str(run.record(item.left)["nik"])
    reviewer = login(env["app"], "rudi")
    for path in ("/", "/?status=all", f"/item/{item.item_id}"):
        html = reviewer.get(path).text
        assert not [n for n in niks if n in html], path
    assert nik[:4] + "********" + nik[12:] in reviewer.get(f"/item/{item.item_id}").text

    admin = login(env["app"], "ana")
    page = admin.get(f"/item/{item.item_id}")
    assert nik not in page.text and "/reveal" in page.text
    revealed = admin.post(f"/item/{item.item_id}/reveal", data={"csrf": csrf_of(page.text)})
    assert revealed.status_code == 200 and nik in revealed.text
    reveals = [a for a in env["store"].audit_log() if a["action"] == "reveal_nik" and a["user"] == "ana"]
    assert reveals and reveals[0]["target"] == item.pair
    assert nik not in str(reveals[0])  # the audit log names records, never NIKs
    # revealing is per request: the next page is masked again
    assert nik not in admin.get(f"/item/{item.item_id}").text
    # and no NIK reached the logs
    assert not [n for n in niks if n in caplog.text]


# ----------------------------------------------------------------------------- sessions


def test_session_expires(run, tmp_path):
    _state(tmp_path / "state")
    app = create_app(run.output_dir, tmp_path / "state", session_max_age=1)
    client = login(app, "rudi")
    assert client.get("/", follow_redirects=False).status_code == 200
    time.sleep(1.3)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    assert "Sesi Anda telah berakhir" in client.get(r.headers["location"]).text


def test_logout_ends_the_session_even_for_a_copied_cookie(env):
    client = login(env["app"], "rudi")
    stolen = dict(client.cookies)
    page = client.get("/")
    r = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    replay = TestClient(env["app"], cookies=stolen)
    assert replay.get("/", follow_redirects=False).status_code == 303
    assert [a for a in env["store"].audit_log() if a["action"] == "logout" and a["user"] == "rudi"]


def test_disabled_user_loses_the_session(run, tmp_path):
    store, _ = _state(tmp_path / "state")
    app = create_app(run.output_dir, tmp_path / "state")
    client = login(app, "rudi")
    store.set_disabled("rudi", True)
    assert client.get("/", follow_redirects=False).status_code == 303


# ----------------------------------------------------------------------------- queue


def test_queue_counts_filters_and_progress(env):
    run = env["run"]
    client = login(env["app"], "vera")
    html = client.get("/?status=all").text
    assert f"dari {len(run.items)} butir" in html and f"dari {sum(len(it.asked) for it in run.items)} pasangan" in html
    kinds = {k for it in run.items for k in it.kinds}
    assert "review" in kinds and len(kinds) >= 3
    for kind in kinds:
        html = client.get(f"/?kind={kind}&status=all").text
        shown = set(re.findall(r'href="/item/([pg][0-9a-f]{12})', html))
        assert shown and all(kind in run.by_id[i].kinds for i in shown)
    source = "bpnt"
    shown = set(re.findall(r'href="/item/([pg][0-9a-f]{12})', client.get(f"/?source={source}&status=all").text))
    assert shown and all(source in run.by_id[i].sources for i in shown)
    shown = set(re.findall(r'href="/item/([pg][0-9a-f]{12})', client.get("/?min=15&status=all").text))
    assert shown and all(run.by_id[i].weight >= 15 for i in shown)
    region = run.regions[0]
    shown = set(re.findall(r'href="/item/([pg][0-9a-f]{12})', client.get(f"/?region={region}&status=all").text))
    assert shown and all(region in run.by_id[i].regions for i in shown)
    # single-record conflicts are listed for information
    assert run.info_items and "Konflik satu catatan" in client.get("/").text


def test_queue_items_cover_review_pairs_and_multi_record_conflicts(env, run):
    items = env["run"].items
    pairs = {p for it in items for p in it.all_pairs}
    review = pd.read_parquet(run.output_dir / "latest" / "review.parquet")
    for r in review.itertuples():
        left, right = f"{r.left_source}:{r.left_record_id}", f"{r.right_source}:{r.right_record_id}"
        assert "|".join(sorted((left, right))) in pairs
    conflicts = pd.read_parquet(run.output_dir / "latest" / "conflicts.parquet")
    multi = conflicts[conflicts["kind"] != "review_needed"].groupby("conflict_id")["record_id"].size()
    covered = {c.conflict_id for it in items for c in it.conflicts}
    assert set(multi[multi >= 2].index) <= covered
    single = set(multi[multi == 1].index) - covered  # deceased with one aid record is a pair (registry record)
    assert single <= {it.conflict_id for it in env["run"].info_items}
    assert all(len(it.sources) >= 1 and it.left != it.right for it in items)


def test_an_ineligible_recipient_is_checked_against_the_exclusion_record(env, run):
    """The analyst's question: is this recipient the person on the exclusion list?"""
    latest = run.output_dir / "latest"
    conflicts = pd.read_parquet(latest / "conflicts.parquet")
    records = pd.read_parquet(latest / "records.parquet", columns=["source", "record_id", "source_kind", "person_id"])
    records.index = records["source"] + ":" + records["record_id"]
    aid = set((conflicts["source"] + ":" + conflicts["record_id"])[conflicts["kind"] == "ineligible"])
    assert aid  # the sample plants recipients on the exclusion list
    pairs = [(it.left, it.right) for it in env["run"].items if "ineligible" in it.kinds]
    for key in aid:
        partners = [b if a == key else a for a, b in pairs if key in (a, b)]
        assert partners, key
        assert all(records.loc[k, "source_kind"] == "exclusion_list" for k in partners)
        assert all(records.loc[k, "person_id"] == records.loc[key, "person_id"] for k in partners)


def test_language_switch(env):
    client = login(env["app"], "vera")
    html = client.get("/?lang=en").text
    assert "Review queue" in html and '<html lang="en">' in html
    assert "Review queue" in client.get("/").text  # remembered in a cookie
    assert "Antrean tinjauan" in client.get("/?lang=id").text


def _cells(html: str, css: str) -> list[str]:
    return [unescape(re.sub(r"\s+", " ", c).strip()) for c in re.findall(rf'<td class="{css}">(.*?)</td>', html, re.S)]


def _record_row(html: str, label: str) -> list[str]:
    """The values of one row of the side-by-side records table, by its label."""
    row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', html, re.S).group(1)
    return [unescape(re.sub(r"<[^>]+>", "", c).strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_every_evidence_level_and_record_code_has_both_languages():
    """A level the linkage model names (and explain's "no evidence") reads as words in both
    languages: Indonesian, not the English code; English, not snake_case."""
    from bansos_merge.link.comparisons import COMPARISONS
    from bansos_merge.review import strings

    levels = {lv for c in COMPARISONS for lv in c.levels} | {"no_evidence"}
    for code in levels:
        for lang in ("id", "en"):
            assert f"level.{code}" in strings.STRINGS[lang], (lang, code)
        assert "_" not in strings.t(f"level.{code}", "en")
        assert strings.t(f"level.{code}", "id") != code.replace("_", " "), code
    assert strings.label_or_code("life", "alive", "id") == "hidup"
    assert strings.label_or_code("sex", "P", "en") == "female"


def test_indonesian_item_pages_show_levels_statuses_and_flags_in_indonesian(env, run):
    """Every pair item's page, both languages: the evidence levels and the record rows
    (NIK status, sex, alive/deceased, data-quality flags) follow the page's language."""
    from bansos_merge.review import strings

    client = login(env["app"], "vera")
    english_levels = {v for k, v in strings.STRINGS["en"].items() if k.startswith("level.")}
    indonesian_levels = {v for k, v in strings.STRINGS["id"].items() if k.startswith("level.")}
    records = run.merged.records.set_index(record_keys(run.merged.records))
    seen_levels, seen_status, seen_flags = set(), set(), 0
    for item in pair_items(env):
        page = client.get(f"/item/{item.item_id}?lang=id").text
        levels = _cells(page, "level")
        assert levels and set(levels) <= indonesian_levels, set(levels) - indonesian_levels
        seen_levels |= set(levels)
        status = _record_row(page, "Status hidup")
        assert not {"alive", "deceased"} & {v.split(" ")[0] for v in status}, status
        seen_status |= {v.split(" ")[0] for v in status if v != "–"}
        for key, sex in zip(item.keys, _record_row(page, "Jenis kelamin")):
            code = records.loc[key, "sex"]
            assert sex == {"L": "laki-laki", "P": "perempuan"}.get(code, "–"), (key, sex)
        for key, flags in zip(item.keys, _record_row(page, "Catatan mutu data")):
            codes = list(records.loc[key, "flags"])
            assert not any(code in flags for code in codes), flags
            seen_flags += len(codes)
        english = client.get(f"/item/{item.item_id}?lang=en").text
        assert set(_cells(english, "level")) <= english_levels
        assert "_" not in "".join(_record_row(english, "Data-quality flags") + _record_row(english, "NIK status"))
    assert {"sama persis", "berbeda", "tidak ada data"} <= seen_levels
    assert "hidup" in seen_status and seen_flags > 0


def _conflict_lines(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>|\s+", " ", m).strip()) for m in re.findall(r'<section class="card conflict .*?<p class="sub">(.*?)</p>', html, re.S)]


def test_conflict_values_that_are_codes_follow_the_language(env):
    """A deceased recipient's conflict reads "status hidup: meninggal <date>", an invalid NIK
    its status in words (e.g. "digit hilang di Excel"), not the English codes."""
    client = login(env["app"], "vera")
    deceased = [it for it in env["run"].items if "deceased" in it.kinds]
    invalid = [it for it in env["run"].info_items if "invalid_nik" in it.kinds][:20]
    assert deceased and invalid
    for it in deceased:
        lines = [ln for ln in _conflict_lines(client.get(f"/item/{it.item_id}?lang=id").text) if ln.startswith("status hidup:")]
        assert lines and all(re.match(r"status hidup: meninggal \d{4}-\d\d-\d\d", ln) for ln in lines), lines
        english = _conflict_lines(client.get(f"/item/{it.item_id}?lang=en").text)
        assert any(ln.startswith("alive/deceased: deceased ") for ln in english), english
    labels = set(i18n.LABELS["id"]["nik_status"].values())
    for it in invalid:
        line = next(ln for ln in _conflict_lines(client.get(f"/item/{it.item_id}?lang=id").text) if ln.startswith("NIK:"))
        shown = line.split(":", 1)[1].split("·")[0].strip()
        assert set(shown.split("; ")) <= labels and "_" not in shown, line


def test_item_headline_leads_with_the_runs_decision(env, run):
    """The top of a pair item says what the run decided (one person or two) and why; the
    weights' probability sits beside it, labelled as the weights' alone, never as "Skor"."""
    records = run.merged.records.set_index(record_keys(run.merged.records))
    client = login(env["app"], "vera")
    decided = {True: 0, False: 0}
    apart_despite_weights = 0
    for item in pair_items(env):
        page = client.get(f"/item/{item.item_id}?lang=id").text
        verdict = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(r'id="verdict">(.*?)</p>', page, re.S).group(1))).strip())
        same = records.loc[item.left, "person_id"] == records.loc[item.right, "person_id"]
        decided[bool(same)] += 1
        assert verdict.startswith("Keputusan proses: " + ("satu orang" if same else "dua orang")), verdict
        assert "Alasan: " in verdict and "Peluang orang yang sama menurut bobot saja: " in verdict
        assert not re.search(r"Skor [\d-]|\(peluang", page) and "100,0%" not in verdict
        if not same and item.weight > 6:  # the weights alone say one person, the run said two
            apart_despite_weights += 1
            assert "> 99,9%" in verdict or "bobot saja: 9" in verdict
            reason = verdict.split("Alasan: ", 1)[1]
            assert not reason.startswith("bukti per kolom melewati"), verdict  # the reason explains the decision
    assert decided[True] and decided[False] and apart_despite_weights
    item = next(it for it in pair_items(env) if records.loc[it.left, "person_id"] != records.loc[it.right, "person_id"])
    english = unescape(re.sub(r"\s+", " ", client.get(f"/item/{item.item_id}?lang=en").text))
    assert "The run's decision: two people" in english and "from the weights alone" in english


# ----------------------------------------------------------------------------- API


def test_api_with_a_token(env):
    client = TestClient(env["app"])
    headers = {"Authorization": f"Bearer {env['token']}"}
    items = client.get("/api/items", headers=headers).json()["items"]
    assert items and set(items[0]) >= {"item_id", "left", "right", "decision"}
    left, right = items[-1]["left"], items[-1]["right"]
    r = client.post("/api/decisions", headers=headers, json={"left": left, "right": right, "decision": "unsure"})
    assert r.status_code == 201 and r.json()["analyst"] == "bot"
    assert client.post("/api/decisions", headers={"Authorization": "Bearer nope"}, json={}).status_code == 401
    r = client.post("/api/decisions", headers=headers, json={"left": "x:1", "right": left, "decision": "same"})
    assert r.status_code == 404
    # a browser session is not an API credential
    assert login(env["app"], "ana").get("/api/items").status_code == 401


def test_token_logs_in_on_the_form(env):
    login(env["app"], "bot", env["token"])


# ----------------------------------------------------------------------------- queue order and group items


def household_group(env, run):
    """The group item of the fixture's household (an aid record, a father and a son)."""
    hh = run.household
    group = next(it for it in env["run"].items if it.group and set(it.records) == {hh.aid, hh.father, hh.son})
    assert group.records[0] == hh.aid, "the record the group's pairs share comes first"
    return group


def test_queue_follows_review_parquet_one_entry_per_item(env, run):
    review = pd.read_parquet(run.output_dir / "latest" / "review.parquet").sort_values("queue_rank")
    items = env["run"].items
    queued = items[: review["item"].nunique()]
    # the review items come first, in the queue's order, one per queue item
    assert [it.queue_no for it in queued] == [i + 1 for i in review["item"].drop_duplicates()]
    for it, (_, rows) in zip(queued, review.groupby("item", sort=False)):
        keys = set(rows["left_source"] + ":" + rows["left_record_id"]) | set(rows["right_source"] + ":" + rows["right_record_id"])
        assert set(it.keys) == keys and it.group == (rows["item_records"].iloc[0] >= 3)
        assert len(it.asked) == len(rows) and it.value == pytest.approx(rows["value"].sum())
    assert not any(it.queue_no for it in items[len(queued) :])  # then the conflicts
    groups = [it for it in queued if it.group]
    assert household_group(env, run) in groups

    html = login(env["app"], "vera").get("/?status=all").text
    for it in groups:
        assert html.count(f'href="/item/{it.item_id}') >= 1
        assert f"Kelompok {len(it.records)} catatan" in html
    group = household_group(env, run)
    row = html[html.index(f'class="item-link" href="/item/{group.item_id}') :]
    row = row[: row.index("</tr>")]
    assert "Penerima tidak ada di catatan sipil" in row  # the stake, translated
    assert f"{round(100 * group.doubt)}%" in row  # the doubt as a percentage
    assert "Recipient missing from the civil registry" in login(env["app"], "vera").get("/?lang=en&status=all").text


def test_group_item_page_shows_the_records_side_by_side_and_their_pairs(env, run):
    group = household_group(env, run)
    client = login(env["app"], "rudi")
    html = client.get(f"/item/{group.item_id}").text
    # one column per record, a person choice per record, prefilled with the run's persons:
    # the run kept the three apart (the aid record fits two registry persons equally well)
    for i, key in enumerate(group.records):
        assert f"{'ABC'[i]}</span> {key}" in html
        checked = re.findall(rf'name="person-{i}" value="(\w+)"[^>]*checked', html)
        assert checked == [str(i + 1)], (key, checked)
    assert html.count('type="radio"') == 3 * 4  # persons 1-3 and "not sure" for each record
    # the pairs: all three, with the two the queue asks about marked, each with its evidence
    pairs = html[html.index('class="evidence group-pairs"') :]
    pairs = pairs[: pairs.index("</table>")]
    assert pairs.count("<tr class=") == 3 and pairs.count("●") == 2
    assert "desa/kelurahan sama" in pairs and "tidak ada data" in pairs  # the evidence levels, in Indonesian
    english = login(env["app"], "rudi").get(f"/item/{group.item_id}?lang=en").text
    pairs_en = english[english.index('class="evidence group-pairs"') :]
    assert "same village" in pairs_en and "no evidence" in pairs_en and "_" not in pairs_en[: pairs_en.index("</table>")]
    # NIKs masked; a viewer sees the records but no choices
    nik = str(run.merged.records.set_index(record_keys(run.merged.records))["nik"][run.household.father])
    assert nik not in html and nik[:4] + "********" + nik[12:] in html
    viewer = login(env["app"], "vera").get(f"/item/{group.item_id}").text
    assert 'type="radio"' not in viewer and 'data-decision="group"' not in viewer and run.household.son in viewer


def test_group_decision_is_refused_without_csrf_permission_or_a_valid_choice(env, run):
    group = household_group(env, run)
    before = len(env["store"].all_decisions())
    good = {"decision": "group", "person-0": "1", "person-1": "1", "person-2": "2"}
    vera = login(env["app"], "vera")
    token = csrf_of(vera.get(f"/item/{group.item_id}").text)
    assert vera.post(f"/item/{group.item_id}/decide", data={**good, "csrf": token}).status_code == 403
    rudi = login(env["app"], "rudi")
    assert rudi.post(f"/item/{group.item_id}/decide", data=good).status_code == 403
    token = csrf_of(rudi.get(f"/item/{group.item_id}").text)
    for bad in ({"person-2": "4"}, {"person-2": ""}, {"person-1": "x"}, {"decision": "same"}):
        r = rudi.post(f"/item/{group.item_id}/decide", data={**good, **bad, "csrf": token})
        assert r.status_code == 400, bad
    assert len(env["store"].all_decisions()) == before


def test_group_decision_stores_every_pair_once_audited_and_becomes_links(env, run):
    """The aid record and the father one person, the son another: must-link aid-father,
    cannot-links aid-son and father-son, each pair stored with both fingerprints."""
    store, app_run, hh = env["store"], env["run"], run.household
    group = household_group(env, run)
    client = login(env["app"], "rudi")
    token = csrf_of(client.get(f"/item/{group.item_id}").text)
    audit_before = len(store.audit_log())
    r = client.post(
        f"/item/{group.item_id}/decide",
        data={"decision": "group", "person-0": "2", "person-1": "2", "person-2": "1", "comment": "KK sama; ayah penerima", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] != f"/item/{group.item_id}"

    mine = {(d["left"], d["right"]): d for d in store.current_decisions() if {d["left"], d["right"]} <= set(group.records)}
    expected = {
        tuple(sorted((hh.aid, hh.father))): "same",
        tuple(sorted((hh.aid, hh.son))): "different",
        tuple(sorted((hh.father, hh.son))): "different",
    }
    assert {k: d["decision"] for k, d in mine.items()} == expected
    for (left, right), d in mine.items():
        assert (d["left_fingerprint"], d["right_fingerprint"]) == (app_run.fingerprint(left), app_run.fingerprint(right))
        assert d["analyst"] == "rudi" and d["comment"] == "KK sama; ayah penerima" and d["run_id"] == app_run.run_id
    new_audit = store.audit_log()[: len(store.audit_log()) - audit_before]
    assert [a["action"] for a in new_audit] == ["decide_group"]
    assert new_audit[0]["target"] == "|".join(sorted(group.records)) and "DARSONO" not in str(new_audit[0])

    must, cannot, report = constraints(load_decisions(env["state"]), app_run.records)
    pos = lambda k: position(app_run.records, k)  # noqa: E731
    pair = lambda a, b: tuple(sorted((pos(a), pos(b))))  # noqa: E731
    assert pair(hh.aid, hh.father) in set(map(tuple, must.to_numpy().tolist()))
    assert {pair(hh.aid, hh.son), pair(hh.father, hh.son)} <= set(map(tuple, cannot.to_numpy().tolist()))
    assert report["contradictions"] == [] and report["stale_count"] == 0

    # The queue counts the group as one item done (its two asked pairs); the page refills
    # from the decision: records in persons numbered by column order.
    html = client.get("/?status=decided").text
    assert f'href="/item/{group.item_id}' in html and "Dikelompokkan" in html
    page = client.get(f"/item/{group.item_id}").text
    assert [re.findall(rf'name="person-{i}" value="(\w+)"[^>]*checked', page) for i in range(3)] == [["1"], ["1"], ["2"]]
    assert "KK sama; ayah penerima" in page

    # "Not sure" about the whole group: every pair unsure, nothing applied
    token = csrf_of(page)
    client.post(f"/item/{group.item_id}/decide", data={"decision": "unsure", "csrf": token})
    current = load_decisions(env["state"])
    ours = current[current["left"].isin(group.records) & current["right"].isin(group.records)]
    assert ours["decision"].tolist() == ["unsure"] * 3
    page = client.get(f"/item/{group.item_id}").text
    assert [re.findall(rf'name="person-{i}" value="(\w+)"[^>]*checked', page) for i in range(3)] == [["unsure"]] * 3


def test_api_lists_group_items(env, run):
    group = household_group(env, run)
    items = TestClient(env["app"]).get("/api/items?status=all", headers={"Authorization": f"Bearer {env['token']}"}).json()["items"]
    listed = next(i for i in items if i["item_id"] == group.item_id)
    assert listed["group"] and listed["records"] == list(group.records) and listed["right"] is None
    assert len(listed["pairs"]) == 2 and listed["stake"] == "missing_from_registry"


def test_a_run_published_before_queue_items_lists_each_review_pair(run, tmp_path):
    """review.parquet of contract 1.0 (no rank, item, stake ...): each pair its own item, in file order."""
    latest = (copy_output(run, tmp_path / "out") / "latest").resolve()
    review = pd.read_parquet(latest / "review.parquet")
    review.drop(columns=["queue_rank", "item", "item_records", "run_decision", "doubt", "stake", "value"]).to_parquet(latest / "review.parquet")
    items = [it for it in RunData(latest).items if it.kind == "review"]
    assert len(items) == len(review) and not any(it.group or it.stake for it in items)
    assert [it.queue_no for it in items] == list(range(1, len(review) + 1))
    assert [it.pair for it in items] == ["|".join(sorted(p.split("|"))) for p in review["pair_id"]]
