"""Score a run against a synthetic truth or against analysts' labelled pairs.

Reads the run's Parquet outputs and the truth (see `evaluate_run`), builds a JSON-ready
dict, and renders it as a fixed-width text report. A row is identified everywhere by its
key ``SOURCE:RECORD_ID`` (`identity.record_keys`), exactly as labelled pairs are written.

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
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from ..identity import record_keys, split_key
from ..publish.formula import FORMULA_START
from ..publish.conflicts import KINDS
from .metrics import clustering_scores, confusion_scores, ratio
from .queue import format_queue, queue_scores, read_queue

__all__ = [
    "CONDITION_KINDS",
    "EXAMPLES",
    "evaluate_run",
    "format_report",
    "read_labels",
    "resolve_run_dir",
    "resolve_truth_dir",
    "write_report",
]

# The planted conditions are the conflict kinds the generator can plant (all but review_needed).
CONDITION_KINDS = tuple(k for k in KINDS if k != "review_needed")
EXAMPLES = 5
LABEL_DECISIONS = ("same", "different")


# --------------------------------------------------------------------------- reading


def resolve_run_dir(path: str | Path) -> Path:
    """The run folder: ``path/latest`` when the output dir has one, else ``path`` itself."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: run folder not found")
    latest = path / "latest"
    if latest.is_dir():
        path = latest
    elif latest.is_file():  # a pointer file naming the run folder
        target = path / latest.read_text(encoding="utf-8").strip()
        if not target.is_dir():
            raise UserError(f"{latest}: points to {target}, which is not a folder")
        path = target
    if not (path / "records.parquet").is_file():
        raise UserError(f"{path}: no records.parquet here; give a run folder, or an output folder holding latest/")
    return path


def resolve_truth_dir(path: str | Path) -> Path:
    """The truth folder: ``path`` itself if it holds rows.parquet, else ``path/truth``."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: truth folder not found")
    for candidate in (path, path / "truth"):
        if (candidate / "rows.parquet").is_file():
            return candidate
    raise UserError(f"{path}: no rows.parquet here nor in {path / 'truth'}; give the sample folder or its truth/")


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of a Parquet file; a clear UserError when the file or a column is missing."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(names)})")
        return pq.read_table(path, columns=columns).to_pandas()
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"{path}: not a readable Parquet file: {e}") from None


def _with_key(df: pd.DataFrame) -> pd.DataFrame:
    df["key"] = record_keys(df)
    return df


def unprefixed(keys: pd.Series) -> pd.Series:
    """Keys as written before an export guarded them for spreadsheets (publish/formula.py)."""
    guarded = keys.str.startswith("'") & keys.str[1:2].isin(list(FORMULA_START))
    return keys.where(~guarded, keys.str[1:])


def read_labels(path: str | Path) -> pd.DataFrame:
    """Labelled pairs (CSV, or Parquet by suffix) as columns ``left``, ``right``, ``decision``.

    ``left``/``right`` are keys ``SOURCE:RECORD_ID``; ``decision`` is lower-cased and stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: labels file not found")
    columns = ["left", "right", "decision"]
    if path.suffix.lower() in (".parquet", ".pq"):
        df = _read_parquet(path, columns)
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise UserError(f"{path}: cannot read labels CSV: {e}") from None
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(df.columns)})")
        df = df[columns]
    df = df.astype(object).where(df.notna(), "").astype(str)
    for side in ("left", "right"):
        df[side] = unprefixed(df[side].str.strip())
        bad = df[side].map(split_key).isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise UserError(
                f"{path}: row {row}, column '{side}': {df[side].iloc[row - 1]!r} is not SOURCE:RECORD_ID"
            )
    df["decision"] = df["decision"].str.strip().str.lower()
    return df


# --------------------------------------------------------------------------- scoring


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

    records = _with_key(_read_parquet(run / "records.parquet", ["source", "record_id", "person_id"]))
    rejects = _with_key(_read_parquet(run / "rejects.parquet", ["source", "record_id", "reason_code"]))
    conflicts_file = run / "conflicts.parquet"
    conflicts = (
        _with_key(_read_parquet(conflicts_file, ["kind", "source", "record_id", "values"])) if conflicts_file.is_file() else None
    )
    truth_rows = conditions = None
    if truth is not None:
        truth_rows = _with_key(
            _read_parquet(truth / "rows.parquet", ["source", "record_id", "person_id", "expect", "garbage_kind"])
        )
        conditions = _with_key(_read_parquet(truth / "conditions.parquet", ["kind", "source", "record_id", "detail"]))
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


# --------------------------------------------------------------------------- text report

_NIK_LIKE = re.compile(r"(?<!\d)(\d{12})\d{4}(?!\d)")


