"""`POST /api/match` in the review app (FastAPI's TestClient over a real run): who may ask
(token, or session with its CSRF token; a role that allows it), what it answers (the same row
as `bansos-merge match`), and the audit log (a keyed hash of the query, never its values)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import warnings

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

with warnings.catch_warnings():  # starlette's TestClient asks for httpx2; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from bansos_merge.match.inputs import read_input, source_from_columns  # noqa: E402
from bansos_merge.match.latest import load_latest  # noqa: E402
from bansos_merge.match.service import match_rows  # noqa: E402
from bansos_merge.cli import main  # noqa: E402
from bansos_merge.review.app import create_app  # noqa: E402
from match_fixtures import COLUMNS, NEW_NIK, proposals  # noqa: E402
from review_fixtures import built_run, copy_output, merge_sample  # noqa: E402

PASSWORD = "kata-sandi-uji-1"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return built_run(tmp_path_factory)


def _cli(argv: list[str], stdin: str = "") -> str:
    """`bansos-merge ARGV` in this process, with `stdin`; its standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), mock_stdin(stdin):
        assert main(argv) == 0
    return out.getvalue()


@contextlib.contextmanager
def mock_stdin(text: str):
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


@pytest.fixture(scope="module")
def env(run, tmp_path_factory):
    """An app over the shared run with users of each role (`bansos-merge review-users`), and an
    API token for each."""
    state = tmp_path_factory.mktemp("match_state")
    where = ["--output", str(run.output_dir), "--state-dir", str(state)]
    tokens = {}
    for name, role in {"ana": "admin", "rudi": "reviewer", "vera": "viewer"}.items():
        _cli(["review-users", "add", name, "--role", role, *where], PASSWORD + "\n")
        tokens[name] = _cli(["review-users", "token", name, *where]).strip().splitlines()[-1]
    app = create_app(run.output_dir, state)
    return {"app": app, "store": app.state.store, "tokens": tokens}


@pytest.fixture(scope="module")
def person(run, tmp_path_factory):
    """A registry person's fields as sent, and the CLI's answer for the same row."""
    records = pd.read_parquet(run.output_dir / "latest" / "records.parquet")
    r = records[(records["source_kind"] == "civil_registry") & records["nik"].notna()].iloc[5]
    body = {"nik": r["nik_raw"], "name": r["name_raw"], "birth_date": str(r["birth_date"])[:10], "sex": r["sex"], "village": r["village"]}
    return {"body": body, "person_id": r["person_id"]}


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def login(app) -> tuple[TestClient, str]:
    """A reviewer's session, and the CSRF token of its pages."""
    client = TestClient(app)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"name": "rudi", "password": PASSWORD, "csrf": csrf, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    return client, csrf


def matches_logged(store) -> list[dict]:
    return [a for a in store.audit_log() if a["action"] == "match"]


def test_anonymous_and_forged_requests_are_refused(env, person):
    before = len(matches_logged(env["store"]))
    client = TestClient(env["app"])
    assert client.post("/api/match", json=person["body"]).status_code == 401
    assert client.post("/api/match", json=person["body"], headers=bearer("bmr_not-a-token")).status_code == 401
    session, csrf = login(env["app"])
    assert session.post("/api/match", json=person["body"]).status_code == 403  # no CSRF token
    assert session.post("/api/match", json=person["body"], headers={"x-csrf-token": "forged"}).status_code == 403
    assert len(matches_logged(env["store"])) == before  # refused before anything was asked


def test_a_role_without_match_is_refused(env, person):
    r = TestClient(env["app"]).post("/api/match", json=person["body"], headers=bearer(env["tokens"]["vera"]))
    assert r.status_code == 403


def test_a_token_and_a_session_get_the_answer(env, person):
    r = TestClient(env["app"]).post("/api/match", json=person["body"], headers=bearer(env["tokens"]["rudi"]))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "matched" and answer["person_id"] == person["person_id"] and answer["decision"] == "match"
    assert answer["in_civil_registry"] is True and answer["vital_status"] in ("alive", "deceased")
    assert "dukcapil" in answer["sources"] and isinstance(answer["conflicts"], list)
    assert re.fullmatch(r"\d{4}\*{8}\d{4}", answer["nik"]) and re.fullmatch(r"\d{4}\*{8}\d{4}", answer["person_nik"])
    assert person["body"]["nik"] not in r.text
    session, csrf = login(env["app"])
    again = session.post("/api/match", json=person["body"], headers={"x-csrf-token": csrf})
    assert again.status_code == 200 and again.json() == answer


