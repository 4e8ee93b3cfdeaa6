"""Decisions store and constraints: fingerprints, latest-wins, stale decisions, export, CLI."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bansos_merge.decisions import cli as decisions_cli
from bansos_merge.decisions.constraints import constraints, load_decisions
from bansos_merge.decisions.export import export_decisions
from bansos_merge.decisions.store import DECISION_COLUMNS, Store
from bansos_merge.errors import UserError
from bansos_merge.evaluate.inputs import read_labels
from bansos_merge.identity import record_fingerprint, record_keys
from bansos_merge.review import cli as review_cli
from bansos_merge.review.auth import hash_password, verify_password
from bansos_merge.review.items import UNSURE, assignment_decisions
from bansos_merge.review.strings import STRINGS
from review_fixtures import built_run, copy_output


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return built_run(tmp_path_factory)


@pytest.fixture(scope="module")
def records(run):
    return pd.read_parquet(run.output_dir / "latest" / "records.parquet")


def _decide(store: Store, records: pd.DataFrame, left: int, right: int, decision: str, comment: str | None = None) -> None:
    keys, fp = record_keys(records), record_fingerprint(records)
    store.add_decision(keys.iloc[left], keys.iloc[right], decision, "rudi", comment, fp.iloc[left], fp.iloc[right], "run-1")


def test_fingerprint_is_the_same_in_memory_and_after_parquet(run, records):
    """The flow computes constraints on in-memory records; the app stored fingerprints read from Parquet."""
    assert record_fingerprint(run.merged.records).tolist() == record_fingerprint(records).tolist()
    fp = record_fingerprint(records)
    assert fp.str.fullmatch(r"[0-9a-f]{16}").all()
    changed = records.copy()
    changed.loc[changed.index[0], "name_raw"] = "NAMA LAIN"
    after = record_fingerprint(changed)
    assert after.iloc[0] != fp.iloc[0] and after.iloc[1:].tolist() == fp.iloc[1:].tolist()
    # a normalised-only column does not count
    renamed = records.copy()
    renamed.loc[renamed.index[0], "name_key"] = "X"
    assert record_fingerprint(renamed).iloc[0] == fp.iloc[0]


def test_no_database_means_no_decisions(tmp_path, records):
    d = load_decisions(tmp_path / "nothing")
    assert list(d.columns) == DECISION_COLUMNS and d.empty
    assert not (tmp_path / "nothing").exists()
    must, cannot, report = constraints(d, records)
    assert must.empty and cannot.empty and report["applied_same"] == 0 and report["stale"] == []


def test_loading_decisions_does_not_write(tmp_path, records):
    store = Store(tmp_path)
    _decide(store, records, 1, 2, "same")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(load_decisions(tmp_path)) == 1
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_constraints_positions_latest_wins_unsure_and_swapped_sides(tmp_path, records):
    store = Store(tmp_path)
    _decide(store, records, 5, 2, "same", "sama KK")  # stored as the canonical (lo, hi) pair
    _decide(store, records, 10, 11, "same")
    _decide(store, records, 11, 10, "different")  # same pair, sides swapped: the latest wins
    _decide(store, records, 20, 21, "unsure")
    d = load_decisions(tmp_path)
    assert len(d) == 3 and (d["left"] < d["right"]).all()
    assert d.loc[d["decision"] == "same", "comment"].tolist() == ["sama KK"]
    assert str(d["decided_at"].dtype).startswith("datetime64") and str(d["decided_at"].dt.tz) == "UTC"
    must, cannot, report = constraints(d, records)
    assert must.to_dict("records") == [{"left": 2, "right": 5}]
    assert cannot.to_dict("records") == [{"left": 10, "right": 11}]
    assert str(must["left"].dtype) == "int64"
    assert (report["applied_same"], report["applied_different"], report["unsure"], report["stale_count"]) == (1, 1, 1, 0)
    # the full log keeps every row
    assert len(store.all_decisions()) == 4


def test_stale_decisions_are_reported_not_applied(tmp_path, records):
    store = Store(tmp_path)
    _decide(store, records, 1, 2, "same")
    _decide(store, records, 3, 4, "different")
    _decide(store, records, 6, 7, "same")
    changed = records.copy()
    changed.loc[changed.index[2], "name_raw"] = str(changed["name_raw"].iloc[2]) + " BIN AHMAD"
    changed.loc[changed.index[2], "name"] = str(changed["name"].iloc[2]) + " BIN AHMAD"
    gone = changed.drop(index=changed.index[4]).reset_index(drop=True)
    must, cannot, report = constraints(load_decisions(tmp_path), gone)
    keys = record_keys(records)
    whys = {(s["left"], s["right"]): s["why"] for s in report["stale"]}
    assert whys == {
        tuple(sorted((keys.iloc[1], keys.iloc[2]))): "record_changed",
        tuple(sorted((keys.iloc[3], keys.iloc[4]))): "record_missing",
    }
    assert (report["stale_count"], report["stale_record_changed"], report["stale_record_missing"]) == (2, 1, 1)
    # only the untouched decision applies, at the positions of the new frame
    assert report["applied_same"] == 1 and report["applied_different"] == 0 and cannot.empty
    new_keys = record_keys(gone)
    assert {new_keys.iloc[must["left"].iloc[0]], new_keys.iloc[must["right"].iloc[0]]} == {keys.iloc[6], keys.iloc[7]}


def test_rows_moved_between_runs_map_to_new_positions(tmp_path, records):
    store = Store(tmp_path)
    _decide(store, records, 0, 30, "different")
    shuffled = records.iloc[::-1].reset_index(drop=True)
    _, cannot, report = constraints(load_decisions(tmp_path), shuffled)
    n = len(records)
    assert cannot.to_dict("records") == [{"left": n - 31, "right": n - 1}] and report["stale_count"] == 0


def test_contradictions_are_reported(tmp_path, records):
    store = Store(tmp_path)
    _decide(store, records, 1, 2, "same")
    _decide(store, records, 2, 3, "same")
    _decide(store, records, 1, 3, "different")
    _, _, report = constraints(load_decisions(tmp_path), records)
    keys = record_keys(records)
    assert report["contradictions"] == [{"left": keys.iloc[1], "right": keys.iloc[3]}]


def test_export_parquet_and_csv_are_labels_files(tmp_path, records):
    state = tmp_path / "state"
    store = Store(state)
    _decide(store, records, 1, 2, "same", "komentar, dengan koma")
    _decide(store, records, 3, 4, "different")
    _decide(store, records, 3, 4, "unsure")
    n = export_decisions(state, tmp_path / "d.parquet", user="cli:test")
    assert n == 2
    pq = pd.read_parquet(tmp_path / "d.parquet")
    assert list(pq.columns) == DECISION_COLUMNS
    assert str(pq["decided_at"].dtype).startswith("datetime64")
    export_decisions(state, tmp_path / "d.csv", "csv")
    csv = pd.read_csv(tmp_path / "d.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == DECISION_COLUMNS and csv["comment"].iloc[0] == "komentar, dengan koma"
    for path in (tmp_path / "d.parquet", tmp_path / "d.csv"):
        labels = read_labels(path)
        assert sorted(labels["decision"]) == ["same", "unsure"]
    history = export_decisions(state, tmp_path / "h.csv", history=True)
    assert history == 3 and list(pd.read_csv(tmp_path / "h.csv").columns)[0] == "id"
    exports = [a for a in store.audit_log() if a["action"] == "export"]
    assert len(exports) == 3 and exports[-1]["user"] == "cli:test"
    with pytest.raises(UserError):
        export_decisions(state, tmp_path / "x.xlsx", "xlsx")
    with pytest.raises(UserError):
        export_decisions(tmp_path / "empty", tmp_path / "y.csv")


def test_group_decision_becomes_links_and_the_next_real_run_respects_it(tmp_path, run, records):
    """A group item's answer (the aid record and the father one person, the son another) is
    stored as three pair decisions: must-link aid-father, cannot-links aid-son and
    father-son; `bansos-merge run` then puts the aid record with the father, not the son."""
    hh = run.household
    out = copy_output(run, tmp_path / "out")
    keys, fp = record_keys(records).tolist(), record_fingerprint(records).tolist()
    fingerprints = dict(zip(keys, fp))
    person = dict(zip(keys, records["person_id"]))
    assert len({person[hh.aid], person[hh.father], person[hh.son]}) == 3, "the run kept all three apart"
    group = (hh.aid, hh.father, hh.son)
    pairs = assignment_decisions(group, [1, 1, 2])
    assert sorted(d for _, _, d in pairs) == ["different", "different", "same"]
    store = Store(out / "state")
    store.add_group_decision(pairs, {k: fingerprints[k] for k in group}, "rudi", None, "run-1", {"item": "g-test"})
    assert [a["action"] for a in store.audit_log()] == ["decide_group"]

    must, cannot, report = constraints(load_decisions(out / "state"), records)
    at = {k: i for i, k in enumerate(keys)}
    pair = lambda a, b: tuple(sorted((at[a], at[b])))  # noqa: E731
    assert set(map(tuple, must.to_numpy().tolist())) == {pair(hh.aid, hh.father)}
    assert set(map(tuple, cannot.to_numpy().tolist())) == {pair(hh.aid, hh.son), pair(hh.father, hh.son)}
    assert (report["applied_same"], report["applied_different"], report["contradictions"]) == (1, 2, [])

    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    cli = Path(sys.executable).parent / "bansos-merge"
    done = subprocess.run([str(cli), "run", "--config", str(run.config), "--output", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    latest = out / "latest"
    assert json.loads((latest / "manifest.json").read_text())["decisions"]["applied_same"] == 1
    after = pd.read_parquet(latest / "records.parquet")
    pid = dict(zip(record_keys(after), after["person_id"]))
    assert pid[hh.aid] == pid[hh.father] and pid[hh.son] != pid[hh.father]
    registry = pd.read_parquet(latest / "registry.parquet").set_index("person_id")
    assert registry.loc[pid[hh.father], "n_records"] == 2 and registry.loc[pid[hh.son], "n_records"] == 1
    # the question is answered: the group left the queue
    review = pd.read_parquet(latest / "review.parquet")
    asked = set(review["left_source"] + ":" + review["left_record_id"]) | set(review["right_source"] + ":" + review["right_record_id"])
    assert hh.aid not in asked


def test_assignment_decisions_with_a_record_not_sure():
    records = ("a:1", "b:2", "c:3", "d:4")
    decisions = assignment_decisions(records, [1, 2, 1, UNSURE])
    assert decisions == [
        ("a:1", "b:2", "different"),
        ("a:1", "c:3", "same"),
        ("a:1", "d:4", "unsure"),
        ("b:2", "c:3", "different"),
        ("b:2", "d:4", "unsure"),
        ("c:3", "d:4", "unsure"),
    ]


def test_password_hashing():
    h = hash_password("rahasia-123")
    assert h.startswith("scrypt$") and "rahasia" not in h
    assert verify_password("rahasia-123", h) and not verify_password("rahasia-124", h)
    assert not verify_password("x", None) and not verify_password("x", "garbage")


def test_both_languages_have_the_same_strings():
    assert set(STRINGS["id"]) == set(STRINGS["en"])
    assert all(v.strip() for lang in STRINGS.values() for v in lang.values())


def test_every_string_the_pages_ask_for_exists():
    """A key missing from the tables would show as the key itself on a page."""
    import re

    import bansos_merge.review as review

    folder = Path(review.__file__).parent
    sources = [p.read_text(encoding="utf-8") for p in [*folder.glob("templates/*.html"), *folder.glob("routes/*.py")]]
    asked = {k for text in sources for k in re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z_]+)['"]""", text)}
    assert len(asked) > 50 and not sorted(asked - set(STRINGS["id"]))


