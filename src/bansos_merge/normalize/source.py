"""All tables of one source -> its records and rejects, with the row accounting checked."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..errors import AccountingError
from ..ingest.source import SourceRead, is_glob
from .records import normalize_table


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


def normalize_source(read: SourceRead) -> NormalizedSource:
    recs, rejs = [], []
    for i, table in enumerate(read.tables):
        r, j = normalize_table(table, read.source, _id_prefix(read, i))
        recs.append(r)
        rejs.append(j)
    records = pd.concat(recs, ignore_index=True)
    rejects = pd.concat(rejs, ignore_index=True)
    out = NormalizedSource(read.source.name, read.source.kind, records, rejects, read.rows_read, read.files, read.as_of)
    if len(records) + len(rejects) != read.rows_read:
        raise AccountingError(
            f"source '{read.source.name}': {read.rows_read} rows read but {len(records)} accepted + "
            f"{len(rejects)} rejected; a row was lost or duplicated (a bug: please report it)"
        )
    return out
