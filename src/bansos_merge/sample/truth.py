"""Ground truth for a generated sample: rows, planted conditions and the true population.

Conditions are computed from the rows as written (the NIK a row really carries, the regency it
really names), not from what the generator meant to plant, so truth and files agree even where
two corruptions meet (a typo that happens to produce another person's NIK, say).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .corrupt import excel_number, nik_problem
from .extracts import Extract
from .population import Population
from .writers import HEADERS

ROW_SCHEMA = pa.schema(
    [("source", pa.string()), ("record_id", pa.string()), ("row_number", pa.int64()), ("person_id", pa.string()),
     ("expect", pa.string()), ("garbage_kind", pa.string())]
)
CONDITION_SCHEMA = pa.schema(
    [("kind", pa.string()), ("source", pa.string()), ("record_id", pa.string()), ("person_id", pa.string()),
     ("detail", pa.string())]
)
CONDITION_KINDS = (
    "nik_shared", "multiple_nik", "invalid_nik", "attribute_mismatch", "deceased", "ineligible", "duplicate_in_source",
    "multi_region", "unmatched_civil_registry",
)


def truth_rows(extracts: list[Extract], pop: Population) -> pd.DataFrame:
    pid = pop.people["person_id"].to_numpy()
    parts = []
    for ex in extracts:
        df = ex.rows
        person = df["person"].to_numpy()
        garbage = df["garbage"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "source": ex.name,
                    "record_id": df["record_id"].astype(str).to_numpy(),
                    "row_number": np.arange(1, len(df) + 1, dtype=np.int64),
                    "person_id": np.where(person >= 0, pid[np.maximum(person, 0)], None),
                    "expect": np.where(garbage == "", "record", "reject"),
                    "garbage_kind": np.where(garbage == "", None, garbage),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _records(extracts: list[Extract], pop: Population) -> pd.DataFrame:
    """Every real row with what it says: NIK as written, regency named, planted labels."""
    people = pop.people
    parts = []
    for ex in extracts:
        df = ex.rows[ex.rows["garbage"] == ""]
        person = df["person"].to_numpy()
        aid = ex.kind == "aid_list"
        parts.append(
            pd.DataFrame(
                {
                    "source": ex.name,
                    "record_id": df["record_id"].astype(str).to_numpy(),
                    "person": person,
                    "aid": aid,
                    "source_kind": ex.kind,
                    "excluded_for": ex.options.get("reason", "") if ex.kind == "exclusion_list" else "",
                    "nik": df["nik"].fillna("").astype(str).to_numpy(),
                    "numeric": df["nik_numeric"].to_numpy(dtype=bool),
                    "regency": df["regency_code"].to_numpy() if aid else people["regency_code"].to_numpy()[person],
                    # a mismatch only exists where the file has the column to show it
                    "bd_kind": df["bd_kind"].to_numpy() if aid and _writes(ex, "TANGGAL", "TGL") else "",
                    "sex_kind": df["sex_kind"].to_numpy() if aid and _writes(ex, "KELAMIN", "JK") else "",
                }
            )
        )
    rec = pd.concat(parts, ignore_index=True)
    # a number cell says what Excel kept: 15 significant digits, no leading zeros
    num = rec["numeric"].to_numpy()
    rec.loc[num, "nik"] = [str(int(excel_number(x))) for x in rec.loc[num, "nik"]]
    rec["person_id"] = people["person_id"].to_numpy()[rec["person"].to_numpy()]
    return rec


def _writes(ex: Extract, *header_words: str) -> bool:
    """Does this extract's file carry a column whose header contains one of the words?"""
    return any(word in h for h in HEADERS[ex.fmt] for word in header_words)


