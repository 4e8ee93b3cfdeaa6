"""Score a run against a synthetic truth or against analysts' labelled pairs.

Reads the run's Parquet outputs and the truth (`inputs`) and builds a JSON-ready dict
(`evaluate_run`); `text` renders it as a fixed-width report. A row is identified everywhere
by its key ``SOURCE:RECORD_ID`` (`identity.record_keys`), exactly as labelled pairs are written.

Decisions (also in the report's notes):

* Clustering metrics cover the truth rows expected as records. Such a row missing from
  ``records.parquet`` (lost, or rejected) is a singleton of the predicted clustering; if a
  key appears in ``records.parquet`` more than once, its first row's ``person_id`` counts.
* Undefined ratios are ``null``: pairwise precision of a run that predicts no pair,
  recall when the truth has no pair (see `metrics`).
* Rows: "garbage" are truth rows with ``expect == 'reject'``. A row in both records and
  rejects counts as duplicated, not as rejected nor accepted.
* Examples (at most `EXAMPLES` keys per finding) are kept verbatim in the JSON; the text
  report masks the last four digits of any 16-digit number in them, in case a source uses
  the NIK as its record id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..publish.conflicts import KINDS
from .inputs import read_columns, read_labels, resolve_run_dir, resolve_truth_dir, with_key
from .metrics import clustering_scores, confusion_scores, ratio
from .queue import queue_scores, read_queue

__all__ = ["CONDITION_KINDS", "EXAMPLES", "evaluate_run", "write_report"]

# The planted conditions are the conflict kinds the generator can plant (all but review_needed).
CONDITION_KINDS = tuple(k for k in KINDS if k != "review_needed")
EXAMPLES = 5
LABEL_DECISIONS = ("same", "different")


def _encode(frames: list[pd.DataFrame]) -> pd.Index:
    """Give each frame a ``code`` column: one int per distinct key across all `frames`.

    Every later membership test is then an integer array lookup, not a string hash.
    Returns the keys by code.
    """
    codes, keys = pd.factorize(pd.concat([f["key"] for f in frames], ignore_index=True))
    start = 0
    for f in frames:
        f["code"] = codes[start : start + len(f)]
        start += len(f)
    return pd.Index(keys)


def _marks(codes: np.ndarray, size: int) -> np.ndarray:
    """A boolean array over all codes: True for those in `codes`."""
    mark = np.zeros(size, dtype=bool)
    mark[codes] = True
    return mark


def _first_value(codes: pd.Series, values: np.ndarray, size: int, absent: Any = None) -> np.ndarray:
    """values[first row of each code] as an array over all codes; `absent` where a code has no row."""
    out = np.full(size, absent, dtype=values.dtype)
    first = ~codes.duplicated().to_numpy()
    out[codes.to_numpy()[first]] = values[first]
    return out


def _examples(keys: pd.Index, codes: np.ndarray) -> list[str]:
    return [str(k) for k in keys[codes[:EXAMPLES]]]


def _count_by(values: np.ndarray) -> dict[str, int]:
    counts = pd.Series(values, dtype=object).fillna("(none)").astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.sort_index().items()}


def _duplicates(run_codes: np.ndarray, keys: pd.Index) -> dict[str, Any]:
    counts = np.bincount(run_codes, minlength=len(keys))
    repeated = np.flatnonzero(counts > 1)
    return {
        "duplicated": int(len(repeated)),
        "duplicated_extra_rows": int((counts[repeated] - 1).sum()),
        "duplicated_examples": _examples(keys, repeated),
    }


def _rows(
    truth: pd.DataFrame, records: pd.DataFrame, rejects: pd.DataFrame, keys: pd.Index, rows_file: Path
) -> dict[str, Any]:
    bad = ~truth["expect"].isin(["record", "reject"])
    if bad.any():
        raise UserError(
            f"{rows_file}: column 'expect' must be 'record' or 'reject'; found {truth['expect'][bad].iloc[0]!r}"
        )
    t_codes = truth["code"].to_numpy()
    repeated = truth["code"].duplicated()
    if repeated.any():
        first = truth["key"][repeated].iloc[0]
        raise UserError(f"{rows_file}: (source, record_id) must be unique; {first} appears more than once")
    size = len(keys)
    in_records = _marks(records["code"].to_numpy(), size)[t_codes]
    in_rejects = _marks(rejects["code"].to_numpy(), size)[t_codes]
    only_rejected = in_rejects & ~in_records
    lost = ~in_records & ~in_rejects
    garbage = (truth["expect"] == "reject").to_numpy()
    real = ~garbage
    in_run = _marks(np.concatenate([records["code"].to_numpy(), rejects["code"].to_numpy()]), size)
    unknown = np.flatnonzero(in_run & ~_marks(t_codes, size))

    by_kind = pd.DataFrame(
        {"kind": truth["garbage_kind"][garbage].fillna("(none)").astype(str), "rejected": only_rejected[garbage],
         "accepted": in_records[garbage]}
    ).groupby("kind").agg(total=("rejected", "size"), rejected=("rejected", "sum"), accepted=("accepted", "sum"))
    wrongly = t_codes[real & only_rejected]
    reasons = _first_value(rejects["code"], rejects["reason_code"].to_numpy(dtype=object), size)

    n_garbage = int(garbage.sum())
    n_garbage_rejected = int((garbage & only_rejected).sum())
    return {
        "truth_rows": len(truth),
        "expected_records": int(real.sum()),
        "expected_rejects": n_garbage,
        "lost": int(lost.sum()),
        "lost_examples": _examples(keys, t_codes[lost]),
        "unknown": int(len(unknown)),
        "unknown_examples": _examples(keys, unknown),
        "garbage": {
            "total": n_garbage,
            "rejected": n_garbage_rejected,
            "accepted": int((garbage & in_records).sum()),
            "lost": int((garbage & lost).sum()),
            "rejected_share": ratio(n_garbage_rejected, n_garbage),
            "by_kind": {str(k): {c: int(v) for c, v in r.items()} for k, r in by_kind.iterrows()},
        },
        "real": {
            "total": int(real.sum()),
            "accepted": int((real & in_records).sum()),
            "wrongly_rejected": int(len(wrongly)),
            "wrongly_rejected_by_reason": _count_by(reasons[wrongly]),
            "wrongly_rejected_examples": _examples(keys, wrongly),
            "lost": int((real & lost).sum()),
        },
    }


def _clusters(records: pd.DataFrame, size: int) -> np.ndarray:
    """An int code of the run's person_id for each key (its first row in records wins);
    -1 when the key is not in records or its person_id is null."""
    person, _ = pd.factorize(records["person_id"])
    return _first_value(records["code"], person.astype(np.int64), size, absent=-1)


def _clustering(truth: pd.DataFrame, cluster_of: np.ndarray) -> dict[str, Any]:
    expected = truth[truth["expect"] == "record"]
    predicted = cluster_of[expected["code"].to_numpy()]
    unclustered = predicted < 0
    # NaN labels are singletons (see metrics.label_codes).
    result = clustering_scores(expected["person_id"].to_numpy(dtype=object), np.where(unclustered, np.nan, predicted))
    result["rows_not_in_records"] = int(unclustered.sum())
    return result


def _kind_codes(frame: pd.DataFrame, kinds: pd.Index, size: int) -> np.ndarray:
    """One int64 per distinct (kind, key) of `frame`."""
    pairs = kinds.get_indexer(frame["kind"].astype(str)).astype(np.int64) * size + frame["code"].to_numpy()
    return pd.unique(pairs)


def _conditions(
    conditions: pd.DataFrame, conflicts: pd.DataFrame | None, rejects: pd.DataFrame, size: int
) -> dict[str, Any]:
    present = set(conditions["kind"].astype(str))
    if conflicts is not None:
        present |= set(conflicts["kind"].astype(str)) - {"review_needed"}  # the queue is scored on its own
    kinds = pd.Index(list(CONDITION_KINDS) + sorted(present - set(CONDITION_KINDS)))
    truth = _kind_codes(conditions, kinds, size)
    truth_kind = truth // size
    rejected = _marks(rejects["code"].to_numpy(), size)[truth % size]
    if conflicts is not None:
        conflicts = conflicts[conflicts["kind"].astype(str).isin(kinds)]
        run = _kind_codes(conflicts, kinds, size)
        run_kind = run // size
        found = np.isin(truth, run)
        correct = np.isin(run, truth)
    by_kind: dict[str, dict[str, Any]] = {}
    for i, kind in enumerate(kinds):
        t = truth_kind == i
        entry: dict[str, Any] = {"truth": int(t.sum()), "truth_rejected": int((t & rejected).sum())}
        if conflicts is None:
            entry.update(found=None, recall=None, reported=None, correct=None, precision=None)
        else:
            r = run_kind == i
            n_found, n_reported, n_correct = int(found[t].sum()), int(r.sum()), int(correct[r].sum())
            entry.update(
                found=n_found, recall=ratio(n_found, int(t.sum())),
                reported=n_reported, correct=n_correct, precision=ratio(n_correct, n_reported),
            )
        by_kind[kind] = entry
    return {
        "available": conflicts is not None,
        "note": None if conflicts is not None else "the run has no conflicts.parquet: condition scores not computed",
        "by_kind": by_kind,
    }


# invalid_nik by reason: a missing NIK is found trivially, so it is scored apart from a wrong one.
# Truth details and run reasons (conflicts' `values`, the NIK status) share these two names.
INVALID_NIK_REASONS = {
    "missing": lambda reason: reason == "missing",
    "wrong": lambda reason: reason != "missing",
    "region_never_existed": lambda reason: reason == "region_never_existed",
}


def _invalid_nik_reasons(conditions: pd.DataFrame, conflicts: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Recall and precision of invalid_nik per reason group: a record counts as found (or
    correct) when the run and the truth both flag it with a reason of the group."""
    truth = conditions[conditions["kind"].astype(str) == "invalid_nik"]
    run = conflicts[conflicts["kind"].astype(str) == "invalid_nik"]
    out = {}
    for name, member in INVALID_NIK_REASONS.items():
        t = pd.unique(truth["code"][member(truth["detail"].astype(str)).to_numpy()])
        r = pd.unique(run["code"][member(run["values"].astype(str)).to_numpy()])
        n_found, n_correct = int(np.isin(t, r).sum()), int(np.isin(r, t).sum())
        out[name] = {"truth": len(t), "found": n_found, "recall": ratio(n_found, len(t)),
                     "reported": len(r), "correct": n_correct, "precision": ratio(n_correct, len(r))}
    return out


