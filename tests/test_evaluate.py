"""The evaluation library: hand-made runs with known scores, row accounting, conditions,
labelled pairs, user errors, a brute-force property check, and the FEBRL converter."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bansos_merge.config import load_config
from bansos_merge.errors import UserError
from bansos_merge.evaluate import (
    bcubed_scores,
    evaluate_run,
    format_report,
    pair_counts,
    pairwise_scores,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]

# Four persons of sizes 3, 2, 1, 4 spread over two sources: ten rows.
SIZES = {"p1": 3, "p2": 2, "p3": 1, "p4": 4}


def truth_rows() -> list[tuple[str, str, str, str, str | None]]:
    """(source, record_id, person_id, expect, garbage_kind) of the fixture's real rows."""
    rows, n = [], 0
    for person, size in SIZES.items():
        for _ in range(size):
            n += 1
            rows.append(("DTKS" if n % 2 else "BNBA", f"r{n}", person, "record", None))
    return rows


def write_truth(folder: Path, rows, conditions=()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=["source", "record_id", "person_id", "expect", "garbage_kind"])
    df.insert(2, "row_number", range(1, len(df) + 1))
    df.to_parquet(folder / "rows.parquet", index=False)
    cond = pd.DataFrame(list(conditions), columns=["kind", "source", "record_id", "person_id"]).astype(object)
    cond["detail"] = ""
    cond.to_parquet(folder / "conditions.parquet", index=False)
    return folder