def conditions(extracts: list[Extract], pop: Population) -> pd.DataFrame:
    rec = _records(extracts, pop)
    people = pop.people
    kk_values = pd.Index(pop.households["kk"].unique())
    rec["problem"] = nik_problem(rec["nik"], rec["numeric"], kk_values).to_numpy()
    out = []

    def add(kind: str, mask: np.ndarray | pd.Series, detail) -> None:
        sel = rec[np.asarray(mask, dtype=bool)]
        d = detail if isinstance(detail, str) else np.asarray(detail, dtype=object)[np.asarray(mask, dtype=bool)]
        out.append(pd.DataFrame({"kind": kind, "source": sel["source"], "record_id": sel["record_id"],
                                 "person_id": sel["person_id"], "detail": d}))

    valid = (rec["problem"] == "").to_numpy()
    # different persons carrying one valid-looking NIK
    v = rec[valid]
    persons_per_nik = v.groupby("nik")["person"].transform("nunique")
    shared = np.zeros(len(rec), dtype=bool)
    shared[np.flatnonzero(valid)[(persons_per_nik >= 2).to_numpy()]] = True
    n_share = np.zeros(len(rec), dtype=np.int64)
    n_share[np.flatnonzero(valid)] = persons_per_nik.to_numpy()
    add("nik_shared", shared, pd.Series(n_share).astype(str) + " persons carry this NIK")
    # one person carrying several valid-looking NIKs
    niks_per_person = v.groupby("person")["nik"].transform("nunique")
    multi = np.zeros(len(rec), dtype=bool)
    multi[np.flatnonzero(valid)[(niks_per_person >= 2).to_numpy()]] = True
    n_multi = np.zeros(len(rec), dtype=np.int64)
    n_multi[np.flatnonzero(valid)] = niks_per_person.to_numpy()
    add("multiple_nik", multi, pd.Series(n_multi).astype(str) + " distinct NIKs")
    # invalid or missing NIKs
    add("invalid_nik", ~valid, rec["problem"])
    aid = rec["aid"].to_numpy()
    # attribute mismatch against the true person
    bd_mis = (rec["bd_kind"] == "mismatch").to_numpy()
    sex_mis = (rec["sex_kind"] == "mismatch").to_numpy()
    detail = np.where(bd_mis & sex_mis, "birth_date,sex", np.where(bd_mis, "birth_date", "sex"))
    # ... which shows only against another row of the person (against its own NIK, a typo in the
    # NIK looks the same: that is a flag of the record, publish/conflicts.py)
    shown = rec.groupby("person")["record_id"].transform("size").to_numpy() >= 2
    add("attribute_mismatch", aid & (bd_mis | sex_mis) & shown, detail)
    # deceased people still listed
    alive = people["alive"].to_numpy()[rec["person"].to_numpy()]
    present = people["in_civil_registry"].to_numpy()[rec["person"].to_numpy()]
    death = people["death_date"].to_numpy()[rec["person"].to_numpy()]
    add("deceased", aid & ~alive & present, "died " + pd.Series(death).dt.strftime("%Y-%m-%d").fillna(""))
    # listed twice in one list, or registered twice in the civil registry
    a = rec[aid]
    times = rec.groupby(["source", "person"])["record_id"].transform("size").to_numpy()
    listing = aid | (rec["source_kind"] == "civil_registry").to_numpy()
    add("duplicate_in_source", listing & (times >= 2), pd.Series(times).astype(str) + " rows in this source")
    # listed in two regencies
    pr = a[["person", "regency"]].drop_duplicates().sort_values(["person", "regency"])
    regs = pr.groupby("person")["regency"].agg(",".join)
    n_regs = a["person"].map(regs).str.count(",") + 1
    mr = np.zeros(len(rec), dtype=bool)
    mr[np.flatnonzero(aid)[(n_regs >= 2).to_numpy()]] = True
    regs_detail = np.full(len(rec), "", dtype=object)
    regs_detail[np.flatnonzero(aid)] = "regencies " + a["person"].map(regs).to_numpy(dtype=object)
    add("multi_region", mr, regs_detail)
    # on an exclusion list
    listed, reasons = ineligible(rec)
    add("ineligible", listed, reasons)
    # absent from the civil registry
    add("unmatched_civil_registry", aid & ~present, "")
    cond = pd.concat(out, ignore_index=True)
    cond["kind"] = pd.Categorical(cond["kind"], categories=CONDITION_KINDS, ordered=True)
    cond = cond.sort_values(["kind", "source", "person_id", "record_id"], kind="stable")
    cond["kind"] = cond["kind"].astype(str)
    return cond.reset_index(drop=True)


def ineligible(rec: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Aid-list rows of persons an exclusion list names, and the lists' reasons ('; '-joined)."""
    on_list = rec[rec["excluded_for"] != ""]
    reasons = on_list[["person", "excluded_for"]].drop_duplicates().sort_values("excluded_for")
    by_person = reasons.groupby("person")["excluded_for"].agg("; ".join)
    detail = rec["person"].map(by_person)
    return (rec["aid"] & detail.notna()).to_numpy(), detail.fillna("").to_numpy(dtype=object)


PEOPLE_COLUMNS = [
    "person_id", "nik", "kk", "name", "sex", "birth_date", "birth_place", "village_code", "address", "rt", "rw",
    "alive", "death_date", "mother_name",
    # extras
    "household", "relation", "alt_name", "nik_birth_date", "nik_district_status", "in_civil_registry", "religion",
    "marital", "phone", "tradition", "twin",
]


def write_truth(folder: Path, rows: pd.DataFrame, cond: pd.DataFrame, pop: Population) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(rows, schema=ROW_SCHEMA, preserve_index=False), folder / "rows.parquet")
    pq.write_table(
        pa.Table.from_pandas(cond, schema=CONDITION_SCHEMA, preserve_index=False), folder / "conditions.parquet"
    )
    table = pa.Table.from_pandas(pop.people[PEOPLE_COLUMNS], preserve_index=False)
    for c in ("birth_date", "nik_birth_date", "death_date"):
        i = table.schema.get_field_index(c)
        table = table.set_column(i, c, table[c].cast(pa.date32()))
    pq.write_table(table, folder / "people.parquet")
