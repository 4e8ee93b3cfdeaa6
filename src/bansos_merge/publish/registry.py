"""registry.parquet: one golden record per person, by explicit survivorship rules.

1. The civil registry wins for identity fields (NIK, KK, name, birth place and date, sex,
   mother's name) and is the only word on alive/deceased.
2. Otherwise, per field, the candidate value ranks by: completeness (a valid NIK over a
   damaged one, more name tokens, a resolved region), then how many of the person's records
   carry it, then the recency of its source (`as_of`, else the file's date).
3. When the best two candidates tie on all of that with different values, the field is a
   conflict: it is left empty and named in `field_conflicts`, never settled by a coin toss.
The address block (address, RT/RW, village ... province and their codes) survives as a
unit, from one record, so a golden address is never stitched from two places.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_IDENTITY = ("nik", "kk", "name", "birth_place", "birth_date", "sex", "mother_name")
_ADDRESS = (
    "address",
    "rt",
    "rw",
    "village",
    "district",
    "regency",
    "province",
    "village_code",
    "district_code",
    "regency_code",
    "province_code",
)


def _completeness(records: pd.DataFrame, field: str) -> np.ndarray:
    value = records[field]
    present = value.notna().to_numpy(dtype=float)
    if field == "nik":
        return present * np.where(records["nik_status"].to_numpy() == "valid", 2, 1)
    if field == "name":
        return present * value.str.count(" ").fillna(0).to_numpy(dtype=float) + present
    if field == "birth_date":
        # A date its NIK corroborates is more complete than one nothing confirms.
        return present + (value == records["nik_birth_date"]).fillna(False).to_numpy(dtype=float)
    return present


def _address_completeness(records: pd.DataFrame) -> np.ndarray:
    codes = sum(records[c].notna().to_numpy(dtype=int) for c in ("village_code", "district_code", "regency_code"))
    return codes * 2 + records["address"].notna().to_numpy(dtype=int) + records["rt"].notna().to_numpy(dtype=int)


@dataclass(frozen=True)
class _Persons:
    """Records' persons as dense codes 0..k-1, in the registry's (sorted) order."""

    code: np.ndarray
    index: pd.Index


def _rank_key(values: np.ndarray) -> np.ndarray:
    """Dense int codes preserving order (for strings such as ISO dates)."""
    return pd.factorize(pd.Series(values), sort=True)[0].astype(np.int64)


def _survive(
    persons: _Persons, value: pd.Series, completeness: np.ndarray, civil: np.ndarray, recency: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The winning record (row) per person, which persons have one, and which tie.

    Candidates rank by (civil registry, completeness, support = records sharing the value,
    recency, row); a tie is a runner-up with another value and the same rank on all but row.
    """
    v = pd.factorize(value)[0].astype(np.int64)
    rows = np.flatnonzero(v >= 0)
    none = np.zeros(len(persons.index), dtype=bool)
    if len(rows) == 0:
        return np.full(len(persons.index), -1, dtype=np.int64), none, none
    p, v = persons.code[rows], v[rows]
    combo = p * (int(v.max(initial=0)) + 1) + v
    _, inverse, counts = np.unique(combo, return_inverse=True, return_counts=True)
    rank = np.stack([civil[rows], completeness[rows], counts[inverse], recency[rows]]).astype(np.float64)
    order = np.lexsort((rows, *(-rank[::-1]), p))
    p_sorted, v_sorted, rank_sorted = p[order], v[order], rank[:, order]
    first = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    group = np.cumsum(first) - 1
    best = np.flatnonzero(first)
    # The runner-up: each person's best candidate whose value differs from the winner's.
    other = np.flatnonzero(v_sorted != v_sorted[best][group])
    other = other[np.r_[True, group[other][1:] != group[other][:-1]]] if len(other) else other
    tied_groups = group[other][(rank_sorted[:, other] == rank_sorted[:, best[group[other]]]).all(axis=0)]
    has = np.zeros(len(persons.index), dtype=bool)
    has[p_sorted[best]] = True
    winner = np.full(len(persons.index), -1, dtype=np.int64)
    winner[p_sorted[best]] = rows[order][best]
    tie = np.zeros(len(persons.index), dtype=bool)
    tie[p_sorted[best][tied_groups]] = True
    return winner, has & ~tie, tie


def _take(values: pd.Series, winner: np.ndarray, keep: np.ndarray) -> pd.Series:
    """values[winner] where keep, else null; aligned with the persons."""
    taken = values.iloc[np.where(keep, winner, 0)].reset_index(drop=True)
    return taken.where(pd.Series(keep), None)


