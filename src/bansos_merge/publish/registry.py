"""registry.parquet: one golden record per person, by explicit survivorship rules.

1. The civil registry wins for identity fields (NIK, KK, name, birth place and date, sex,
   mother's name) and is the only word on alive/deceased.
2. Otherwise, per field, the candidate value ranks by: completeness (a valid NIK over a
   damaged one, more name tokens, a resolved region), then how many of the person's records
   carry it, then the recency of its source (`as_of`, else the file's date).
3. When the best two candidates tie on all of that with different values, the field is a
   conflict: it is left empty and named in `field_conflicts`, never settled by a coin toss.
   So is the NIK of a person the civil registry holds twice, under two NIKs: which one stays
   is the registry's to settle (the multiple_nik conflict names both).
The address block (address, RT/RW, village ... province and their codes) survives as a
unit, from one record, so a golden address is never stitched from two places.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..contracts import RegistryRow

from ..link.blocking import combine_keys

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


_NIK_SAYS = {"birth_date": "nik_birth_date", "sex": "nik_sex"}


def _completeness(records: pd.DataFrame, field: str) -> np.ndarray:
    value = records[field]
    present = value.notna().to_numpy(dtype=float)
    if field == "nik":
        return present * np.where(records["nik_status"].to_numpy() == "valid", 2, 1)
    if field == "name":
        return present * value.str.count(" ").fillna(0).to_numpy(dtype=float) + present
    if field in _NIK_SAYS:
        # A date or sex its NIK corroborates is more complete than one nothing confirms.
        return present + (value == records[_NIK_SAYS[field]]).fillna(False).to_numpy(dtype=float)
    return present


def _address_completeness(records: pd.DataFrame) -> np.ndarray:
    codes = sum(records[c].notna().to_numpy(dtype=int) for c in ("village_code", "district_code", "regency_code"))
    return codes * 2 + records["address"].notna().to_numpy(dtype=int) + records["rt"].notna().to_numpy(dtype=int)


@dataclass(frozen=True)
class Persons:
    """Each record's person as a dense code 0..k-1 in person_id order: the registry's row order.
    Group-bys on these codes are numpy bincounts, not string hashing."""

    code: np.ndarray
    ids: pd.Index

    @property
    def count(self) -> int:
        return len(self.ids)

    @cached_property
    def rows_by_person(self) -> np.ndarray:
        """Record rows grouped by person, in row order within each person."""
        return np.argsort(self.code, kind="stable")


def person_codes(person_id: pd.Series | np.ndarray) -> Persons:
    """Codes by one Arrow dictionary encoding and a sort of the distinct ids only."""
    ids = pc.dictionary_encode(pa.array(np.asarray(person_id, dtype=object), pa.string()))
    order = pc.array_sort_indices(ids.dictionary).to_numpy()
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    sorted_ids = ids.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    return Persons(rank[ids.indices.to_numpy()].astype(np.int64), pd.Index(sorted_ids, name="person_id"))


def value_codes(values: pd.Series) -> np.ndarray:
    """Dense codes of the values, -1 for null."""
    return pd.factorize(values)[0].astype(np.int64)


def is_value(column: pd.Series, value: str) -> np.ndarray:
    """column == value as a plain bool array (null is not equal)."""
    return column.eq(value).to_numpy(dtype=bool, na_value=False)


def distinct_counts(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per group code 0..max, how many distinct value codes its rows carry (-1 on either side:
    the row does not count)."""
    rows = (group >= 0) & (values >= 0)
    n = int(values.max(initial=0)) + 1
    pairs = pd.unique(group[rows].astype(np.int64) * n + values[rows])
    return np.bincount(pairs // n, minlength=int(group.max(initial=0)) + 1)


def _registered_twice(records: pd.DataFrame, persons: Persons, civil: np.ndarray) -> np.ndarray:
    """Per person: does the civil registry hold it under two or more valid NIKs?"""
    valid = civil & is_value(records["nik_status"], "valid")
    niks = distinct_counts(persons.code, np.where(valid, value_codes(records["nik"]), -1))
    return np.r_[niks, np.zeros(max(persons.count - len(niks), 0), np.int64)][: persons.count] > 1


def _rank_key(values: np.ndarray) -> np.ndarray:
    """Dense int codes preserving order (for strings such as ISO dates)."""
    return pd.factorize(pd.Series(values), sort=True)[0].astype(np.int64)


def _survive(
    persons: Persons, v: np.ndarray, completeness: np.ndarray, civil: np.ndarray, recency: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The winning record (row) per person, which persons have one, and which tie.

    `v` codes the candidate values (-1: none). Candidates rank by (civil registry,
    completeness, support = records sharing the value, recency, row); a tie is a runner-up
    with another value and the same rank on all but row.
    """
    # Rows already grouped by person make the sort below (stable: timsort) nearly a no-op.
    rows = persons.rows_by_person[v[persons.rows_by_person] >= 0]
    none = np.zeros(persons.count, dtype=bool)
    if len(rows) == 0:
        return np.full(persons.count, -1, dtype=np.int64), none, none
    p, v = persons.code[rows], v[rows]
    candidate = pd.factorize(p * (int(v.max(initial=0)) + 1) + v)[0]
    support = np.bincount(candidate)[candidate]
    rank = _packed([civil[rows], completeness[rows], support, recency[rows]])
    order = np.argsort(_packed([p, rank.max() - rank]), kind="stable")  # by person, best rank first, then row
    p_sorted, v_sorted, rank_sorted = p[order], v[order], rank[order]
    first = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    group = np.cumsum(first) - 1
    best = np.flatnonzero(first)
    # The runner-up: each person's best candidate whose value differs from the winner's.
    other = np.flatnonzero(v_sorted != v_sorted[best][group])
    other = other[np.r_[True, group[other][1:] != group[other][:-1]]] if len(other) else other
    tied_groups = group[other][rank_sorted[other] == rank_sorted[best[group[other]]]]
    has = np.zeros(persons.count, dtype=bool)
    has[p_sorted[best]] = True
    winner = np.full(persons.count, -1, dtype=np.int64)
    winner[p_sorted[best]] = rows[order][best]
    tie = np.zeros(persons.count, dtype=bool)
    tie[p_sorted[best][tied_groups]] = True
    return winner, has & ~tie, tie


def _packed(keys: list[np.ndarray]) -> np.ndarray:
    """Non-negative integer keys, most significant first, as one int64 with the same order."""
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key in keys:
        key = key.astype(np.int64)
        packed = packed * (int(key.max(initial=0)) + 1) + key
    return packed


def _take(values: pa.Array | pa.ChunkedArray, winner: np.ndarray, keep: np.ndarray) -> pa.Array:
    """values[winner] where keep, else null; aligned with the persons."""
    return pc.take(values, pa.array(np.where(keep, winner, 0), mask=~keep))


def _column(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(values))


def build_registry(records: pd.DataFrame, as_of: dict[str, str], persons: Persons) -> pd.DataFrame:
    """`persons` codes the records' person_id; `as_of` maps each source to its date (ISO), for recency."""
    if persons.count == 0:  # a run whose every row was rejected
        return pd.DataFrame(columns=list(RegistryRow.model_fields))
    source, source_names = pd.factorize(records["source"])
    recency = _rank_key(pd.Series(source_names).map(as_of).fillna("").to_numpy())[source]
    civil = is_value(records["source_kind"], "civil_registry").astype(np.float64)
    key = _escaped(_join([records["source"], records["record_id"]], ":"))
    out: dict[str, pd.Series] = {"person_id": pd.Series(persons.ids)}
    field_sources: dict[str, pa.Array] = {}
    tied: dict[str, np.ndarray] = {}

    def survive(field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        winner, keep, tie = _survive(persons, value_codes(records[field]), _completeness(records, field), civil, recency)
        if field == "nik":  # one person registered twice: which NIK stays is the registry's to settle
            twice = _registered_twice(records, persons, civil.astype(bool))
            keep, tie = keep & ~twice, tie | twice
        return winner, keep, tie

    # Fields are independent, and their work (hashing, sorting, Arrow takes) runs largely outside
    # the GIL: one thread per core.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for field, (winner, keep, tied[field]) in zip(_IDENTITY, pool.map(survive, _IDENTITY)):
            out[field] = _column(_take(pa.array(records[field]), winner, keep))
            field_sources[field] = _take(key, winner, keep)
    has_place = (records["address"].notna() | records["village_code"].notna()).to_numpy()
    block = np.where(has_place, combine_keys(*(value_codes(records[c]) + 1 for c in _ADDRESS)), -1)
    winner, keep, tied["address"] = _survive(persons, block, _address_completeness(records), np.zeros(len(records)), recency)
    for field in _ADDRESS:
        out[field] = _column(_take(pa.array(records[field]), winner, keep))
    field_sources["address"] = _take(key, winner, keep)

    is_civil = civil.astype(bool)
    said = {
        status: np.bincount(persons.code[is_civil & is_value(records["status"], status)], minlength=persons.count) > 0
        for status in ("deceased", "alive")
    }
    out["status"] = pd.Series(np.select([said["deceased"], said["alive"]], ["deceased", "alive"], default="unknown"))
    died = is_civil & records["death_date"].notna().to_numpy()
    death = records["death_date"][died].groupby(persons.code[died]).max().reindex(range(persons.count))
    out["death_date"] = death.reset_index(drop=True)
    out["programs"] = grouped_lists(persons.code, records["program"], persons.count)
    out["sources"] = grouped_lists(persons.code, records["source"], persons.count)
    out["n_records"] = pd.Series(np.bincount(persons.code, minlength=persons.count))
    out["n_sources"] = pd.Series(distinct_counts(persons.code, source))
    out["in_civil_registry"] = pd.Series(np.bincount(persons.code, weights=civil, minlength=persons.count) > 0)
    out["field_sources"] = _json_objects(field_sources)
    tie_person = np.concatenate([np.flatnonzero(t) for t in tied.values()])
    tie_field = np.repeat(np.array(list(tied), dtype=object), [int(t.sum()) for t in tied.values()])
    out["field_conflicts"] = grouped_lists(tie_person, pd.Series(tie_field, dtype=object), persons.count)
    return pd.DataFrame(out)


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("string[pyarrow]").array).cast(pa.string())


def _join(parts: list[pd.Series], sep: str) -> pa.Array:
    """Element-wise string join (pyarrow): null if any part is null."""
    return pc.binary_join_element_wise(*[_arrow(p) for p in parts], sep)


def _escaped(text: pa.Array) -> pa.Array:
    """Backslashes and quotes escaped, for a JSON string."""
    return pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')


def _json_objects(columns: dict[str, pa.Array]) -> pd.Series:
    """Per row, a JSON object of the non-null (already escaped) string cells (`{"nik": "dukcapil:12", ...}`)."""
    # Each cell as ', "name": "value"' or "" (no null-skipping join: pyarrow 26's drops the rows
    # whose cells are all null), then the first separator cut off.
    parts = [pc.fill_null(pc.binary_join_element_wise(f', "{name}": "', values, '"', ""), "") for name, values in columns.items()]
    joined = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*parts, ""), 2)
    return _column(pc.binary_join_element_wise("{", joined, "}", ""))


def grouped_lists(code: np.ndarray, values: pd.Series, count: int) -> pd.Series:
    """Per code 0..count-1, its records' sorted distinct non-null values as an Arrow list column."""
    v, uniques = pd.factorize(values, sort=True)
    n = max(len(uniques), 1)
    pair = np.sort(pd.unique(code[v >= 0].astype(np.int64) * n + v[v >= 0]))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(pair // n, minlength=count))]).astype(np.int32)
    items = pa.array(np.asarray(uniques, dtype=object).astype(str), pa.string()).take(pa.array(pair % n))
    return _column(pa.ListArray.from_arrays(pa.array(offsets), items))
