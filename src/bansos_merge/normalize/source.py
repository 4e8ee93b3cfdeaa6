"""All tables of one source -> its records and rejects, with the row accounting checked."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import AccountingError
from ..ingest.source import SourceRead, is_glob
from ..ingest.table import BAD_ROW_COLUMNS, RawTable
from .records import normalize_table, record_ids


@dataclass
class NormalizedSource:
    name: str
    kind: str
    records: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    files: list[dict]
    as_of: str  # the extract's date (ISO), for survivorship recency

    def accounting(self) -> dict:
        reasons = self.rejects["reason_code"].value_counts().sort_index()
        return {
            "rows_read": self.rows_read,
            "accepted": len(self.records),
            "rejected": len(self.rejects),
            "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()},
        }


def _id_prefix(read: SourceRead, table_index: int) -> str:
    """Row-number ids need the file (glob) and sheet (several sheets) to stay unique."""
    t = read.tables[table_index]
    parts = []
    if is_glob(read.source.path):
        parts.append(t.file.name)
    if sum(1 for other in read.tables if other.file == t.file) > 1:
        parts.append(str(t.sheet))
    return "".join(f"{p}/" for p in parts)


@dataclass
class TablePart:
    """A slice of one raw table, normalised on its own (on a Dask worker, say)."""

    source: SourceConfig
    table: RawTable
    ids: tuple[pd.Series, np.ndarray]  # numbered over the whole table, so slicing changes nothing


def split_source(read: SourceRead, rows: int | None) -> list[TablePart]:
    """Each table of the source in slices of at most `rows` rows (None: whole tables).

    Rows that could not be split into columns travel with the first slice of their table.
    """
    parts = []
    for i, table in enumerate(read.tables):
        ids, made = record_ids(table, read.source, _id_prefix(read, i))
        n = len(table.cells)
        step = n if not rows else rows
        for start in range(0, max(n, 1), max(step, 1)):
            stop = min(start + step, n)
            piece = replace(
                table,
                cells=table.cells.iloc[start:stop],
                row_number=table.row_number[start:stop],
                numeric=None if table.numeric is None else table.numeric.iloc[start:stop],
                bad_rows=table.bad_rows if start == 0 else pd.DataFrame(columns=BAD_ROW_COLUMNS),
            )
            parts.append(TablePart(read.source, piece, (ids.iloc[start:stop], made[start:stop])))
    return parts


def normalize_part(part: TablePart) -> tuple[pd.DataFrame, pd.DataFrame]:
    return normalize_table(part.table, part.source, ids=part.ids)


def gather_source(read: SourceRead, results: list[tuple[pd.DataFrame, pd.DataFrame]]) -> NormalizedSource:
    """One source's records and rejects from its parts' results, with the rows accounted for."""
    records = pd.concat([r for r, _ in results], ignore_index=True)
    rejects = pd.concat([j for _, j in results], ignore_index=True)
    out = NormalizedSource(read.source.name, read.source.kind, records, rejects, read.rows_read, read.files, read.as_of)
    if len(records) + len(rejects) != read.rows_read:
        raise AccountingError(
            f"source '{read.source.name}': {read.rows_read} rows read but {len(records)} accepted + "
            f"{len(rejects)} rejected; a row was lost or duplicated (a bug: please report it)"
        )
    return out


def normalize_source(read: SourceRead, rows: int | None = None) -> NormalizedSource:
    """Normalise a whole source in this process (the flow maps `normalize_part` instead)."""
    return gather_source(read, [normalize_part(p) for p in split_source(read, rows)])
