"""The raw table every reader produces: the cells as text, with exact row numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

BAD_ROW_COLUMNS = ["row_number", "text", "reason_code", "reason", "field"]


def clean_header(value: object) -> str:
    """Headers are matched case-insensitively with spacing folded: 'Tanggal\\nLahir' == 'TANGGAL LAHIR'."""
    return re.sub(r"\s+", " ", str(value if value is not None else "")).strip().rstrip(":").strip().upper()


@dataclass
class RawTable:
    """One sheet or CSV file below its header row.

    `cells` has one text column per header position (`c0`, `c1`, ...; headers may repeat);
    `row_number[i]` is the 1-based position of cells row i among the rows below the header.
    `numeric` marks Excel number cells whose digits Excel may have rounded (16+ digits ending in
    0, or beyond what a float holds): an identifier there lost its last digit.
    `bad_rows` are rows that cannot be a record as read: not split into the header's columns,
    a NUL byte or an overlong value (`field`: the header it is about, or None).
    """

    source: str
    file: Path
    sheet: str | None
    header_row: int
    headers: list[str]
    cells: pd.DataFrame
    row_number: np.ndarray
    numeric: pd.DataFrame | None = None
    bad_rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BAD_ROW_COLUMNS))

    @property
    def rows_read(self) -> int:
        return len(self.cells) + len(self.bad_rows)

    @property
    def label(self) -> str:
        return f"{self.file.name}" + (f" [sheet {self.sheet!r}]" if self.sheet is not None else "")

    def cut(self, rows: int | None) -> list[RawTable]:
        """The table in slices of at most `rows` rows (None: whole); bad rows go with the first."""
        n = len(self.cells)
        step = max(n if not rows else rows, 1)
        return [
            replace(
                self,
                cells=self.cells.iloc[start : start + step],
                row_number=self.row_number[start : start + step],
                numeric=None if self.numeric is None else self.numeric.iloc[start : start + step],
                bad_rows=self.bad_rows if start == 0 else pd.DataFrame(columns=BAD_ROW_COLUMNS),
            )
            for start in range(0, max(n, 1), step)
        ]

    def column_of(self, header: str) -> str:
        """The `cells` column holding `header` (assumes the header was checked present)."""
        return f"c{[clean_header(h) for h in self.headers].index(clean_header(header))}"
