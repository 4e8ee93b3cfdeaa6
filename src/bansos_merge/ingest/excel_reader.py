"""Excel workbooks (.xlsx, .xls, .ods) through calamine: title blocks, merged title cells,
several sheets, date cells next to text dates, identifiers stored as numbers.

Cells become text here: a number cell prints as its integer digits; a date cell prints as ISO
`YYYY-MM-DD`, which the date parser reads unambiguously. Excel keeps 15 significant digits, so
a 16-digit identifier typed into Excel ends in 0; a cell that may have lost a digit that way
is marked, per cell (see `_digits_doubtful`). A cell written whole by pandas, openpyxl or
xlsxwriter whose last digit is not 0 is exact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from python_calamine import CalamineError, CalamineWorkbook

from ..config import SourceConfig
from ..errors import InputError
from ..textcol import TEXT
from .check import FileCheck
from .header import find_header, header_hits, scan_rows
from .table import RawTable


def _open(path: Path, src: SourceConfig) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as e:
        raise InputError(
            f"cannot open as an Excel workbook ({e}); the file may be corrupted, password-protected, "
            "or not really Excel",
            source=src.name,
            file=str(path),
        ) from None


_EXACT_BELOW = 2.0**53  # float64 holds every integer below this; calamine reads numbers as float64


def _digits_doubtful(nums: pd.Series) -> np.ndarray:
    """Number cells whose last digit may be a rounding, not the value: 16 or more digits ending
    in 0 (Excel keeps 15 significant digits), or, above 2^53 where a float steps by 2, a value
    an odd one rounds to (a multiple of 4: ties go to the even mantissa). A Papua NIK (91... to
    96...) read as 9171011708450002 is exact; 9171011708450004 may have been ...003 or ...005."""
    values = np.abs(nums.to_numpy(dtype=np.float64))
    big = np.isfinite(values) & (values >= 1e15)
    with np.errstate(invalid="ignore"):
        return big & ((np.fmod(values, 10) == 0) | ((values >= _EXACT_BELOW) & (np.fmod(values, 4) == 0)))


def _to_text(values: list[object]) -> tuple[pd.Series, np.ndarray]:
    """One column of cell values -> (text, mask of number cells whose digits Excel may have rounded)."""
    col = pd.Series(values, dtype=object)
    kinds = col.map(type)
    is_num = kinds.isin([int, float]).to_numpy()
    is_date = kinds.isin([dt.datetime, dt.date]).to_numpy()
    is_time = kinds.isin([dt.time, dt.timedelta]).to_numpy()
    is_bool = (kinds == bool).to_numpy()
    text = col.where(~(is_num | is_date | is_time | is_bool), "").astype(object)
    doubtful = np.zeros(len(col), dtype=bool)
    if is_num.any():
        nums = col[is_num].astype("float64")
        doubtful[is_num] = _digits_doubtful(nums)
        integral = np.isfinite(nums) & (nums == np.floor(nums)) & (nums.abs() < 9.2e18)
        as_int = nums[integral].astype(np.int64).astype(str)
        text[as_int.index] = as_int
        rest = nums[~integral]
        text[rest.index] = rest.map(repr)
    if is_date.any():
        text[is_date] = pd.to_datetime(col[is_date]).dt.strftime("%Y-%m-%d")
    if is_time.any() or is_bool.any():
        text[is_time | is_bool] = col[is_time | is_bool].astype(str)
    return text.astype(TEXT), doubtful


def _chosen_sheets(wb: CalamineWorkbook, path: Path, src: SourceConfig) -> list[str]:
    names = wb.sheet_names
    if src.sheet is None:
        return names
    if isinstance(src.sheet, int):
        if not 0 <= src.sheet < len(names):
            raise InputError(
                f"sheet index {src.sheet} out of range; the workbook has {len(names)} sheet(s): {names}",
                source=src.name,
                file=str(path),
            )
        return [names[src.sheet]]
    if src.sheet not in names:
        raise InputError(f"no sheet named {src.sheet!r}; sheets are {names}", source=src.name, file=str(path))
    return [src.sheet]


def _sheet_rows(wb: CalamineWorkbook, name: str, path: Path, src: SourceConfig, nrows: int | None = None) -> tuple[list, int]:
    """The sheet's rows (the first `nrows`), and its height by its used range (its last used
    row), apart from reading its cells. Calamine parses the whole sheet to give either: once."""
    try:
        sheet = wb.get_sheet_by_name(name)
        end = sheet.end
        return sheet.to_python(skip_empty_area=False, nrows=nrows), 0 if end is None else end[0] + 1
    except CalamineError as e:
        raise InputError(f"cannot read sheet {name!r}: {e}", source=src.name, file=str(path)) from None


def _has_cells(rows: list) -> bool:
    return any(v is not None and str(v).strip() for row in rows for v in row)


def _header_index(rows: list, name: str, chosen: list[str], path: Path, src: SourceConfig) -> int | None:
    """The header row of a sheet; None for a sheet without it when several sheets are read."""
    label = f"{path} [sheet {name!r}]"
    if len(chosen) == 1 and not _has_cells(rows[: scan_rows(src)]):
        message = f"sheet {name!r} is empty" if src.sheet is not None else "the workbook is empty"
        raise InputError(message, source=src.name, file=str(path))
    try:
        return find_header(rows[: scan_rows(src)], src, label, required=len(chosen) == 1)
    except InputError:
        if len(chosen) == 1:
            raise
        return None


def check_excel_header(path: Path, src: SourceConfig) -> None:
    """Preflight: some chosen sheet carries the mapped header (reads the first rows only)."""
    wb = _open(path, src)
    chosen = _chosen_sheets(wb, path, src)
    for name in chosen:
        if _header_index(_sheet_rows(wb, name, path, src, scan_rows(src))[0], name, chosen, path, src) is not None:
            return
    _no_sheet_has_header(wb, chosen, path, src)


def _no_sheet_has_header(wb: CalamineWorkbook, chosen: list[str], path: Path, src: SourceConfig):
    """Raise the error for a workbook where no chosen sheet carries the mapped header."""
    heads = {name: _sheet_rows(wb, name, path, src, scan_rows(src))[0] for name in chosen}
    if not any(_has_cells(rows) for rows in heads.values()):
        raise InputError("the workbook is empty", source=src.name, file=str(path))
    # Re-run the sheet that came closest strictly, so the user sees which columns are missing where.
    name = max(chosen, key=lambda n: header_hits(heads[n], src))
    find_header(heads[name], src, f"{path} [sheet {name!r}]")
    raise InputError(f"no sheet carries the mapped columns; sheets: {chosen}", source=src.name, file=str(path))


def read_excel(path: Path, src: SourceConfig, check: FileCheck | None = None) -> tuple[list[RawTable], list[str]]:
    """Tables of the configured sheet, or of every sheet that carries the mapped header.

    Returns the tables and the names of sheets skipped because they lack the header; `check`
    receives the sheets' rows below their headers, counted from their used ranges.
    """
    wb = _open(path, src)
    chosen = _chosen_sheets(wb, path, src)
    tables, skipped = [], []
    for name in chosen:
        rows, height = _sheet_rows(wb, name, path, src)
        header_index = _header_index(rows, name, chosen, path, src)
        if header_index is None:
            skipped.append(name)
        else:
            tables.append(_table(path, src, name, rows, header_index))
            if check is not None:
                check.data_lines += max(height - header_index - 1, 0)
    if not tables:
        _no_sheet_has_header(wb, chosen, path, src)
    return tables, skipped


def _table(path: Path, src: SourceConfig, sheet: str, rows: list[list[object]], header_index: int) -> RawTable:
    headers = ["" if v is None else str(v) for v in rows[header_index]]
    body = rows[header_index + 1 :]
    width = len(headers)
    columns = list(zip(*body)) if body else [()] * width
    cells, numeric = {}, {}
    for i in range(width):
        values = list(columns[i]) if i < len(columns) else [""] * len(body)
        cells[f"c{i}"], numeric[f"c{i}"] = _to_text(values)
    return RawTable(
        source=src.name,
        file=path,
        sheet=sheet,
        header_row=header_index + 1,
        headers=headers,
        cells=pd.DataFrame(cells, index=pd.RangeIndex(len(body))),
        row_number=np.arange(1, len(body) + 1),
        numeric=pd.DataFrame(numeric, index=pd.RangeIndex(len(body))),
    )
