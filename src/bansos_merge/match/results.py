"""The answer: one row per row asked about (contracts.MatchResultRow), in the list's order,
with what the latest run knows of the person a row matched: the registry's facts (civil
registry, alive or deceased, programs, sources) and the conflicts that concern them. Rejected
rows keep their reason, as in rejects.parquet, so that every row is accounted for.
NIKs are masked as in the workbook (publish/masking.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..contracts import MatchResultRow
from ..publish.masking import mask_nik
from .inputs import Inputs
from .latest import LatestRun

COLUMNS = list(MatchResultRow.model_fields)
_LISTS = ("candidates", "programs", "sources", "conflicts", "conflict_ids")


def _as_lists(values) -> np.ndarray:
    """A 1-D object array of Python lists (None or NaN: empty), ragged or not."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # per row of the answer, never of the run
        out[i] = [] if v is None or (isinstance(v, float) and v != v) else list(v)
    return out


def _person_fields(run: LatestRun, person: np.ndarray) -> dict[str, np.ndarray]:
    """The registry's facts and the conflicts of each person (-1: no person: null, empty)."""
    n, known = len(person), np.flatnonzero(person >= 0)
    facts = run.registry.take(pa.array(person[known])).to_pandas()
    conflicts = run.conflicts.reindex(person[known])
    shown = {
        "person_id": facts["person_id"],
        "person_nik": mask_nik(facts["nik"]),
        "person_name": facts["name"],
        "person_birth_date": facts["birth_date"],
        "in_civil_registry": facts["in_civil_registry"],
        "vital_status": facts["status"],
    }
    lists = {"programs": facts["programs"], "sources": facts["sources"], "conflicts": conflicts["kinds"],
             "conflict_ids": conflicts["conflict_ids"]}  # fmt: skip
    out = {}
    for name, values in shown.items():
        out[name] = np.full(n, None, dtype=object)
        out[name][known] = values.astype(object).where(values.notna(), None).to_numpy()
    for name, values in lists.items():
        out[name] = _as_lists([None] * n)
        out[name][known] = _as_lists(values.to_numpy(dtype=object))
    return out


def result_rows(run: LatestRun, inputs: Inputs, found: pd.DataFrame) -> pd.DataFrame:
    """The result frame (contract columns): `found` is score.outcome of `inputs.records`.

    Built column by column as arrays (accepted rows, then rejected ones, then ordered), not by
    concatenating and converting frames: a query of one row pays pandas per operation, not per row."""
    rec, rej = inputs.records, inputs.rejects
    accepted = {
        "row_number": rec["row_number"].to_numpy(),
        "sheet": rec["source_sheet"].astype(object).to_numpy(),
        "record_id": rec["record_id"].astype(str).to_numpy(),
        "status": found["status"].to_numpy(),
        "nik": mask_nik(rec["nik_raw"].str.strip().replace("", None)).to_numpy(),
        "name": rec["name"].astype(object).to_numpy(),
        "match_weight": found["weight"].round(3).to_numpy(),
        "decision": found["decision"].to_numpy(),
        "candidates": _candidate_ids(run, found["candidates"]),
        **_person_fields(run, found["person"].to_numpy()),
    }
    rejected = {
        "row_number": rej["row_number"].to_numpy(),
        "sheet": rej["source_sheet"].astype(object).to_numpy(),
        "record_id": rej["record_id"].astype(str).to_numpy(),
        "status": np.full(len(rej), "rejected", dtype=object),
        "reason_code": rej["reason_code"].to_numpy(),
        "reason": rej["reason"].to_numpy(),
        "field": rej["field"].to_numpy(),
        **{column: _as_lists([None] * len(rej)) for column in _LISTS},
    }
    columns = {}
    for name in COLUMNS:
        parts = [part[name] if name in part else np.full(len(part["row_number"]), None, dtype=object) for part in (accepted, rejected)]
        if name == "row_number":
            columns[name] = np.concatenate(parts).astype(np.int64)
        elif name == "match_weight":
            columns[name] = np.concatenate([np.asarray(p, dtype=np.float64) if p.dtype != object else np.full(len(p), np.nan) for p in parts])
        else:
            values = np.concatenate([np.asarray(p, dtype=object) for p in parts])
            values[pd.isna(values)] = None  # NaN, NA, NaT: null (lists are values)
            columns[name] = values
    sheet_rank = pd.Series(columns["sheet"], dtype=object).map({s: i for i, s in enumerate(inputs.sheets)}).fillna(0)
    order = np.lexsort((columns["row_number"], sheet_rank.to_numpy()))
    return pd.DataFrame({name: values[order] for name, values in columns.items()})


def _candidate_ids(run: LatestRun, candidates: pd.Series) -> np.ndarray:
    """Person codes -> person IDs, per row."""
    flat = np.concatenate([np.asarray(c, dtype=np.int64) for c in candidates] or [np.zeros(0, np.int64)])
    ids = run.registry.column("person_id").take(pa.array(flat)).to_pylist()
    bounds = np.cumsum([0, *(len(c) for c in candidates)])
    return _as_lists([ids[a:b] for a, b in zip(bounds[:-1], bounds[1:])])


def counts(rows: pd.DataFrame) -> dict[str, int]:
    """Rows per status, every status named."""
    got = rows["status"].value_counts()
    return {s: int(got.get(s, 0)) for s in ("matched", "ambiguous", "not_found", "rejected")}
