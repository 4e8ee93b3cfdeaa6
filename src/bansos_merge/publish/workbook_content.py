"""What conflicts.xlsx shows: the kind sheets' rows and the summary's counts (no Excel here).

`workbook_input` gathers it small (the capped rows and the records they name), so that the
workbook can be written in another process; `workbook.write_workbook` writes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pandas as pd

from . import i18n
from .masking import mask_ids_in_text, mask_joined_tagged, mask_tagged
from .regencies import regency_keys, regency_label
from .workbook_values import shown_values, text_column as _text

# Columns of a kind sheet: (key, i18n header key, width cap).
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("conflict_id", "col.conflict_id", 28),
    ("severity", "col.severity", 10),
    ("person_id", "col.person_id", 24),
    ("source", "col.source", 22),
    ("record_id", "col.record_id", 22),
    ("field", "col.field", 18),
    ("value", "col.value", 30),
    ("values", "col.values", 45),
    ("explanation", "col.explanation", 70),
    ("name", "col.name", 32),
    ("nik", "col.nik", 20),
    ("birth_date", "col.birth_date", 14),
    ("sex", "col.sex", 8),
    ("village", "col.village", 26),
    ("regency", "col.regency", 30),
    ("regency_written", "col.regency_written", 26),
)
_ID_FIELDS = ("nik", "kk")
_RECORD_FIELDS = ("name", "nik", "nik_raw", "nik_status", "birth_date", "sex", "village", "status", "program")
# Kinds whose `values` on the NIK field are not identity numbers: person IDs (not personal data,
# shown whole so that officers can filter by them) and the reasons a NIK is invalid.
_VALUES_NOT_IDS = ("nik_shared", "invalid_nik")
# Kinds whose value and values are record IDs, shown whole as in the record ID column.
_VALUES_ARE_RECORD_IDS = ("duplicate_in_source",)
_SEVERITY_ORDER = {s: i for i, s in enumerate(i18n.SEVERITIES)}


def kind_order(kinds) -> list[str]:
    present = list(dict.fromkeys(str(k) for k in kinds))
    return [k for k in i18n.KINDS if k in present] + sorted(k for k in present if k not in i18n.KINDS)


def _conflict_stats(conflicts: pd.DataFrame) -> pd.DataFrame:
    """Per conflict: records, distinct persons, distinct values and the sources involved."""
    g = conflicts.groupby("conflict_id", sort=False)
    first_values = g["values"].first()
    n_values = first_values.map(lambda v: len({p for p in str(v).split("; ") if p}) if isinstance(v, str) else 0)
    distinct = conflicts[["conflict_id", "source"]].astype(str).drop_duplicates().sort_values("source")
    sources = distinct.groupby("conflict_id", sort=False)["source"].agg(", ".join).reindex(first_values.index)
    return pd.DataFrame(
        {"n_records": g.size(), "n_persons": g["person_id"].nunique(), "n_values": n_values, "sources": sources}
    )


def conflict_rows(
    conflicts: pd.DataFrame, records: pd.DataFrame, language: str = "id", show_full_nik: bool = False, tag_key: bytes | None = None
) -> pd.DataFrame:
    """The kind sheets' rows: the conflicts joined with the records' identity fields, sorted
    by kind, severity and conflict, explained in `language`, masked unless `show_full_nik`.

    Columns: `kind` plus the keys of COLUMNS; `severity` and `field` keep their codes
    (they are translated when written). Masked NIKs carry a tag under `tag_key` (a fresh
    key when None) so that two different NIKs stay distinguishable (see masking).
    """
    i18n.check_language(language)
    keys = ["source", "record_id"]
    c = conflicts.reset_index(drop=True)
    rec = records.reindex(columns=[*keys, *_RECORD_FIELDS])
    rec = rec.assign(source=_text(rec["source"]), record_id=_text(rec["record_id"])).drop_duplicates(keys)
    c = c.assign(source=_text(c["source"]), record_id=_text(c["record_id"]))
    rows = c.merge(rec, on=keys, how="left", suffixes=("", "_record"))

    value, values = shown_values(rows, language)
    nik = _text(rows["nik"]).fillna(_text(rows["nik_raw"]))
    if not show_full_nik:
        key = tag_key or secrets.token_bytes(16)
        is_id = rows["field"].isin(_ID_FIELDS).to_numpy(dtype=bool)
        ids_in_values = is_id & ~rows["kind"].isin(_VALUES_NOT_IDS).to_numpy(dtype=bool)
        nik = mask_tagged(nik, key)
        value = value.where(~is_id, mask_tagged(value, key))
        values = values.where(~ids_in_values, mask_joined_tagged(values.where(ids_in_values), key))
    stats = _conflict_stats(c).reindex(rows["conflict_id"])
    program = _text(rows["program"]).fillna("-")
    explanations = [
        i18n.explain(
            kind,
            language,
            {
                "value": v,
                "values": vs,
                "field": field,
                "source": source,
                "sources": sources,
                "n_values": n_values,
                "n_persons": n_persons,
                "n_records": n_records,
                "status": status,
                "program": prog,
            },
        )
        for kind, v, vs, field, source, sources, n_values, n_persons, n_records, status, prog in zip(
            rows["kind"],
            value,
            values,
            rows["field"],
            rows["source"],
            stats["sources"],
            stats["n_values"],
            stats["n_persons"],
            stats["n_records"],
            rows["nik_status"].where(rows["nik_status"].notna(), None),
            program,
        )
    ]
    explanation = pd.Series(explanations, index=rows.index, dtype=object)
    if not show_full_nik:  # a number that reached the text another way; record IDs are shown whole
        record_ids = rows["kind"].isin(_VALUES_ARE_RECORD_IDS).to_numpy(dtype=bool)
        value, values = (s.where(record_ids, s.map(mask_ids_in_text)) for s in (value, values))
        explanation = explanation.map(mask_ids_in_text)
    birth = pd.to_datetime(rows["birth_date"], errors="coerce")
    written = _text(rows["regency"]) if "regency" in rows else pd.Series(None, index=rows.index, dtype=object)
    codes = rows["regency_code"] if "regency_code" in rows else pd.Series(None, index=rows.index, dtype=object)
    out = pd.DataFrame(
        {
            "kind": _text(rows["kind"]),
            "conflict_id": _text(rows["conflict_id"]),
            "severity": _text(rows["severity"]),
            "person_id": _text(rows["person_id"]),
            "source": rows["source"],
            "record_id": rows["record_id"],
            "field": _text(rows["field"]),
            "value": value,
            "values": values,
            "explanation": explanation,
            "name": _text(rows["name"]),
            "nik": nik,
            "birth_date": birth,
            "sex": _text(rows["sex"]),
            "village": _text(rows["village"]),
            "regency": regency_keys(codes, written).map(lambda k: regency_label(k, language) if k is not None else None),
            "regency_written": written,
        }
    )
    kind_rank = {k: i for i, k in enumerate(kind_order(out["kind"]))}
    out["_k"] = out["kind"].map(kind_rank)
    out["_s"] = out["severity"].map(_SEVERITY_ORDER).fillna(len(_SEVERITY_ORDER))
    return out.sort_values(["_k", "_s", "conflict_id", "source", "record_id"], kind="stable").drop(columns=["_k", "_s"]).reset_index(drop=True)


def summary_counts(conflicts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Counts by kind, source and regency: distinct conflicts, records (rows) and persons.
    Regencies are grouped by Kemendagri code (`regencies.regency_keys`), not by spelling.

    `kind` lists every known kind (zeros included: "no deceased found" is news too) in the
    contract's order; `source` and `regency` are sorted by conflicts, largest first. A
    conflict spanning two sources (or regencies) counts once in each.
    """

    unknown = "\x00unknown"

    def by(col: pd.Series) -> pd.DataFrame:
        col = col.astype(object)  # categories too (counted conflicts of a partitioned run)
        key = col.where(col.notna() & (col != ""), unknown)
        g = conflicts.assign(_key=key).groupby("_key", sort=False)
        out = pd.DataFrame({"conflicts": g["conflict_id"].nunique(), "records": g.size(), "persons": g["person_id"].nunique()})
        out.index = pd.Index([None if k == unknown else k for k in out.index], dtype=object, name="key")
        return out.astype(int)

    kinds = by(_text(conflicts["kind"])).reindex(kind_order([*i18n.KINDS, *conflicts["kind"].astype(str)]), fill_value=0)
    sources = by(_text(conflicts["source"])).sort_values(["conflicts", "records"], ascending=False, kind="stable")
    none = pd.Series(None, index=conflicts.index, dtype=object)
    regency = regency_keys(conflicts.get("regency_code", none), conflicts.get("regency", none))
    regions = by(regency).sort_values(["conflicts", "records"], ascending=False, kind="stable")
    return {"kind": kinds, "source": sources, "regency": regions}


