"""match_results.parquet and match_results.xlsx, each written to a temp file beside it and
then renamed (os.replace), so that a reader never sees half a file.

The workbook is for the person who sent the list: a summary (the run asked, the rows per
status) and the results sheet, one row per row of the list, in its order. Every value is
text but the row number and the weight; text from the data that a spreadsheet would take for
a formula gets a leading apostrophe (publish/formula.py), as in conflicts.xlsx.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xlsxwriter

from ..contracts import MatchResultRow
from ..publish.formula import formula_safe
from ..publish.atomic import write_atomically
from ..publish.parquet import to_arrow
from .results import counts

STEM = "match_results"
_NUMBERS = ("row_number", "match_weight")
_WIDTHS = {"status": 11, "reason": 36, "name": 28, "person_name": 28, "candidates": 40, "conflicts": 36, "conflict_ids": 40}


def write_parquet(rows: pd.DataFrame, path: Path, run_id: str) -> None:
    table = to_arrow(rows, MatchResultRow)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"bansos_merge.run_id": run_id.encode()})
    write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _cell_text(column: pd.Series) -> pd.Series:
    """A column as spreadsheet text: lists joined with '; ', booleans yes/no, dates ISO."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (list, np.ndarray)):
            return "; ".join(map(str, v)) or None
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        return str(v)[:10] if hasattr(v, "isoformat") else str(v)

    return formula_safe(column.map(one).astype(object))


def write_workbook(rows: pd.DataFrame, path: Path, run_id: str, asked: str) -> None:
    columns = list(MatchResultRow.model_fields)

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                            "strings_to_urls": False})  # fmt: skip
        bold = wb.add_format({"bold": True})
        header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E5F", "border": 1})
        summary = wb.add_worksheet("summary")
        summary.set_column(0, 0, 22)
        summary.set_column(1, 1, 60)
        summary.write_string(0, 0, "bansos-merge match", bold)
        lines = [("list", asked), ("latest run", run_id), ("rows", str(len(rows)))]
        lines += [(status, str(n)) for status, n in counts(rows).items()]
        for r, (label, value) in enumerate(lines, start=2):
            summary.write_string(r, 0, label)
            summary.write_string(r, 1, formula_safe(pd.Series([value])).iloc[0])
        sheet = wb.add_worksheet("results")
        for c, name in enumerate(columns):
            sheet.write_string(0, c, name, header)
            sheet.set_column(c, c, _WIDTHS.get(name, 18))
        cells = [rows[c].to_numpy() if c in _NUMBERS else _cell_text(rows[c]).to_numpy() for c in columns]
        for r in range(len(rows)):
            for c, values in enumerate(cells):
                v = values[r]
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    continue
                if columns[c] in _NUMBERS:
                    sheet.write_number(r + 1, c, float(v))
                else:
                    sheet.write_string(r + 1, c, v)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        wb.close()

    write_atomically(path, write)


def write_results(rows: pd.DataFrame, folder: Path, run_id: str, asked: str) -> tuple[Path, Path]:
    """Both files into `folder`; returns their paths (xlsx, parquet)."""
    folder.mkdir(parents=True, exist_ok=True)
    xlsx, parquet = folder / f"{STEM}.xlsx", folder / f"{STEM}.parquet"
    write_parquet(rows, parquet, run_id)
    write_workbook(rows, xlsx, run_id, asked)
    return xlsx, parquet
