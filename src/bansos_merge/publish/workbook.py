"""conflicts.xlsx: the workbook analysts work the conflicts from.

A summary sheet (counts by conflict kind, by source and by regency, each kind linked to its
sheet), then one sheet per kind present: one row per record involved, with the record's
name, NIK, birth date, sex and village joined from `records` so the analyst needs no other
file. Frozen header, autofilter, widths from the content, dates as Excel dates, all text in
the configured language; NIK and KK numbers masked unless `show_full_nik`. What it shows is
worked out in `workbook_content`; this module writes it.

Every value is written as what it is (text as text: a record id `00012` or a name starting
with `=` is never turned into a number or a formula). Text from the data that a spreadsheet
would read as a formula once exported to CSV gets a leading apostrophe (OWASP's advice on CSV
injection): `=HYPERLINK(...)` is shown, and exported, as `'=HYPERLINK(...)`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from . import i18n
from .formula import formula_safe, formula_safe_text
from .regencies import regency_label
from .workbook_content import COLUMNS, WorkbookInput, conflict_rows, kind_order, workbook_input

MAX_ROWS = 1_048_575  # Excel's rows, less the header
MIN_WIDTH, PADDING = 6, 2


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
    note = t("summary.note_full") if show_full_nik else t("summary.note") + " " + t("summary.note_tags")
    ws.write_string(1, 0, note, f.warn if show_full_nik else f.note)
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

    table(t("summary.by_kind"), t("col.kind"), counts["kind"], lambda k: i18n.label("kind", k, language),
          extra=t("col.description"), links={k: v[0] for k, v in sheets.items()}, total=True)
    row += 1
    table(t("summary.by_source"), t("col.source"), counts["source"], lambda k: "-" if k is None else formula_safe_text(str(k)))
    row += 1
    table(t("summary.by_region"), t("col.regency"), counts["regency"], lambda k: formula_safe_text(regency_label(k, language)))


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
        "sex": rows["sex"].map(lambda s: i18n.label("sex", s, language) if s else None),
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


def write_conflicts_workbook(
    conflicts: pd.DataFrame,
    records: pd.DataFrame,
    path: Path,
    language: str = "id",
    show_full_nik: bool = False,
    max_rows_per_kind: int | None = None,
    tag_key: bytes | None = None,
) -> None:
    """Write `conflicts.xlsx` to `path`, atomically; see `workbook_input` and `write_workbook`."""
    write_workbook(workbook_input(conflicts, records, max_rows_per_kind), path, language, show_full_nik, tag_key)


def write_workbook(
    content: WorkbookInput, path: Path, language: str = "id", show_full_nik: bool = False, tag_key: bytes | None = None
) -> None:
    """Write the workbook to `path`, atomically (a temp file beside it, then os.replace).
    `tag_key`: the key of the masked NIKs' tags (masking.tag_key; None: a fresh one)."""
    i18n.check_language(language)
    path = Path(path)
    rows = conflict_rows(content.shown, content.records, language, show_full_nik, tag_key)
    kinds = kind_order(rows["kind"])
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
