"""All tables of one source -> its records and rejects, with the row accounting checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import AccountingError
from ..ingest.source import SourceRead, id_prefix, is_glob, stream_source
from ..ingest.table import RawTable
from .records import SeenIds, normalize_table, record_ids


@dataclass
class NormalizedSource:
    name: str
    kind: str
    records: pd.DataFrame | None  # None when they were written to parts on disk (see parts.py)
    rejects: pd.DataFrame
    rows_read: int
    files: list[dict]
    as_of: str  # the extract's date (ISO), for survivorship recency
    accepted: int

    def accounting(self) -> dict:
        reasons = self.rejects["reason_code"].value_counts().sort_index()
        return {
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": len(self.rejects),
            "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()},
        }


def _id_prefix(read: SourceRead, table_index: int) -> str:
    t = read.tables[table_index]
    return id_prefix(t, is_glob(read.source.path), sum(1 for other in read.tables if other.file == t.file) > 1)


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
        start = 0
        for piece in table.cut(rows):
            stop = start + len(piece.cells)
            parts.append(TablePart(read.source, piece, (ids.iloc[start:stop], made[start:stop])))
            start = stop
    return parts


def stream_parts(src: SourceConfig, rows: int, files: list[dict]) -> Iterator[TablePart]:
    """`split_source` for a source read a slice at a time (`ingest.source.stream_source`): the
    same parts, but only the slice at hand is in memory. `files` receives the files read."""
    seen: dict[tuple, SeenIds] = {}
    for piece in stream_source(src, rows, files):
        ids = record_ids(piece.table, src, piece.id_prefix, seen.setdefault(piece.table_key, SeenIds()))
        yield TablePart(src, piece.table, ids)


def normalize_part(part: TablePart) -> tuple[pd.DataFrame, pd.DataFrame]:
    return normalize_table(part.table, part.source, ids=part.ids)


def gather_source(read: SourceRead, results: list[tuple[pd.DataFrame | int, pd.DataFrame]]) -> NormalizedSource:
    """One source's records and rejects from its parts' results, with the rows accounted for.
    A part's records may be just their count, when they were written to disk instead."""
    counted = all(isinstance(r, int) for r, _ in results)
    records = None if counted else pd.concat([r for r, _ in results], ignore_index=True)
    accepted = sum(r if counted else len(r) for r, _ in results)
    rejects = pd.concat([j for _, j in results], ignore_index=True)
    if accepted + len(rejects) != read.rows_read:
        raise AccountingError(
            f"source '{read.source.name}': {read.rows_read} rows read but {accepted} accepted + "
            f"{len(rejects)} rejected; a row was lost or duplicated (a bug: please report it)"
        )
    return NormalizedSource(read.source.name, read.source.kind, records, rejects, read.rows_read, read.files, read.as_of, accepted)


def normalize_source(read: SourceRead, rows: int | None = None) -> NormalizedSource:
    """Normalise a whole source in this process (the flow maps `normalize_part` instead)."""
    return gather_source(read, [normalize_part(p) for p in split_source(read, rows)])