# ----------------------------------------------------------------------------- CLI


def _cli(argv: list[str], stdin: str | None = None, monkeypatch=None) -> int:
    parser = argparse.ArgumentParser(prog="bansos-merge")
    sub = parser.add_subparsers(dest="command", required=True)
    review_cli.register(sub)
    decisions_cli.register(sub)
    args = parser.parse_args(argv)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return args.func(args)


def test_cli_users_and_export(tmp_path, records, monkeypatch, capsys):
    out = str(tmp_path / "out")
    assert _cli(["review-users", "add", "ana", "--role", "admin", "--output", out], "rahasia-panjang\n", monkeypatch) == 0
    store = Store(tmp_path / "out" / "state")
    assert verify_password("rahasia-panjang", store.get_user("ana")["password_hash"])
    assert _cli(["review-users", "add", "bot", "--role", "reviewer", "--token", "--output", out]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("bmr_") and store.user_for_token(token)["name"] == "bot"
    assert token not in (tmp_path / "out" / "state" / "review.sqlite").read_bytes().decode("latin-1")
    with pytest.raises(UserError, match="unknown role"):
        _cli(["review-users", "add", "x", "--role", "boss", "--output", out], "rahasia-panjang\n", monkeypatch)
    with pytest.raises(UserError, match="empty password"):
        _cli(["review-users", "add", "y", "--role", "viewer", "--output", out], "\n", monkeypatch)
    with pytest.raises(UserError, match="exists"):
        _cli(["review-users", "add", "ana", "--role", "viewer", "--output", out], "rahasia-panjang\n", monkeypatch)
    with pytest.raises(UserError, match="--output"):
        _cli(["review-users", "list"])
    _cli(["review-users", "role", "ana", "reviewer", "--output", out])
    _cli(["review-users", "list", "--output", out])
    assert "ana" in capsys.readouterr().out
    _decide(store, records, 1, 2, "same")
    assert _cli(["decisions", "export", "--output", out, "--format", "csv", "--to", str(tmp_path / "x.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "x.csv").columns)[:3] == ["left", "right", "decision"]
    assert _cli(["decisions", "export", "--output", out, "--to", str(tmp_path / "x.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "x.parquet")) == 1


def test_cli_review_needs_a_run_and_a_user(tmp_path, run, monkeypatch):
    with pytest.raises(UserError, match="no published run"):
        _cli(["review", "--output", str(tmp_path / "empty")])
    with pytest.raises(UserError, match="no review users"):
        _cli(["review", "--output", str(run.output_dir), "--state-dir", str(tmp_path / "state")])


def test_cli_decisions_check(tmp_path, run, records, capsys):
    state = tmp_path / "state"
    _decide(Store(state), records, 1, 2, "same")
    assert _cli(["decisions", "check", "--output", str(run.output_dir), "--state-dir", str(state)]) == 0
    assert "1 same person" in capsys.readouterr().out


def test_a_csv_export_keeps_formulas_as_text_and_still_reads_as_labels(tmp_path, records):
    """OWASP's CSV injection: a comment, or a record key (a source may be named -list), that a
    spreadsheet would evaluate is exported with a leading apostrophe, and `evaluate --labels`
    reads the keys back as they were."""
    state = tmp_path / "state"
    store = Store(state)
    keys = record_keys(records)
    store.add_decision("-list:17", keys.iloc[2], "same", "rudi", "=HYPERLINK(\"http://x\")", None, None, None)
    store.add_decision(keys.iloc[3], keys.iloc[4], "different", "rudi", "+62 811 0000", None, None, None)
    export_decisions(state, tmp_path / "d.csv", "csv")
    csv = pd.read_csv(tmp_path / "d.csv", dtype=str, keep_default_na=False)
    cells = csv.to_numpy().ravel().tolist()
    assert not [c for c in cells if c and c[0] in "=+-@"]
    assert "'=HYPERLINK(\"http://x\")" in cells and "'+62 811 0000" in cells
    labels = read_labels(tmp_path / "d.csv")
    assert "'-list:17" in cells and "-list:17" in set(labels["left"]) | set(labels["right"])