def _labels(labels: pd.DataFrame, keys: pd.Index, cluster_of: np.ndarray) -> dict[str, Any]:
    used = labels[labels["decision"].isin(LABEL_DECISIONS)]
    # A key unknown to every input (index -1 -> the appended -1), or only in rejects, has no
    # cluster: the pair is not in the run.
    lookup = np.append(cluster_of, -1)
    left = lookup[keys.get_indexer(used["left"])]
    right = lookup[keys.get_indexer(used["right"])]
    present = (left >= 0) & (right >= 0)
    absent = used.loc[~present, ["left", "right"]]
    scores = confusion_scores((used["decision"] == "same").to_numpy()[present], left[present] == right[present])
    return {
        "rows": len(labels),
        "ignored": int(len(labels) - len(used)),
        "same": int((used["decision"] == "same").sum()),
        "different": int((used["decision"] == "different").sum()),
        "not_in_run": int(len(absent)),
        "not_in_run_examples": [f"{a} | {b}" for a, b in absent.head(EXAMPLES).itertuples(index=False)],
        "evaluated": int(present.sum()),
        **scores,
    }


def evaluate_run(run_dir: Path, truth_dir: Path | None = None, labels: Path | None = None) -> dict:
    """Score the run in `run_dir` (or its ``latest/``) against a synthetic truth and/or labelled pairs.

    Returns a JSON-serialisable dict with keys ``run_dir``, ``truth_dir``, ``labels_file``,
    ``inputs``, ``rows``, ``clustering``, ``conditions``, ``queue``, ``labels`` (sections that need a
    missing input are ``None``). Raises `UserError` for missing folders, files or columns.
    """
    if truth_dir is None and labels is None:
        raise UserError("nothing to score against: give a truth folder or a labelled-pairs file")
    run = resolve_run_dir(run_dir)
    truth = resolve_truth_dir(truth_dir) if truth_dir is not None else None
    label_rows = read_labels(labels) if labels is not None else None

    records = with_key(read_columns(run / "records.parquet", ["source", "record_id", "person_id"]))
    rejects = with_key(read_columns(run / "rejects.parquet", ["source", "record_id", "reason_code"]))
    conflicts_file = run / "conflicts.parquet"
    conflicts = (
        with_key(read_columns(conflicts_file, ["kind", "source", "record_id", "values"])) if conflicts_file.is_file() else None
    )
    truth_rows = conditions = None
    if truth is not None:
        truth_rows = with_key(
            read_columns(truth / "rows.parquet", ["source", "record_id", "person_id", "expect", "garbage_kind"])
        )
        conditions = with_key(read_columns(truth / "conditions.parquet", ["kind", "source", "record_id", "detail"]))
    keys = _encode([f for f in (records, rejects, conflicts, truth_rows, conditions) if f is not None])
    cluster_of = _clusters(records, len(keys))

    result: dict[str, Any] = {
        "run_dir": str(run),
        "truth_dir": str(truth) if truth else None,
        "labels_file": str(labels) if labels is not None else None,
        "inputs": {
            "records": len(records),
            "rejects": len(rejects),
            "conflicts": None if conflicts is None else len(conflicts),
            "truth_rows": None if truth_rows is None else len(truth_rows),
            "truth_conditions": None if conditions is None else len(conditions),
            "labels": None if label_rows is None else len(label_rows),
        },
        "rows": _duplicates(np.concatenate([records["code"].to_numpy(), rejects["code"].to_numpy()]), keys),
        "clustering": None,
        "conditions": None,
        "queue": None,
        "labels": None,
    }
    if truth is not None:
        result["rows"].update(_rows(truth_rows, records, rejects, keys, truth / "rows.parquet"))
        result["clustering"] = _clustering(truth_rows, cluster_of)
        result["conditions"] = _conditions(conditions, conflicts, rejects, len(keys))
        queue = read_queue(run)
        if queue is not None:
            person_of = pd.Series(truth_rows["person_id"].to_numpy(), index=truth_rows["key"].to_numpy())
            result["queue"] = queue_scores(queue, person_of, len(records), result["clustering"]["pairwise"])
        if conflicts is not None:
            result["conditions"]["invalid_nik_by_reason"] = _invalid_nik_reasons(conditions, conflicts)
    if label_rows is not None:
        result["labels"] = _labels(label_rows, keys, cluster_of)
    return result


def write_report(result: dict, path: str | Path) -> None:
    """Write `result` as indented UTF-8 JSON (creating the parent folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
