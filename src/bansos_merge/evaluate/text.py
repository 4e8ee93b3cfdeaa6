"""The evaluation as a fixed-width text report (`bansos-merge evaluate`); the JSON carries the same.

Examples are kept verbatim in the JSON; here the last four digits of any 16-digit number in
them are masked, in case a source uses the NIK as its record id.
"""

from __future__ import annotations

import re
from typing import Any


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


def format_queue(q: dict) -> list[str]:
    """The review queue's own section. Its items are pairs the run left to an analyst, not
    planted conditions: they are scored by size and by whether an answer fixes an error."""
    first = q["first_tenth"]
    rows: list[list[Any]] = [
        ["pairs", q["pairs"]],
        ["items (of which groups of 3+ records)", f"{q['items']:,} ({q['group_items']:,})"],
        ["pairs per 100 records", _f(q["per_100_records"], 3)],
        ["worth an analyst's time (the truth differs from the run's decision)", q["worth_it"]],
        ["yield: worth it / pairs", _f(q["yield"])],
        [f"yield of the first tenth ({first['worth_it']:,} of {first['pairs']:,})", _f(first["yield"])],
        ["the run's pairwise errors", q["pairwise_errors"]],
        ["  of which the queue does not ask about", q["errors_not_in_queue"]],
    ]
    return [
        "",
        "Review queue (the review_needed items: pairs the run left to an analyst, not planted conditions)",
        *_table(["", "value"], rows),
    ]


def _f(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