def write_run(folder: Path, records, rejects=(), conflicts=None) -> Path:
    """records: (source, record_id, person_id); rejects: (source, record_id, reason_code);
    conflicts: (kind, source, record_id) or None for no conflicts.parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(list(records), columns=["source", "record_id", "person_id"]).astype(object).to_parquet(
        folder / "records.parquet", index=False
    )
    rej = pd.DataFrame(list(rejects), columns=["source", "record_id", "reason_code"]).astype(object)
    rej["row_number"] = range(1, len(rej) + 1)
    rej.to_parquet(folder / "rejects.parquet", index=False)
    if conflicts is not None:
        con = pd.DataFrame(list(conflicts), columns=["kind", "source", "record_id"]).astype(object)
        con["person_id"] = "x"
        con["values"] = None
        con.to_parquet(folder / "conflicts.parquet", index=False)
    return folder


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    return write_truth(tmp_path / "sample" / "truth", truth_rows())


def score(tmp_path: Path, truth: Path, records, **kw) -> dict:
    return evaluate_run(write_run(tmp_path / "run", records, **kw), truth)


# --------------------------------------------------------------------------- clustering


def test_perfect_run(tmp_path, truth):
    records = [(s, r, f"C-{p}") for s, r, p, _, _ in truth_rows()]
    result = score(tmp_path, truth, records)
    pw, b3 = result["clustering"]["pairwise"], result["clustering"]["bcubed"]
    assert (pw["precision"], pw["recall"], pw["f1"]) == (1.0, 1.0, 1.0)
    assert (b3["precision"], b3["recall"], b3["f1"]) == (1.0, 1.0, 1.0)
    assert pw["true_pairs"] == comb(3, 2) + comb(2, 2) + comb(1, 2) + comb(4, 2) == 10
    assert result["clustering"]["persons"] == result["clustering"]["clusters"] == 4
    rows = result["rows"]
    assert (rows["lost"], rows["duplicated"], rows["unknown"], rows["real"]["wrongly_rejected"]) == (0, 0, 0, 0)
    json.dumps(result, allow_nan=False)  # JSON-serialisable, no NaN


def test_everything_in_one_cluster(tmp_path, truth):
    result = score(tmp_path, truth, [(s, r, "ALL") for s, r, *_ in truth_rows()])
    n = sum(SIZES.values())  # 10 rows
    true_pairs = sum(comb(k, 2) for k in SIZES.values())  # 3 + 1 + 0 + 6 = 10
    all_pairs = comb(n, 2)  # 45
    pw = result["clustering"]["pairwise"]
    assert pw["recall"] == 1.0
    assert pw["precision"] == pytest.approx(true_pairs / all_pairs) == pytest.approx(10 / 45)
    assert (pw["tp"], pw["fp"], pw["fn"]) == (10, 35, 0)
    # B-cubed: every row's precision is |its person| / 10, its recall 1.
    b3 = result["clustering"]["bcubed"]
    assert b3["precision"] == pytest.approx(sum(k * k for k in SIZES.values()) / n / n) == pytest.approx(0.30)
    assert b3["recall"] == 1.0


def test_nothing_merged(tmp_path, truth):
    """No pair predicted: pairwise precision is undefined (None), recall and F1 are 0."""
    result = score(tmp_path, truth, [(s, r, f"C-{r}") for s, r, *_ in truth_rows()])
    pw, b3 = result["clustering"]["pairwise"], result["clustering"]["bcubed"]
    assert pw["predicted_pairs"] == 0
    assert pw["precision"] is None
    assert pw["recall"] == 0.0 and pw["f1"] == 0.0
    assert b3["precision"] == 1.0
    assert b3["recall"] == pytest.approx(len(SIZES) / sum(SIZES.values()))  # each person contributes 1
    assert "pairwise precision n/a" in format_report(result)


def test_null_cluster_ids_are_singletons(tmp_path, truth):
    records = [(s, r, None) for s, r, *_ in truth_rows()]
    assert score(tmp_path, truth, records)["clustering"]["pairwise"]["predicted_pairs"] == 0


# --------------------------------------------------------------------------- row accounting


def test_lost_duplicated_unknown_garbage_and_wrong_rejects(tmp_path):
    truth = write_truth(
        tmp_path / "truth",
        truth_rows() + [("BNBA", "g1", None, "reject", "totals_row"), ("BNBA", "g2", None, "reject", "blank_row")],
    )
    real = truth_rows()  # r1..r10; p1 = r1-r3, p2 = r4-r5, p3 = r6, p4 = r7-r10
    records = [(s, r, p) for s, r, p, _, _ in real if r not in ("r1", "r6")]  # r1 lost, r6 rejected
    records += [("BNBA", "r2", "p1")]  # r2 twice in records
    rejects = [
        ("DTKS", "r3", "DUP"),  # r3 accepted and also rejected: duplicated
        ("BNBA", "r6", "NO_NAME"),  # a real row wrongly rejected
        ("BNBA", "g1", "TOTALS"),  # garbage rejected
        ("DTKS", "x99", "BLANK"),  # unknown to the truth
    ]
    records += [("BNBA", "g2", "p9")]  # garbage accepted
    result = evaluate_run(write_run(tmp_path / "run", records, rejects), truth)
    rows = result["rows"]
    assert rows["lost"] == 1 and rows["lost_examples"] == ["DTKS:r1"]
    assert rows["duplicated"] == 2 and rows["duplicated_extra_rows"] == 2
    assert sorted(rows["duplicated_examples"]) == ["BNBA:r2", "DTKS:r3"]
    assert rows["unknown"] == 1 and rows["unknown_examples"] == ["DTKS:x99"]
    assert rows["garbage"] == {
        "total": 2,
        "rejected": 1,
        "accepted": 1,
        "lost": 0,
        "rejected_share": 0.5,
        "by_kind": {"blank_row": {"total": 1, "rejected": 0, "accepted": 1},
                    "totals_row": {"total": 1, "rejected": 1, "accepted": 0}},
    }
    assert rows["real"]["wrongly_rejected"] == 1
    assert rows["real"]["wrongly_rejected_by_reason"] == {"NO_NAME": 1}
    assert rows["real"]["lost"] == 1
    # The lost r1 and rejected r6 are singletons: p1 keeps 1 of its 3 pairs (r2-r3).
    c = result["clustering"]
    assert c["rows"] == 10 and c["rows_not_in_records"] == 2
    assert c["pairwise"]["true_pairs"] == 10 and c["pairwise"]["tp"] == 1 + 1 + 6
    text = format_report(result)
    assert "DTKS:r1" in text and "real rows wrongly rejected" in text


def test_report_masks_nik_like_ids(tmp_path):
    nik = "3171011708450001"
    truth = write_truth(tmp_path / "truth", [("DTKS", nik, "p1", "record", None)])
    result = evaluate_run(write_run(tmp_path / "run", []), truth)
    assert result["rows"]["lost_examples"] == [f"DTKS:{nik}"]
    text = format_report(result)
    assert nik not in text and "DTKS:317101170845****" in text


# --------------------------------------------------------------------------- conditions


def test_condition_recall_and_precision(tmp_path, truth):
    write_truth(
        truth,
        truth_rows(),
        conditions=[
            ("nik_shared", "DTKS", "r1", "p1"),
            ("nik_shared", "DTKS", "r7", "p4"),
            ("deceased", "BNBA", "r4", "p2"),
            ("deceased", "BNBA", "r4", "p2"),  # repeated truth rows count once
        ],
    )
    conflicts = [
        ("nik_shared", "DTKS", "r1"),  # found
        ("nik_shared", "BNBA", "r2"),  # not planted
        ("deceased", "BNBA", "r4"),  # found
        ("deceased", "BNBA", "r4"),  # the same record twice in the long format: once
        ("multiple_nik", "DTKS", "r1"),  # right record, wrong kind
        ("homonym", "DTKS", "r3"),  # a kind the truth does not know
    ]
    records = [(s, r, p) for s, r, p, _, _ in truth_rows()]
    by_kind = score(tmp_path, truth, records, conflicts=conflicts)["conditions"]["by_kind"]
    assert by_kind["nik_shared"] == {
        "truth": 2, "truth_rejected": 0, "found": 1, "recall": 0.5, "reported": 2, "correct": 1, "precision": 0.5
    }
    assert by_kind["deceased"]["recall"] == 1.0 and by_kind["deceased"]["precision"] == 1.0
    assert by_kind["multiple_nik"]["recall"] is None and by_kind["multiple_nik"]["precision"] == 0.0
    assert by_kind["homonym"] == {
        "truth": 0, "truth_rejected": 0, "found": 0, "recall": None, "reported": 1, "correct": 0, "precision": 0.0
    }
    assert by_kind["invalid_nik"]["truth"] == 0 and by_kind["invalid_nik"]["reported"] == 0


def test_no_conflicts_file_gives_nulls(tmp_path, truth):
    write_truth(truth, truth_rows(), conditions=[("deceased", "BNBA", "r4", "p2")])
    result = score(tmp_path, truth, [(s, r, p) for s, r, p, _, _ in truth_rows()])
    cond = result["conditions"]
    assert cond["available"] is False and "conflicts.parquet" in cond["note"]
    assert cond["by_kind"]["deceased"]["truth"] == 1
    assert cond["by_kind"]["deceased"]["recall"] is None and cond["by_kind"]["deceased"]["precision"] is None
    assert "no conflicts.parquet" in format_report(result)


# --------------------------------------------------------------------------- labels


def test_labelled_pairs(tmp_path):
    run = write_run(
        tmp_path / "run",
        [("DTKS", "1", "A"), ("BNBA", "7", "A"), ("BNBA", "8", "B"), ("DTKS", "2", "B"), ("X", "k:1", "B")],
        rejects=[("BNBA", "9", "NO_NAME")],
    )
    labels = pd.DataFrame(
        [
            ("DTKS:1", "BNBA:7", "same"),  # TP
            ("BNBA:8", "DTKS:2", "different"),  # FP
            ("DTKS:1", "BNBA:8", " Same "),  # FN (decision normalised)
            ("DTKS:1", "DTKS:2", "different"),  # TN
            ("X:k:1", "DTKS:2", "same"),  # TP; split at the first colon
            ("DTKS:1", "BNBA:9", "same"),  # BNBA:9 was rejected: not in the run
            ("DTKS:1", "BNBA:7", "unsure"),  # ignored
        ],
        columns=["left", "right", "decision"],
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    labels.to_parquet(tmp_path / "labels.parquet", index=False)
    for path in (tmp_path / "labels.csv", tmp_path / "labels.parquet"):
        lab = evaluate_run(run, labels=path)["labels"]
        assert (lab["tp"], lab["fp"], lab["fn"], lab["tn"]) == (2, 1, 1, 1)
        assert lab["precision"] == pytest.approx(2 / 3) and lab["recall"] == pytest.approx(2 / 3)
        assert (lab["rows"], lab["ignored"], lab["not_in_run"], lab["evaluated"]) == (7, 1, 1, 5)
        assert lab["not_in_run_examples"] == ["DTKS:1 | BNBA:9"]
    result = evaluate_run(run, labels=tmp_path / "labels.csv")
    assert result["clustering"] is None and result["rows"]["duplicated"] == 0
    assert "Labelled pairs" in format_report(result)


def test_bad_label_key_names_file_row_and_column(tmp_path):
    run = write_run(tmp_path / "run", [("DTKS", "1", "A")])
    (tmp_path / "labels.csv").write_text("left,right,decision\nDTKS:1,DTKS:1,same\nDTKS:1,nocolon,same\n")
    with pytest.raises(UserError, match=r"labels.csv: row 2, column 'right': 'nocolon'"):
        evaluate_run(run, labels=tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("a,right,decision\n")
    with pytest.raises(UserError, match=r"labels.csv: missing column\(s\) left"):
        evaluate_run(run, labels=tmp_path / "labels.csv")


# --------------------------------------------------------------------------- folders and errors


def test_folder_resolution_latest_and_sample(tmp_path, truth):
    records = [(s, r, p) for s, r, p, _, _ in truth_rows()]
    out = tmp_path / "out"
    write_run(out / "run-2026-01-01", records)
    (out / "latest").symlink_to("run-2026-01-01")
    result = evaluate_run(out, truth.parent)  # the output dir and the sample folder
    assert result["run_dir"] == str(out / "latest") and result["truth_dir"] == str(truth)
    assert result["clustering"]["pairwise"]["f1"] == 1.0


def test_user_errors_name_the_file_and_column(tmp_path, truth):
    with pytest.raises(UserError, match="run folder not found"):
        evaluate_run(tmp_path / "nope", truth)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no records.parquet"):
        evaluate_run(tmp_path / "empty", truth)
    run = write_run(tmp_path / "run", [("DTKS", "r1", "p1")])
    with pytest.raises(UserError, match="nothing to score against"):
        evaluate_run(run)
    with pytest.raises(UserError, match="no rows.parquet"):
        evaluate_run(run, tmp_path / "empty")
    (run / "rejects.parquet").unlink()
    with pytest.raises(UserError, match=r"rejects.parquet: file not found"):
        evaluate_run(run, truth)
    pd.DataFrame({"source": ["DTKS"], "record_id": ["r1"]}).to_parquet(run / "records.parquet")
    write_run(tmp_path / "run2", [])
    (tmp_path / "run2" / "records.parquet").write_bytes((run / "records.parquet").read_bytes())
    with pytest.raises(UserError, match=r"records.parquet: missing column\(s\) person_id"):
        evaluate_run(tmp_path / "run2", truth)
    (tmp_path / "run2" / "records.parquet").write_text("not parquet")
    with pytest.raises(UserError, match="records.parquet: not a readable Parquet file"):
        evaluate_run(tmp_path / "run2", truth)
    (truth / "conditions.parquet").unlink()
    with pytest.raises(UserError, match="conditions.parquet: file not found"):
        evaluate_run(write_run(tmp_path / "run3", []), truth)


def test_write_report_round_trips(tmp_path, truth):
    result = score(tmp_path, truth, [(s, r, "ALL") for s, r, *_ in truth_rows()])
    write_report(result, tmp_path / "reports" / "evaluation.json")
    assert json.loads((tmp_path / "reports" / "evaluation.json").read_text(encoding="utf-8")) == result
    assert set(result) == {
        "run_dir", "truth_dir", "labels_file", "inputs", "rows", "clustering", "conditions", "queue", "labels"
    }


# --------------------------------------------------------------------------- property


labels_st = st.lists(st.one_of(st.integers(0, 4), st.none()), min_size=0, max_size=25)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_contingency_counts_match_brute_force(data):
    true = data.draw(labels_st)
    pred = data.draw(st.lists(st.one_of(st.integers(0, 4), st.none()), min_size=len(true), max_size=len(true)))
    same = lambda labels, i, j: labels[i] is not None and labels[i] == labels[j]  # noqa: E731
    pairs = list(itertools.combinations(range(len(true)), 2))
    expected_true = sum(same(true, i, j) for i, j in pairs)
    expected_pred = sum(same(pred, i, j) for i, j in pairs)
    expected_tp = sum(same(true, i, j) and same(pred, i, j) for i, j in pairs)
    counts = pair_counts(true, pred)
    assert counts["true_pairs"] == expected_true
    assert counts["predicted_pairs"] == expected_pred
    assert counts["tp"] == expected_tp
    assert pairwise_scores(true, pred)["precision"] == (expected_tp / expected_pred if expected_pred else None)

    # B-cubed by definition, row by row (a row is always in its own person and cluster).
    def members(labels, i):
        return {j for j in range(len(labels)) if j == i or same(labels, i, j)}

    b3 = bcubed_scores(true, pred)
    if not true:
        assert b3["precision"] is None
        return
    prec = sum(len(members(true, i) & members(pred, i)) / len(members(pred, i)) for i in range(len(true))) / len(true)
    rec = sum(len(members(true, i) & members(pred, i)) / len(members(true, i)) for i in range(len(true))) / len(true)
    assert b3["precision"] == pytest.approx(prec) and b3["recall"] == pytest.approx(rec)


def test_a_million_rows_by_contingency():
    """Closed form at scale (and a guard against anything quadratic): 500,000 persons of two
    rows; the prediction splits every 5th person."""
    true = np.repeat(np.arange(500_000), 2)
    pred = true * 2 + ((true % 5 == 0) & (np.arange(1_000_000) % 2 == 1))
    counts = pair_counts(true, pred)
    assert counts == {"true_pairs": 500_000, "predicted_pairs": 400_000, "tp": 400_000, "fp": 0, "fn": 100_000}
    assert bcubed_scores(true, pred)["recall"] == pytest.approx(0.8 * 1 + 0.2 * 0.5)


# --------------------------------------------------------------------------- FEBRL


def test_febrl4_converter(tmp_path):
    out = tmp_path / "febrl4"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "febrl_to_extracts.py"), "febrl4", str(out)],
        check=True, capture_output=True, text=True,
    )
    a = pd.read_csv(out / "A.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(out / "B.csv", dtype=str, keep_default_na=False)
    assert (len(a), len(b)) == (5000, 5000)
    rows = pd.read_parquet(out / "truth" / "rows.parquet")
    assert list(rows.columns) == ["source", "record_id", "row_number", "person_id", "expect", "garbage_kind"]
    assert rows.groupby("source").size().to_dict() == {"A": 5000, "B": 5000}
    assert rows[rows.source == "A"].record_id.tolist() == a.rec_id.tolist()
    assert rows[rows.source == "A"].row_number.tolist() == list(range(1, 5001))
    # Every person once in A and once in B; the rows without any name (rec-725 in both
    # files, rec-2052-dup-0 in B) are expected rejects, so 4,999 persons remain.
    rejects = rows[rows.expect == "reject"]
    assert sorted(rejects.record_id) == ["rec-2052-dup-0", "rec-725-dup-0", "rec-725-org"]
    assert rejects.person_id.isna().all() and (rejects.garbage_kind == "no_name").all()
    records = rows[rows.expect == "record"]
    assert records.person_id.nunique() == 4999
    assert records.groupby("person_id").size().value_counts().to_dict() == {2: 4998, 1: 1}
    assert a.loc[a.rec_id == "rec-1070-org", "name"].item() == "MICHAELA NEUMANN"
    conditions = pd.read_parquet(out / "truth" / "conditions.parquet")
    assert conditions.empty and list(conditions.columns) == ["kind", "source", "record_id", "person_id", "detail"]
    config = load_config(out / "merge.yaml")
    assert [s.name for s in config.sources] == ["A", "B"]
    assert config.sources[0].date_order == "YMD" and config.sources[0].id_column == "rec_id"

    # A run that gets FEBRL exactly right scores 1 against this truth.
    perfect = records.assign(person_id="P" + records.person_id)[["source", "record_id", "person_id"]]
    run = write_run(tmp_path / "run", perfect.itertuples(index=False),
                    rejects=[(s, r, "NO_NAME") for s, r in rejects[["source", "record_id"]].itertuples(index=False)])
    result = evaluate_run(run, out)
    assert result["clustering"]["pairwise"]["true_pairs"] == 4998
    assert result["clustering"]["pairwise"]["f1"] == 1.0
    assert result["rows"]["garbage"]["rejected"] == 3 and result["rows"]["lost"] == 0


def test_febrl3_converter_reproduces_the_shipped_links(tmp_path):
    """febrl3 is one source with up to 6 rows per person; the converter itself checks that
    the person ids give exactly the 6,538 shipped links."""
    spec = importlib.util.spec_from_file_location("febrl_to_extracts", ROOT / "benchmarks" / "febrl_to_extracts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.convert("febrl3", tmp_path)
    rows = pd.read_parquet(tmp_path / "truth" / "rows.parquet")
    assert len(rows) == 5000 and set(rows.source) == {"febrl3"}
    assert rows.record_id.str.extract(r"^rec-(\d+)-", expand=False).nunique() == 2000
    assert (rows.expect == "reject").sum() == 6
    assert [s.name for s in load_config(tmp_path / "merge.yaml").sources] == ["febrl3"]
