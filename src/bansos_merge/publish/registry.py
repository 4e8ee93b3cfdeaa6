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

import numpy as np
import pandas as pd
import pyarrow as pa

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


def _survive(
    records: pd.DataFrame, value_key: pd.Series, completeness: np.ndarray, civil_first: bool, recency: np.ndarray
) -> tuple[pd.Series, pd.Series]:
    """Index (row position) of the winning record per person, and a per-person tie flag."""
    frame = pd.DataFrame(
        {
            "person": records["person_id"].to_numpy(),
            "value": value_key.astype(object).to_numpy(),
            "civil": records["source_kind"].eq("civil_registry").to_numpy() if civil_first else False,
            "complete": completeness,
            "recency": recency,
            "row": np.arange(len(records)),
        }
    )
    frame = frame[frame["value"].notna()]
    frame["support"] = frame.groupby(["person", "value"])["row"].transform("size")
    ranked = frame.sort_values(
        ["person", "civil", "complete", "support", "recency", "row"],
        ascending=[True, False, False, False, False, True],
        kind="stable",
    )
    rank_cols = ["civil", "complete", "support", "recency"]
    first = ranked.drop_duplicates("person")
    # The runner-up: the best candidate of each person with a different value.
    others = ranked.merge(first[["person", "value"]], on="person", suffixes=("", "_best"))
    runner = others[others["value"] != others["value_best"]].drop_duplicates("person")
    tie = runner.set_index("person")[rank_cols].eq(first.set_index("person").loc[runner["person"], rank_cols]).all(axis=1)
    return first.set_index("person")["row"], tie[tie]


def build_registry(records: pd.DataFrame, as_of: dict[str, str]) -> pd.DataFrame:
    """`records` carries person_id; `as_of` maps each source to its date (ISO), for recency."""
    recency = records["source"].map(as_of).fillna("").to_numpy()
    persons = pd.Index(np.sort(records["person_id"].unique()), name="person_id")
    out = pd.DataFrame(index=persons)
    field_sources: dict[str, pd.Series] = {}
    conflicts: list[pd.Series] = []
    key = records["source"] + ":" + records["record_id"]
    for field in _IDENTITY:
        value = records[field]
        winner, tie = _survive(records, value, _completeness(records, field), True, recency)
        picked = pd.Series(value.to_numpy()[winner.to_numpy()], index=winner.index)
        picked[picked.index.isin(tie.index)] = None
        out[field] = picked.reindex(persons)
        field_sources[field] = pd.Series(key.to_numpy()[winner.to_numpy()], index=winner.index).where(
            ~winner.index.isin(tie.index)
        )
        conflicts.append(pd.Series(field, index=tie.index))
    block = records[list(_ADDRESS)].astype(str).agg("|".join, axis=1)
    winner, tie = _survive(records, block.where(records["address"].notna() | records["village_code"].notna()), _address_completeness(records), False, recency)
    for field in _ADDRESS:
        picked = pd.Series(records[field].to_numpy()[winner.to_numpy()], index=winner.index)
        picked[picked.index.isin(tie.index)] = None
        out[field] = picked.reindex(persons)
    field_sources["address"] = pd.Series(key.to_numpy()[winner.to_numpy()], index=winner.index).where(~winner.index.isin(tie.index))
    conflicts.append(pd.Series("address", index=tie.index))

    civil = records[records["source_kind"] == "civil_registry"]
    said = civil.assign(dead=civil["status"].eq("deceased"), alive=civil["status"].eq("alive"))
    said = said.groupby("person_id")[["dead", "alive"]].any().reindex(persons, fill_value=False)
    out["status"] = np.select([said["dead"], said["alive"]], ["deceased", "alive"], default="unknown")
    out["death_date"] = civil.dropna(subset=["death_date"]).groupby("person_id")["death_date"].max().reindex(persons)
    out["programs"] = grouped_lists(records["person_id"], records["program"], persons)
    out["sources"] = grouped_lists(records["person_id"], records["source"], persons)
    grouped = records.groupby("person_id")
    out["n_records"] = grouped.size().reindex(persons)
    out["n_sources"] = grouped["source"].nunique().reindex(persons)
    out["in_civil_registry"] = persons.isin(civil["person_id"])
    out["field_sources"] = _json_objects(pd.DataFrame(field_sources).reindex(persons))
    tied = pd.concat(conflicts) if conflicts else pd.Series(dtype=object)
    out["field_conflicts"] = grouped_lists(pd.Series(tied.index), pd.Series(tied.to_numpy()), persons)
    return out.reset_index()


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


def _json_objects(frame: pd.DataFrame) -> np.ndarray:
    """Each row as a JSON object of its non-null string cells, built column-wise."""
    parts = []
    for col in frame.columns:
        v = frame[col].astype(object)
        escaped = v.where(v.isna(), v.astype(str).str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False))
        parts.append(("\"" + col + "\": \"" + escaped + "\"").where(v.notna(), ""))
    if not parts:
        return np.full(len(frame), "{}", dtype=object)
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "\x1f" + part  # a separator no escaped value contains
    joined = joined.str.replace("\x1f+", "\x1f", regex=True).str.strip("\x1f").str.replace("\x1f", ", ", regex=False)
    return ("{" + joined + "}").to_numpy()
