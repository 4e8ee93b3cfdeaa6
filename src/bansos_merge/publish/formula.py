"""Text for spreadsheets: data that a spreadsheet would evaluate gets a leading apostrophe.

The workbook stores every value as text, which Excel never evaluates; but a sheet exported to
CSV and opened again is evaluated, cell by cell. OWASP's advice on CSV injection: prefix a cell
that starts with `=`, `+`, `-`, `@`, tab, CR or LF (and, here, NUL and the full-width forms,
which some spreadsheets fold) with `'`, so that `=HYPERLINK(...)` stays text in any export.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = "=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20"


def formula_safe(values: pd.Series) -> pd.Series:
    """Text cells, with an apostrophe before those a spreadsheet would take for a formula."""
    text = values.astype("string")
    risky = text.str[:1].isin(list(FORMULA_START)).fillna(False).to_numpy(dtype=bool)
    return values.where(~risky, "'" + text) if risky.any() else values


def formula_safe_text(value: str) -> str:
    """One label (a source or region name from the data), as `formula_safe` does a column."""
    return f"'{value}" if value[:1] and value[:1] in FORMULA_START else value
