"""A proposal list with known answers, against the review tests' run (review_fixtures:
an 800-person sample with a father and son of one name on one card, and a food-aid record
that fits both).

`proposals(run_dir, path)` writes a BNBA-like workbook (a title row, then the header) whose
rows are chosen from the run's own outputs, each with the answer it must get:

- an exact copy of a civil-registry record            -> matched, that record's person
- the same person of another record, name typed with one letter wrong and no NIK
                                                       -> matched, that person
- a deceased person of the civil registry             -> matched, vital_status deceased
- a record of a person with a conflict                -> matched, the person's conflict kinds
- someone the run has never seen (a Papuan NIK)       -> not_found
- the father's name and family card, no NIK or date   -> ambiguous between father and son
- a blank row, a totals row, a row with neither name nor NIK -> rejected, with the reason

The answers come from the run's records, registry and conflicts (which person holds the
copied record), never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from conftest import write_xlsx
from review_fixtures import Household

HEADER = ["NO", "NIK", "NAMA", "TGL LAHIR", "JK", "DESA", "KECAMATAN", "KABUPATEN", "NO KK"]
COLUMNS = "nik=NIK,name=NAMA,birth_date=TGL LAHIR,sex=JK,village=DESA,district=KECAMATAN,regency=KABUPATEN,kk=NO KK"
NEW_NIK = "9171015203880007"  # Jayapura, 12-03-1988, a woman: no one of the sample


@dataclass(frozen=True)
class Expected:
    status: str
    person_id: str | None = None
    candidates: frozenset[str] = frozenset()
    vital_status: str | None = None
    conflicts: frozenset[str] = frozenset()
    reason_code: str | None = None


def _row(no: int, r: pd.Series, **change) -> list:
    values = {
        "NIK": r["nik_raw"], "NAMA": r["name_raw"], "TGL LAHIR": None if pd.isna(r["birth_date"]) else str(r["birth_date"])[:10],
        "JK": r["sex"], "DESA": r["village"], "KECAMATAN": r["district"], "KABUPATEN": r["regency"], "NO KK": r["kk_raw"],
    }  # fmt: skip
    values.update(change)
    return [str(no), *("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values.values())]


def _typo(name: str) -> str:
    """One letter of the longest token changed (a typo, not another name)."""
    tokens = name.split()
    k = max(range(len(tokens)), key=lambda i: len(tokens[i]))
    t = tokens[k]
    tokens[k] = t[:2] + ("A" if t[2] != "A" else "E") + t[3:]
    return " ".join(tokens)


def proposals(run_dir: Path, household: Household, path: Path) -> dict[int, Expected]:
    """Write the list to `path` (.xlsx); returns the expected answer per row number."""
    records = pd.read_parquet(run_dir / "records.parquet")
    registry = pd.read_parquet(run_dir / "registry.parquet")
    conflicts = pd.read_parquet(run_dir / "conflicts.parquet")
    key = records["source"] + ":" + records["record_id"]
    civil = records[(records["source_kind"] == "civil_registry") & records["nik"].notna() & records["name"].notna()]
    alive = civil[civil["status"] == "alive"]
    # People whose name and birth date are theirs alone, so that a typo cannot make them ambiguous.
    unique = alive[~alive.duplicated(["name_key", "birth_date"], keep=False) & (alive["name_key"].str.len() >= 12)]
    unique = unique[~unique["person_id"].isin(conflicts["person_id"])]
    exact, typo = unique.iloc[0], unique.iloc[1]
    dead = civil[civil["status"] == "deceased"].iloc[0]
    flagged_people = conflicts[conflicts["kind"] == "duplicate_in_source"]["person_id"]
    flagged = records[records["person_id"].isin(flagged_people) & (records["source_kind"] == "aid_list") & records["nik"].notna()].iloc[0]
    father = records[key == household.father].iloc[0]
    son = records[key == household.son].iloc[0]

    rows = [
        _row(1, exact),
        _row(2, typo, NIK="", NAMA=_typo(typo["name_raw"]), **{"NO KK": ""}),
        _row(3, dead),
        _row(4, flagged),
        ["5", NEW_NIK, "YOSINA MARIA WANIMBO", "1988-03-12", "P", "", "", "KOTA JAYAPURA", ""],
        _row(6, father, NIK="", **{"TGL LAHIR": "", "JK": ""}),
        [""] * len(HEADER),
        ["JUMLAH", "", "", "", "", "", "", "", ""],
        ["9", "", "", "", "L", "", "", "", ""],
    ]
    write_xlsx(path, {"USULAN": [["DAFTAR USULAN PENERIMA BANTUAN"], [], HEADER, *rows]})

    def person(r: pd.Series) -> str:
        return str(r["person_id"])

    def kinds(pid: str) -> frozenset[str]:
        return frozenset(conflicts.loc[conflicts["person_id"] == pid, "kind"])

    dead_status = registry.loc[registry["person_id"] == person(dead), "status"].iloc[0]
    return {
        1: Expected("matched", person(exact), vital_status="alive"),
        2: Expected("matched", person(typo), vital_status="alive"),
        3: Expected("matched", person(dead), vital_status=dead_status, conflicts=kinds(person(dead))),
        4: Expected("matched", person(flagged), conflicts=kinds(person(flagged))),
        5: Expected("not_found"),
        6: Expected("ambiguous", candidates=frozenset({person(father), person(son)})),
        7: Expected("rejected", reason_code="blank_row"),
        8: Expected("rejected", reason_code="totals_row"),
        9: Expected("rejected", reason_code="no_name_no_nik"),
    }