def most_severe_first(conflicts: pd.DataFrame, max_rows_per_kind: int) -> pd.DataFrame:
    """At most `max_rows_per_kind` rows of each kind, the most severe conflicts first."""
    rank = conflicts["severity"].astype(object).map(_SEVERITY_ORDER).fillna(len(_SEVERITY_ORDER))
    ordered = conflicts.assign(_s=rank).sort_values(["kind", "_s", "conflict_id"], kind="stable")
    return ordered[ordered.groupby("kind", observed=True).cumcount() < max_rows_per_kind].drop(columns="_s")


@dataclass(frozen=True)
class WorkbookInput:
    """What the workbook shows: small (the capped rows and the records they name), so that it
    can be written in another process while the Parquet files are written in this one."""

    counts: dict[str, pd.DataFrame]  # the summary, over every conflict
    shown: pd.DataFrame  # the conflicts on the kind sheets
    records: pd.DataFrame  # identity fields of the records they name
    truncated_at: int | None  # the cap, when it cut a kind
    review: dict | None = None  # the review queue's figures (publish.outputs.review_summary)


def workbook_input(conflicts: pd.DataFrame, records: pd.DataFrame, max_rows_per_kind: int | None = None) -> WorkbookInput:
    shown, cap = shown_conflicts(conflicts, max_rows_per_kind)
    return WorkbookInput(summary_counts(conflicts), shown, workbook_records(records, shown), cap)


def shown_conflicts(conflicts: pd.DataFrame, max_rows_per_kind: int | None) -> tuple[pd.DataFrame, int | None]:
    """The rows the kind sheets show, and the cap when it cut a kind. A sheet of 200,000 invalid
    NIKs helps no analyst and takes minutes to write: `max_rows_per_kind` keeps the most severe
    rows of each kind (the summary counts all)."""
    truncated = max_rows_per_kind is not None and bool((conflicts.groupby("kind", observed=True).size() > max_rows_per_kind).any())
    return (most_severe_first(conflicts, max_rows_per_kind), max_rows_per_kind) if truncated else (conflicts, None)


def workbook_records(records: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """The identity fields of the records that the `shown` conflicts name."""
    named = records["record_id"].astype(object).isin(set(shown["record_id"].astype(object))).to_numpy(dtype=bool)
    return records.loc[named, [c for c in ("source", "record_id", *_RECORD_FIELDS) if c in records]]