def test_the_api_answers_as_the_cli_does(env, run, tmp_path):
    """One code path: each row of the proposal list, sent over HTTP as its mapped cells, gets
    the row `bansos-merge match` gives it (but the totals row, whose JUMLAH is in a column the
    list does not map)."""
    listing = tmp_path / "usulan.xlsx"
    proposals(run.output_dir / "latest", run.household, listing)
    rows = match_rows(load_latest(run.output_dir), read_input(source_from_columns(COLUMNS, listing))).set_index("row_number")
    sheet = CalamineWorkbook.from_path(str(listing)).get_sheet_by_name("USULAN").to_python()
    header, data = sheet[2], sheet[3:]
    mapping = dict(part.split("=") for part in COLUMNS.split(","))
    client = TestClient(env["app"])
    for number, cells in enumerate(data, start=1):
        if number == 8:
            continue
        body = {f: str(cells[header.index(h)]) or None for f, h in mapping.items()}
        answer = client.post("/api/match", json=body, headers=bearer(env["tokens"]["ana"])).json()
        want = rows.loc[number]
        for column in ("status", "person_id", "reason_code", "decision", "vital_status", "nik"):
            assert answer[column] == want[column], (number, column)
        assert answer["candidates"] == list(want["candidates"]) and answer["conflicts"] == list(want["conflicts"]), number
    assert len(data) == len(rows)


def test_bad_queries_get_one_message_without_values(env):
    client = TestClient(env["app"])
    headers = bearer(env["tokens"]["rudi"])
    r = client.post("/api/match", json={"nik": NEW_NIK, "nama": "SITI AMINAH"}, headers=headers)
    assert r.status_code == 400 and "field 'nama'" in r.json()["error"] and "SITI" not in r.text
    r = client.post("/api/match", json={"nik": 9171015203880007}, headers=headers)
    assert r.status_code == 400 and "field 'nik'" in r.json()["error"] and "9171" not in r.text
    r = client.post("/api/match", content=b"nik=9171015203880007", headers=headers)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = client.post("/api/match", json={"sex": "L"}, headers=headers)
    assert r.status_code == 400 and "'nik' or 'name'" in r.json()["error"]
    r = client.post("/api/match", json={"nik": "", "name": "  ", "sex": "L"}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason_code"] == "no_name_no_nik"
    r = client.post("/api/match", json={"nik": "", "name": None}, headers=headers)
    assert r.status_code == 200 and r.json()["reason_code"] == "blank_row"


def test_every_query_is_audited_by_a_keyed_hash(env, person):
    store = env["store"]
    before = len(matches_logged(store))
    client = TestClient(env["app"])
    headers = bearer(env["tokens"]["ana"])
    reordered = dict(reversed(list(person["body"].items())))
    for body in (person["body"], reordered, {**person["body"], "name": "SOMEONE ELSE"}):
        assert client.post("/api/match", content=json.dumps(body), headers=headers).status_code == 200
    client.post("/api/match", json={"nama": "X"}, headers=headers)
    logged = matches_logged(store)[: len(matches_logged(store)) - before][::-1]  # oldest first
    assert [a["user"] for a in logged] == ["ana"] * 4
    details = [json.loads(a["detail"]) for a in logged]
    hashes = [d["query_hmac"] for d in details]
    assert hashes[0] == hashes[1] != hashes[2] and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert [d["status"] for d in details] == ["matched", "matched", details[2]["status"], "refused"]
    assert all(a["time"] for a in logged)
    text = json.dumps(store.audit_log())
    for value in person["body"].values():
        assert value not in text
    # Not a bare hash of the query: one holding a NIK list cannot find it without the state's key.
    import hashlib

    plain = json.dumps(person["body"], sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert hashlib.sha256(plain).hexdigest() != hashes[0]


def test_a_run_of_another_version_is_one_message(env, run, tmp_path, person):
    """The review app still shows the queue; the match says which file and field are wrong."""
    out = copy_output(run, tmp_path / "out")
    manifest = out / "latest" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": "2.0.0"}))
    state = tmp_path / "state"
    token = _cli(["review-users", "add", "bot", "--role", "reviewer", "--token", "--output", str(out), "--state-dir", str(state)])
    token = token.strip().splitlines()[-1]
    r = TestClient(create_app(out, state)).post("/api/match", json=person["body"], headers=bearer(token))
    assert r.status_code == 503
    error = r.json()["error"]
    assert "manifest.json" in error and "field 'schema_version'" in error and "'2.0.0'" in error


def test_a_run_published_while_the_app_is_up_answers_the_next_query(run, tmp_path, person):
    """The app keeps the loaded run between queries and loads the new one when `latest` moves."""
    out = copy_output(run, tmp_path / "out")
    state = tmp_path / "state"
    token = _cli(["review-users", "add", "bot", "--role", "reviewer", "--token", "--output", str(out), "--state-dir", str(state)])
    client = TestClient(create_app(out, state))
    ask = lambda: client.post("/api/match", json=person["body"], headers=bearer(token.strip().splitlines()[-1])).json()  # noqa: E731
    run_id = lambda: json.loads((out / "latest" / "manifest.json").read_text())["run_id"]  # noqa: E731
    first, old = ask(), run_id()
    assert first["run_id"] == old and first["status"] == "matched" and ask() == first
    merge_sample(run.config, out)  # a new run; `latest` switches to it
    assert run_id() != old
    second = ask()
    assert second["run_id"] == run_id() and second["status"] == "matched" and second["person_id"] == first["person_id"]
