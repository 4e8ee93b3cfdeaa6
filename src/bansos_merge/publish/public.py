"""public/: a run's figures for citizens and independent monitors, without personal data.

`aggregates.parquet` and `aggregates.csv` hold one row per village x program: aid-list entries
(recipients), distinct persons, and entries flagged by each conflict kind. `index.html` shows
the same figures by regency in a sortable table. Nothing in public/ names a person, a record,
a NIK, a KK or an address: regions come from the Kemendagri tables by code, never from the
records' text, and a program carried by fewer than `public_min_cell` persons is shown as OTHER
(a mis-mapped column would otherwise print its values as program names).

Small-cell suppression: a count from 1 to `public_min_cell - 1` is shown as `<5` (null in the
Parquet file). Every figure above the village (a regency, a program's total, the headline
cards) is the sum of the published village cells, so it can tell nothing the village table
does not: where it covers suppressed cells it is shown as the range those cells allow
(each between 1 and public_min_cell - 1). Subtracting the visible villages from a total gives
back that range, never a value.

Counts are computed per person partition (`public_counts`: counts only leave the partition),
summed over partitions (`sum_counts`; a partition holds whole persons, so distinct persons add
up), and protected once, when written (`write_public`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..contracts import PublicAggregateRow
from ..regions import load_regions
from .atomic import write_atomically
from .parquet import to_arrow
from .public_page import render_public_page

LEVELS = (("province", 2), ("regency", 4), ("district", 6), ("village", 10))
REGION_COLUMNS = [c for name, _ in LEVELS for c in (f"{name}_code", name)]
COUNTS = [f for f in PublicAggregateRow.model_fields if f not in (*REGION_COLUMNS, "program")]
OTHER = "OTHER"
_KEYS = ["code", "program"]  # the most specific region code resolved ("" when none), program ("" when none)


def count_column(kind: pd.Series, values: pd.Series) -> pd.Series:
    """The public column a conflict row counts in: its kind, with invalid_nik split into a
    missing NIK and a wrong one (the two must never be added up by a reader)."""
    invalid = kind.astype(str) == "invalid_nik"
    reason = np.where(values.astype(object).to_numpy() == "missing", "invalid_nik_missing", "invalid_nik_wrong")
    return pd.Series(np.where(invalid, reason, kind.astype(str)), index=kind.index)


def public_counts(records: pd.DataFrame, conflicts: pd.DataFrame) -> pd.DataFrame:
    """Per region code x program: the aid-list entries, their distinct persons, and the entries
    flagged by each kind. Counts only; a run's person partitions give frames that `sum_counts` adds."""
    aid = records[(records["source_kind"] == "aid_list").to_numpy(dtype=bool)]
    code = pd.Series(pd.NA, index=aid.index, dtype=object)
    for name, _ in reversed(LEVELS):  # the most specific level resolved
        code = code.fillna(aid[f"{name}_code"].astype(object))
    keys = pd.DataFrame({"code": code.fillna(""), "program": aid["program"].astype(object).fillna("")})
    keys = keys.astype(str).assign(source=aid["source"].astype(str), record_id=aid["record_id"].astype(str))
    base = keys.assign(person_id=aid["person_id"].astype(str)).groupby(_KEYS).agg(
        recipients=("person_id", "size"), persons=("person_id", "nunique")
    )
    flagged = conflicts.loc[:, ["source", "record_id"]].astype(str).assign(column=count_column(conflicts["kind"], conflicts["values"]))
    flagged = flagged.drop_duplicates().merge(keys, on=["source", "record_id"])
    by_kind = flagged.groupby([*_KEYS, "column"]).size().unstack("column")
    out = base.join(by_kind).reindex(columns=COUNTS).fillna(0).astype(np.int64)
    return out.reset_index()


def sum_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Partitions' `public_counts` as the run's."""
    stacked = pd.concat(frames, ignore_index=True)
    if stacked.empty:
        return pd.DataFrame(columns=[*_KEYS, *COUNTS])
    return stacked.groupby(_KEYS, as_index=False)[COUNTS].sum()


def _fold_rare_programs(counts: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Programs carried by fewer than `min_cell` persons (summed over villages) become OTHER."""
    persons = counts.groupby("program")["persons"].transform("sum")
    rare = (counts["program"] != "") & (persons < min_cell)
    if not rare.any():
        return counts
    return counts.assign(program=counts["program"].where(~rare, OTHER)).groupby(_KEYS, as_index=False)[COUNTS].sum()


def aggregates(counts: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The public village x program table: Kemendagri names by code, counts from 1 to
    `min_cell - 1` suppressed (null), sorted by region code and program."""
    counts = _fold_rare_programs(counts, min_cell).sort_values(_KEYS, kind="stable").reset_index(drop=True)
    names = load_regions().regions.set_index("code")["name"]
    code = counts["code"].astype(str)
    def text(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), None)

    out = {}
    for name, width in LEVELS:
        level = code.str.slice(0, width).where(code.str.len() >= width)
        out[f"{name}_code"] = text(level)
        out[name] = text(level.map(names))
    out["program"] = text(counts["program"].where(counts["program"] != ""))
    for column in COUNTS:
        value = counts[column].astype("Int64")
        out[column] = value.mask((value >= 1) & (value < min_cell))
    return pd.DataFrame(out)


def ranges(table: pd.DataFrame, by: list[str], min_cell: int) -> pd.DataFrame:
    """Sums of published cells by `by`: per count column, `<col>_low` and `<col>_high`, the
    lowest and highest totals the suppressed cells allow (equal when none is suppressed);
    `villages`: the rows summed."""
    hidden = table[COUNTS].isna()
    shown = table[COUNTS].fillna(0).astype(np.int64)
    parts = {"villages": pd.Series(1, index=table.index)}
    for column in COUNTS:
        parts[f"{column}_low"] = shown[column] + hidden[column].astype(np.int64)
        parts[f"{column}_high"] = shown[column] + hidden[column].astype(np.int64) * (min_cell - 1)
    frame = pd.DataFrame(parts).assign(**{c: table[c].fillna("") for c in by})
    return frame.groupby(by, as_index=False, sort=True).sum()


def aggregates_csv(table: pd.DataFrame, min_cell: int) -> str:
    """The table as CSV text, a suppressed count written `<min_cell`."""
    shown = table.astype({c: object for c in COUNTS})
    for column in COUNTS:
        shown[column] = table[column].astype(object).where(table[column].notna(), f"<{min_cell}")
    return shown.to_csv(index=False, lineterminator="\n")


def write_public(folder: Path, counts: pd.DataFrame, manifest: dict, min_cell: int, language: str) -> None:
    """public/aggregates.parquet, aggregates.csv and index.html into `folder`, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = aggregates(counts, min_cell)
    arrow = to_arrow(table, PublicAggregateRow)
    arrow = arrow.replace_schema_metadata({**arrow.schema.metadata, b"bansos_merge.public_min_cell": str(min_cell).encode()})
    write_atomically(folder / "aggregates.parquet", lambda p: pq.write_table(arrow, p, compression="zstd"))
    write_atomically(folder / "aggregates.csv", lambda p: p.write_text(aggregates_csv(table, min_cell), encoding="utf-8"))
    by_regency = ranges(table, ["province_code", "province", "regency_code", "regency", "program"], min_cell)
    page = render_public_page(by_regency, ranges(table, ["program"], min_cell), COUNTS, manifest, min_cell, language)
    write_atomically(folder / "index.html", lambda p: p.write_text(page, encoding="utf-8"))