def build_registry(records: pd.DataFrame, as_of: dict[str, str]) -> pd.DataFrame:
    """`records` carries person_id; `as_of` maps each source to its date (ISO), for recency."""
    codes, uniques = pd.factorize(records["person_id"], sort=True)
    persons = _Persons(codes.astype(np.int64), pd.Index(uniques, name="person_id"))
    recency = _rank_key(records["source"].map(as_of).fillna("").to_numpy())
    civil = records["source_kind"].eq("civil_registry").to_numpy(dtype=np.float64)
    key = _join([records["source"], records["record_id"]], ":")
    out = pd.DataFrame(index=persons.index)
    field_sources: dict[str, pd.Series] = {}
    tied: dict[str, np.ndarray] = {}
    for field in _IDENTITY:
        winner, keep, tied[field] = _survive(persons, records[field], _completeness(records, field), civil, recency)
        out[field] = _take(records[field], winner, keep).to_numpy()
        field_sources[field] = _take(key, winner, keep)
    block = _join([records[c].astype("string[pyarrow]") for c in _ADDRESS], "|", fill="")
    has_place = records["address"].notna() | records["village_code"].notna()
    winner, keep, tied["address"] = _survive(
        persons, block.where(has_place.to_numpy()), _address_completeness(records), np.zeros(len(records)), recency
    )
    for field in _ADDRESS:
        out[field] = _take(records[field], winner, keep).to_numpy()
    field_sources["address"] = _take(key, winner, keep)

    civil_rows = records[civil.astype(bool)]
    said = civil_rows.assign(dead=civil_rows["status"].eq("deceased"), alive=civil_rows["status"].eq("alive"))
    said = said.groupby("person_id")[["dead", "alive"]].any().reindex(persons.index, fill_value=False)
    out["status"] = np.select([said["dead"], said["alive"]], ["deceased", "alive"], default="unknown")
    out["death_date"] = civil_rows.dropna(subset=["death_date"]).groupby("person_id")["death_date"].max().reindex(persons.index)
    out["programs"] = grouped_lists(records["person_id"], records["program"], persons.index)
    out["sources"] = grouped_lists(records["person_id"], records["source"], persons.index)
    out["n_records"] = np.bincount(persons.code, minlength=len(persons.index))
    out["n_sources"] = records.groupby(persons.code)["source"].nunique().reindex(range(len(persons.index))).to_numpy()
    out["in_civil_registry"] = np.bincount(persons.code, weights=civil, minlength=len(persons.index)) > 0
    out["field_sources"] = _json_objects(field_sources)
    names = pd.DataFrame(tied).melt(ignore_index=False).query("value")
    out["field_conflicts"] = grouped_lists(pd.Series(persons.index[names.index]), names["variable"], persons.index)
    return out.reset_index()


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("string[pyarrow]").array).cast(pa.string())


def _join(parts: list[pd.Series], sep: str, fill: str | None = None) -> pd.Series:
    """Element-wise string join (pyarrow): null if any part is null, unless `fill` replaces nulls."""
    arrays = [_arrow(p) for p in parts]
    if fill is not None:
        arrays = [pc.fill_null(a, fill) for a in arrays]
    return pd.Series(pd.arrays.ArrowExtensionArray(pc.binary_join_element_wise(*arrays, sep)))


def _json_objects(columns: dict[str, pd.Series]) -> np.ndarray:
    """Per row, a JSON object of the non-null string cells (`{"nik": "dukcapil:12", ...}`)."""
    parts = []
    for name, values in columns.items():
        text = values.astype("string[pyarrow]").str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
        parts.append(pc.binary_join_element_wise(f'"{name}": "', _arrow(text), '"', ""))
    joined = pc.binary_join_element_wise(*parts, ", ", null_handling="skip")
    return pc.binary_join_element_wise("{", joined, "}", "").to_numpy(zero_copy_only=False)


def grouped_lists(keys: pd.Series, values: pd.Series, index: pd.Index) -> pd.Series:
    """Sorted distinct non-null values per key, as an Arrow list column aligned to `index`."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.astype(object).to_numpy()}).dropna()
    frame = frame.drop_duplicates().sort_values(["k", "v"])
    pos = index.get_indexer(frame["k"])
    frame, pos = frame[pos >= 0], pos[pos >= 0]
    counts = np.bincount(pos, minlength=len(index))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    arr = pa.ListArray.from_arrays(pa.array(offsets), pa.array(frame["v"].astype(str).to_numpy(), pa.string()))
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=index)
