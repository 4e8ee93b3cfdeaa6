"""conflicts.xlsx: the workbook analysts work the conflicts from.

A summary sheet (counts by conflict kind, by source and by regency, each kind linked to its
sheet), then one sheet per kind present: one row per record involved, with the record's
name, NIK, birth date, sex and village joined from `records` so the analyst needs no other
file. Frozen header, autofilter, widths from the content, dates as Excel dates, all text in
the configured language; NIK and KK numbers masked unless `show_full_nik`.

Every value is written as what it is (text as text: a record id `00012` or a name starting
with `=` is never turned into a number or a formula). Text from the data that a spreadsheet
would read as a formula once exported to CSV gets a leading apostrophe (OWASP's advice on CSV
injection): `=HYPERLINK(...)` is shown, and exported, as `'=HYPERLINK(...)`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from . import i18n
from .formula import formula_safe, formula_safe_text
from .masking import mask_ids_in_text, mask_joined, mask_nik

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
    ("regency", "col.regency", 26),
)
_ID_FIELDS = ("nik", "kk")
_RECORD_FIELDS = ("name", "nik", "nik_raw", "nik_status", "birth_date", "sex", "village")
_SEVERITY_ORDER = {s: i for i, s in enumerate(i18n.SEVERITIES)}
MAX_ROWS = 1_048_575  # Excel's rows, less the header
MIN_WIDTH, PADDING = 6, 2


def _text(series: pd.Series) -> pd.Series:
    """Strings, with nulls as None."""
    s = series.astype(object)
    return s.where(s.notna(), None).map(lambda v: None if v is None else str(v))


def _kind_order(kinds) -> list[str]:
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
    conflicts: pd.DataFrame, records: pd.DataFrame, language: str = "id", show_full_nik: bool = False
) -> pd.DataFrame:
    """The kind sheets' rows: the conflicts joined with the records' identity fields, sorted
    by kind, severity and conflict, explained in `language`, masked unless `show_full_nik`.

    Columns: `kind` plus the keys of COLUMNS; `severity` and `field` keep their codes
    (they are translated when written).
    """
    i18n.check_language(language)
    keys = ["source", "record_id"]
    c = conflicts.reset_index(drop=True)
    rec = records.reindex(columns=[*keys, *_RECORD_FIELDS])
    rec = rec.assign(source=_text(rec["source"]), record_id=_text(rec["record_id"])).drop_duplicates(keys)
    c = c.assign(source=_text(c["source"]), record_id=_text(c["record_id"]))
    rows = c.merge(rec, on=keys, how="left", suffixes=("", "_record"))

    stats = _conflict_stats(c).reindex(rows["conflict_id"])
    explanations = [
        i18n.explain(
            kind,
            language,
            {
                "value": value,
                "values": values,
                "field": field,
                "source": source,
                "sources": sources,
                "n_values": n_values,
                "n_persons": n_persons,
                "n_records": n_records,
                "status": status,
            },
        )
        for kind, value, values, field, source, sources, n_values, n_persons, n_records, status in zip(
            rows["kind"],
            _text(rows["value"]),
            _text(rows["values"]),
            rows["field"],
            rows["source"],
            stats["sources"],
            stats["n_values"],
            stats["n_persons"],
            stats["n_records"],
            rows["nik_status"].where(rows["nik_status"].notna(), None),
        )
    ]
    nik = _text(rows["nik"]).fillna(_text(rows["nik_raw"]))
    value, values = _text(rows["value"]), _text(rows["values"])
    explanation = pd.Series(explanations, index=rows.index, dtype=object)
    if not show_full_nik:
        is_id = rows["field"].isin(_ID_FIELDS).to_numpy(dtype=bool)
        nik = mask_nik(nik)
        value = value.where(~is_id, mask_nik(value))
        values = values.where(~is_id, values.map(mask_joined))
        value, values, explanation = (s.map(mask_ids_in_text) for s in (value, values, explanation))
    birth = pd.to_datetime(rows["birth_date"], errors="coerce")
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
            "regency": _text(rows["regency"]) if "regency" in rows else None,
        }
    )
    kind_rank = {k: i for i, k in enumerate(_kind_order(out["kind"]))}
    out["_k"] = out["kind"].map(kind_rank)
    out["_s"] = out["severity"].map(_SEVERITY_ORDER).fillna(len(_SEVERITY_ORDER))
    return out.sort_values(["_k", "_s", "conflict_id", "source", "record_id"], kind="stable").drop(columns=["_k", "_s"]).reset_index(drop=True)


def summary_counts(conflicts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Counts by kind, source and regency: distinct conflicts, records (rows) and persons.

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

    kinds = by(_text(conflicts["kind"])).reindex(_kind_order([*i18n.KINDS, *conflicts["kind"].astype(str)]), fill_value=0)
    sources = by(_text(conflicts["source"])).sort_values(["conflicts", "records"], ascending=False, kind="stable")
    regency = conflicts["regency"] if "regency" in conflicts else pd.Series(None, index=conflicts.index)
    regions = by(_text(regency)).sort_values(["conflicts", "records"], ascending=False, kind="stable")
    return {"kind": kinds, "source": sources, "regency": regions}


def _width(header: str, values: pd.Series | None, cap: int) -> int:
    longest = len(header)
    if values is not None and len(values):
        lengths = values.dropna().astype(str).str.len()
        if len(lengths):
            longest = max(longest, int(lengths.max()))
    return max(MIN_WIDTH, min(cap, longest + PADDING))


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, language: str) -> None:
        base = {"font_name": "Calibri", "font_size": 11, "valign": "top"}
        self.header = wb.add_format(
            {**base, "bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E5F", "border": 1, "border_color": "#16394A",
             "text_wrap": True, "valign": "vcenter"}
        )
        self.header_num = wb.add_format(
            {**base, "bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E5F", "border": 1, "border_color": "#16394A",
             "text_wrap": True, "valign": "vcenter", "align": "right"}
        )
        self.header_indent = wb.add_format(
            {**base, "bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E5F", "border": 1, "border_color": "#16394A",
             "text_wrap": True, "valign": "vcenter", "indent": 1}
        )
        self.indent = wb.add_format({**base, "indent": 1, "font_color": "#404040"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 15, "font_color": "#1F4E5F"})
        self.note = wb.add_format({**base, "italic": True, "font_color": "#555555"})
        self.warn = wb.add_format({**base, "bold": True, "font_color": "#9C0006"})
        self.section = wb.add_format({**base, "bold": True, "font_size": 12, "font_color": "#1F4E5F", "bottom": 2, "bottom_color": "#1F4E5F"})
        self.text = wb.add_format(base)
        self.number = wb.add_format({**base, "num_format": "#,##0"})
        self.total = wb.add_format({**base, "bold": True, "top": 1})
        self.total_number = wb.add_format({**base, "bold": True, "top": 1, "num_format": "#,##0"})
        self.link = wb.add_format({**base, "font_color": "#0B5CAD", "underline": 1})
        self.date = wb.add_format({**base, "num_format": "dd/mm/yyyy" if language == "id" else "yyyy-mm-dd", "align": "left"})
        self.high = wb.add_format({"bg_color": "#FADBD8", "font_color": "#9C0006"})
        self.medium = wb.add_format({"bg_color": "#FDEBD0", "font_color": "#7A4500"})


def _sheet_names(kinds: list[str], counts: dict[str, int], language: str) -> dict[str, list[str]]:
    """Worksheet titles per kind (a kind past Excel's row limit gets continuation sheets)."""
    used = {i18n.t("sheet.summary", language).lower()}
    names: dict[str, list[str]] = {}
    for kind in kinds:
        base = i18n.sheet_title(kind, language)
        parts = max(1, -(-counts[kind] // MAX_ROWS))
        names[kind] = []
        for part in range(parts):
            suffix = "" if part == 0 else f" ({part + 1})"
            title, n = base[: 31 - len(suffix)] + suffix, 2
            while title.lower() in used:
                tag = f" {n}"
                title, n = base[: 31 - len(tag)] + tag, n + 1
            used.add(title.lower())
            names[kind].append(title)
    return names


def _write_summary(
    ws,
    f: _Formats,
    counts: dict[str, pd.DataFrame],
    sheets: dict[str, list[str]],
    language: str,
    show_full_nik: bool,
    truncated_at: int | None = None,
    review: dict | None = None,
) -> None:
    t = lambda key: i18n.t(key, language)  # noqa: E731
    ws.set_column(0, 0, 34)
    ws.set_column(1, 3, 16)
    ws.set_column(4, 4, 74)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.hide_gridlines(2)
    ws.write_string(0, 0, t("summary.title"), f.title)
    ws.write_string(1, 0, t("summary.note_full") if show_full_nik else t("summary.note"), f.warn if show_full_nik else f.note)
    if truncated_at is not None:
        ws.write_string(2, 0, i18n.t("summary.truncated", language, n=f"{truncated_at:,}"), f.note)
    if review:
        ws.write_string(3, 0, queue_line(review, language), f.note)
    row = 5
    header = [t("col.conflicts"), t("col.records"), t("col.persons")]

    def table(title: str, first: str, frame: pd.DataFrame, labels, extra: str | None = None, links=None, total: bool = False) -> int:
        nonlocal row
        ws.write_string(row, 0, title, f.section)
        row += 1
        ws.write_string(row, 0, first, f.header)
        for c, h in enumerate(header, start=1):
            ws.write_string(row, c, h, f.header_num)
        if extra:
            ws.write_string(row, 4, extra, f.header_indent)
        row += 1
        for key, r in frame.iterrows():
            name = labels(key)
            target = (links or {}).get(key)
            if target:
                ws.write_url(row, 0, f"internal:'{target}'!A1", f.link, string=name)
            else:
                ws.write_string(row, 0, name, f.text)
            for c, col in enumerate(("conflicts", "records", "persons"), start=1):
                ws.write_number(row, c, int(r[col]), f.number)
            if extra:
                ws.write_string(row, 4, i18n.label("kind_help", key, language), f.indent)
            row += 1
        if total:
            ws.write_string(row, 0, t("summary.total"), f.total)
            for c, col in enumerate(("conflicts", "records"), start=1):
                ws.write_number(row, c, int(frame[col].sum()), f.total_number)
            ws.write_blank(row, 3, None, f.total)
            ws.write_blank(row, 4, None, f.total)
            row += 1
        return row

    unknown = t("summary.unknown_region")
    table(t("summary.by_kind"), t("col.kind"), counts["kind"], lambda k: i18n.label("kind", k, language),
          extra=t("col.description"), links={k: v[0] for k, v in sheets.items()}, total=True)
    row += 1
    table(t("summary.by_source"), t("col.source"), counts["source"], lambda k: "-" if k is None else formula_safe_text(str(k)))
    row += 1
    table(t("summary.by_region"), t("col.regency"), counts["regency"], lambda k: unknown if k is None else formula_safe_text(str(k)))


def queue_line(review: dict, language: str) -> str:
    """The review queue in one sentence: its size, what it can fix, how much is done."""
    return i18n.t(
        "summary.queue",
        language,
        pairs=i18n.fmt_int(review.get("pairs", 0), language),
        items=i18n.fmt_int(review.get("items", 0), language),
        groups=i18n.fmt_int(review.get("group_items", 0), language),
        errors=i18n.fmt_int(round(review.get("expected_errors", 0)), language),
        done=i18n.fmt_int(review.get("decided_by_analysts", 0), language),
        share=i18n.fmt_pct(review.get("decided_by_analysts", 0), review.get("decided_by_analysts", 0) + review.get("pairs", 0), language),
    )


def _write_kind_sheet(ws, f: _Formats, rows: pd.DataFrame, language: str) -> None:
    headers = [i18n.t(h, language) for _, h, _ in COLUMNS]
    shown = {
        "severity": rows["severity"].map(lambda s: i18n.label("severity", s, language) if s else None),
        "field": rows["field"].map(lambda s: i18n.label("field", s, language) if s else None),
    }
    columns = [shown.get(key, rows[key]) for key, _, _ in COLUMNS]
    columns = [col if key == "birth_date" else formula_safe(col) for (key, _, _), col in zip(COLUMNS, columns)]
    for c, ((key, _, cap), header, col) in enumerate(zip(COLUMNS, headers, columns)):
        sample = None if key == "birth_date" else col
        ws.set_column(c, c, 12 if key == "birth_date" else _width(header, sample, cap))
    ws.set_row(0, 30)
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, f.header)
    date_col = [k for k, _, _ in COLUMNS].index("birth_date")
    cells = [c.to_numpy(dtype=object) if c.dtype == object else c.to_numpy() for c in columns]
    for r in range(len(rows)):
        for c, values in enumerate(cells):
            v = values[r]
            if c == date_col:
                if not pd.isna(v):
                    ws.write_datetime(r + 1, c, pd.Timestamp(v).to_pydatetime(), f.date)
            elif v is not None and not (isinstance(v, float) and np.isnan(v)):
                ws.write_string(r + 1, c, str(v), f.text)
    last = max(len(rows), 1)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, last, len(COLUMNS) - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    sev = [k for k, _, _ in COLUMNS].index("severity")
    for level, fmt in (("high", f.high), ("medium", f.medium)):
        shown = f'"{i18n.label("severity", level, language)}"'
        ws.conditional_format(1, sev, last, sev, {"type": "cell", "criteria": "==", "value": shown, "format": fmt})


def temp_beside(path: Path) -> Path:
    """A fresh hidden name in `path`'s folder (same file system, so os.replace is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


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


def write_conflicts_workbook(
    conflicts: pd.DataFrame,
    records: pd.DataFrame,
    path: Path,
    language: str = "id",
    show_full_nik: bool = False,
    max_rows_per_kind: int | None = None,
) -> None:
    """Write `conflicts.xlsx` to `path`, atomically; see `workbook_input` and `write_workbook`."""
    write_workbook(workbook_input(conflicts, records, max_rows_per_kind), path, language, show_full_nik)


def write_workbook(content: WorkbookInput, path: Path, language: str = "id", show_full_nik: bool = False) -> None:
    """Write the workbook to `path`, atomically (a temp file beside it, then os.replace)."""
    i18n.check_language(language)
    path = Path(path)
    rows = conflict_rows(content.shown, content.records, language, show_full_nik)
    kinds = _kind_order(rows["kind"])
    per_kind = rows.groupby("kind", sort=False).size().to_dict()
    sheets = _sheet_names(kinds, per_kind, language)

    tmp = temp_beside(path)
    try:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "use_zip64": True,
            },
        )
        created = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        wb.set_properties({"title": i18n.t("summary.title", language), "comments": "bansos-merge", "created": created})
        f = _Formats(wb, language)
        summary = wb.add_worksheet(i18n.t("sheet.summary", language))
        _write_summary(summary, f, content.counts, sheets, language, show_full_nik, content.truncated_at, content.review)
        summary.activate()
        for kind in kinds:
            part = rows[rows["kind"] == kind]
            for i, title in enumerate(sheets[kind]):
                _write_kind_sheet(wb.add_worksheet(title), f, part.iloc[i * MAX_ROWS : (i + 1) * MAX_ROWS], language)
        wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