def _mask(text: str) -> str:
    return _NIK_LIKE.sub(r"\1****", text)


def _n(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header] + [[_n(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return [line(cells[0]), "  " + "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]


def _examples_line(label: str, keys: list[str]) -> list[str]:
    return [f"    {label}: {', '.join(_mask(k) for k in keys)}"] if keys else []


def format_report(result: dict) -> str:
    """A readable fixed-width text rendering of an `evaluate_run` result."""
    out = ["bansos-merge evaluation", f"  run:    {result['run_dir']}"]
    if result.get("truth_dir"):
        out.append(f"  truth:  {result['truth_dir']}")
    if result.get("labels_file"):
        out.append(f"  labels: {result['labels_file']}")
    inputs, rows = result["inputs"], result["rows"]

    out += ["", "Rows"]
    lines: list[list[Any]] = [["run records", inputs["records"]], ["run rejects", inputs["rejects"]]]
    if inputs["truth_rows"] is not None:
        g, r = rows["garbage"], rows["real"]
        lines += [
            ["truth rows", rows["truth_rows"]],
            ["lost (in neither records nor rejects)", rows["lost"]],
            ["duplicated keys (records + rejects)", rows["duplicated"]],
            ["unknown to the truth", rows["unknown"]],
            ["garbage rejected / total", f"{g['rejected']:,} / {g['total']:,}"],
            ["garbage accepted as records", g["accepted"]],
            ["real rows wrongly rejected", r["wrongly_rejected"]],
        ]
    else:
        lines.append(["duplicated keys (records + rejects)", rows["duplicated"]])
    out += _table(["", "count"], lines)
    out += _examples_line("lost", rows.get("lost_examples", []))
    out += _examples_line("duplicated", rows["duplicated_examples"])
    out += _examples_line("unknown", rows.get("unknown_examples", []))
    if inputs["truth_rows"] is not None:
        out += _examples_line("wrongly rejected", rows["real"]["wrongly_rejected_examples"])
        reasons = rows["real"]["wrongly_rejected_by_reason"]
        if reasons:
            out.append("    wrongly rejected by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()))
        if rows["garbage"]["by_kind"]:
            out += ["", "Garbage rows by kind"]
            out += _table(
                ["kind", "total", "rejected", "accepted"],
                [[k, v["total"], v["rejected"], v["accepted"]] for k, v in rows["garbage"]["by_kind"].items()],
            )

    c = result.get("clustering")
    if c:
        pw, b3 = c["pairwise"], c["bcubed"]
        out += [
            "",
            f"Clustering of the {c['rows']:,} truth rows expected as records: {c['persons']:,} persons, "
            f"{c['clusters']:,} predicted clusters",
            f"  ({c['rows_not_in_records']:,} of these rows are not in records.parquet and count as singletons)",
        ]
        out += _table(
            ["metric", "precision", "recall", "F1"],
            [[name, s["precision"], s["recall"], s["f1"]] for name, s in (("pairwise", pw), ("B-cubed", b3))],
        )
        out.append(
            f"    pairs: true {pw['true_pairs']:,}, predicted {pw['predicted_pairs']:,}, correct {pw['tp']:,}, "
            f"false {pw['fp']:,}, missed {pw['fn']:,}"
        )
        if pw["precision"] is None:
            out.append("    pairwise precision n/a: the run puts no two of these rows in one cluster")

    cond = result.get("conditions")
    if cond:
        out += ["", "Planted conditions"]
        if cond["note"]:
            out.append(f"  {cond['note']}")
        out += _table(
            ["kind", "planted", "found", "recall", "reported", "correct", "precision", "planted rejected"],
            [[k, v["truth"], v["found"], v["recall"], v["reported"], v["correct"], v["precision"], v["truth_rejected"]]
             for k, v in cond["by_kind"].items()]
            + [[f"invalid_nik: {k}", v["truth"], v["found"], v["recall"], v["reported"], v["correct"], v["precision"], ""]
               for k, v in (cond.get("invalid_nik_by_reason") or {}).items()],
        )

    if result.get("queue"):
        out += format_queue(result["queue"])

    lab = result.get("labels")
    if lab:
        out += ["", f"Labelled pairs ({lab['rows']:,} rows: {lab['same']:,} same, {lab['different']:,} different, "
                f"{lab['ignored']:,} ignored; {lab['not_in_run']:,} with a record not in the run)"]
        out += _table(
            ["evaluated", "TP", "FP", "FN", "TN", "precision", "recall", "F1"],
            [[lab[k] for k in ("evaluated", "tp", "fp", "fn", "tn", "precision", "recall", "f1")]],
        )
        out += _examples_line("not in run", lab["not_in_run_examples"])
    return "\n".join(out) + "\n"
