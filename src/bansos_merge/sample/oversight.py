"""What the oversight checks look for, planted in a sample: NIKs whose region code never
existed, and an exclusion list (civil servants, from BKN) with some recipients on it.

Kept apart from the other extracts and drawn from its own random stream, so that the rest of a
sample is the same with or without it. The truth reads these rows like any other (truth.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..regions import load_regions
from . import corrupt as cr
from .extracts import Extract
from .population import REF_DATE, Population
from .rates import CorruptionRates
from .writers import EXCLUSION_HEADER, fmt_dates, region_names, sex_forms

EXCLUSION = {"name": "bkn_asn", "file": "bkn_asn.csv", "reason": "asn"}
EXCLUSION_COLUMNS = {
    "nik": "NIK", "name": "NAMA", "birth_place": "TEMPAT_LAHIR", "birth_date": "TANGGAL_LAHIR", "sex": "JENIS_KELAMIN",
}
WORKING_AGE = (20, 58)  # civil servants retire at 58 (most) to 65
_EMPLOYERS = np.array(
    ["PEMERINTAH {}", "DINAS PENDIDIKAN {}", "DINAS KESEHATAN {}", "KANTOR KEMENTERIAN AGAMA {}", "RSUD {}",
     "SEKRETARIAT DAERAH {}"], dtype=object,
)


def oversight_extracts(rng: np.random.Generator, pop: Population, extracts: list[Extract], rates: CorruptionRates) -> list[Extract]:
    """Plant never-existing region codes into the aid lists' NIKs (in place) and return the
    exclusion list (none when it would be empty)."""
    r_region, r_list = rng.spawn(2)
    plant_never_existed_regions(r_region, [ex for ex in extracts if ex.kind == "aid_list"], rates)
    exclusion = build_exclusion_list(r_list, pop, extracts, rates)
    return [exclusion] if len(exclusion.rows) else []


def never_existed_prefixes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n four-digit PPRR prefixes in no Kemendagri table: half a province that never existed,
    half a regency number its (real) province never had."""
    known = load_regions().known_regencies
    provinces = sorted({c[:2] for c in known})
    no_province = np.array([f"{p:02d}" for p in range(10, 100) if f"{p:02d}" not in provinces], dtype=object)
    out = np.empty(n, dtype=object)
    for i in range(n):
        if rng.random() < 0.5:
            out[i] = no_province[rng.integers(0, len(no_province))] + f"{rng.integers(1, 80):02d}"
        else:
            province = provinces[rng.integers(0, len(provinces))]
            free = [f"{r:02d}" for r in range(1, 100) if province + f"{r:02d}" not in known]
            out[i] = province + free[rng.integers(0, len(free))]
    return out


def plant_never_existed_regions(rng: np.random.Generator, extracts: list[Extract], rates: CorruptionRates) -> None:
    """Rewrite the first four digits of some untouched, text-stored NIKs to a region that never existed."""
    for ex in extracts:
        df = ex.rows
        nik = df["nik"].fillna("").astype(str)
        eligible = ((df["garbage"] == "") & (df["nik_kind"] == "") & ~df["nik_numeric"] & nik.str.fullmatch(r"\d{16}")).to_numpy()
        idx = cr.choose(rng, len(df), rates.nik_region_never_existed, rates.min_planted, eligible=eligible)
        if len(idx):
            prefix = never_existed_prefixes(rng, len(idx))
            col_nik, col_kind = df.columns.get_loc("nik"), df.columns.get_loc("nik_kind")
            df.iloc[idx, col_nik] = prefix + nik.iloc[idx].str.slice(4).to_numpy(dtype=object)
            df.iloc[idx, col_kind] = "region_never_existed"


def build_exclusion_list(rng: np.random.Generator, pop: Population, extracts: list[Extract], rates: CorruptionRates) -> Extract:
    """Working-age, living people of the civil registry: some of them aid recipients (planted),
    the others not; one row each, as BKN sends them (titles and degrees in the names)."""
    p = pop.people
    births = p["birth_date"].to_numpy().astype("datetime64[D]")
    age = (REF_DATE - births).astype(np.int64) / 365.25
    eligible = p["alive"].to_numpy() & p["in_civil_registry"].to_numpy() & (age >= WORKING_AGE[0]) & (age < WORKING_AGE[1])
    listed = np.zeros(len(p), dtype=bool)
    for ex in extracts:
        if ex.kind == "aid_list":
            listed[ex.rows.loc[ex.rows["garbage"] == "", "person"].to_numpy()] = True
    recipients = cr.choose(rng, len(p), rates.excluded_recipients * (eligible & listed).mean(), rates.min_planted,
                           eligible=eligible & listed)
    others = cr.choose(rng, len(p), rates.exclusion_employees * (eligible & ~listed).mean(), eligible=eligible & ~listed)
    persons = np.sort(np.concatenate([recipients, others]))
    persons = persons[rng.permutation(len(persons))]
    sel = p.iloc[persons]
    light = rates.model_copy(update={
        "title": 0.3, "name_typo": 0.01, "old_spelling": 0.01, "drop_name_part": 0.01, "alias": 0.0,
        "father_initial": 0.0, "case_noise": 0.0, "space_noise": 0.01, "muhammad_variant": 0.2,
    })
    names = cr.corrupt_names(rng, sel["name"].to_numpy(), sel["female"].to_numpy(), sel["father_name"].to_numpy(),
                             sel["alt_name"].to_numpy(), light)
    nik = sel["nik"].to_numpy().astype(object)
    nik[cr.choose(rng, len(nik), rates.exclusion_nik_missing)] = ""
    rows = pd.DataFrame(
        {
            "person": persons.astype(np.int64),
            "garbage": "",
            "record_id": (np.arange(len(persons)) + 1).astype(str),
            "nik": nik,
            "nik_numeric": False,
            "name": names,
            "birth_place": sel["birth_place"].to_numpy(),
            "birth_date": sel["birth_date"].to_numpy(),
            "sex": sel["sex"].to_numpy(),
            "regency_code": sel["regency_code"].to_numpy(),
        }
    )
    return Extract(EXCLUSION["name"], "exclusion_list", "exclusion_csv", EXCLUSION["file"], rows,
                   options={"reason": EXCLUSION["reason"]})


def write_exclusion(ex: Extract, path: Path, rng: np.random.Generator) -> int:
    """A plain UTF-8 CSV, header on the first line; returns the header row (1)."""
    df = ex.rows
    employer = _EMPLOYERS[rng.integers(0, len(_EMPLOYERS), len(df))]
    regency = df["regency_code"].map(region_names()).fillna("").str.replace("KABUPATEN ", "KAB. ", regex=False)
    out = pd.DataFrame(
        {
            "NO": df["record_id"].to_numpy(),
            "NIK": df["nik"].to_numpy(),
            "NAMA": df["name"].to_numpy(),
            "TEMPAT_LAHIR": df["birth_place"].fillna("").to_numpy(),
            "TANGGAL_LAHIR": fmt_dates(df["birth_date"].to_numpy(), "DMY", "-"),
            "JENIS_KELAMIN": sex_forms(rng, df["sex"].to_numpy(), [("L", "P", 3), ("LAKI-LAKI", "PEREMPUAN", 1)]),
            "INSTANSI": [e.format(r) for e, r in zip(employer, regency)],
        },
        columns=EXCLUSION_HEADER,
    )
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(EXCLUSION_HEADER)
        w.writerows(out.astype(str).itertuples(index=False, name=None))
    return 1
