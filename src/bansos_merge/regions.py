"""Kemendagri region codes shipped with the package (data/, MIT, cahyadsn/wilayah).

A NIK's first six digits are the district (kecamatan) code of first registration, so a
code retired by a later regency split is still a valid NIK prefix. Names are matched on
a folded key so that `KAB. BOGOR`, `KABUPATEN BOGOR` and `Kabupaten Bogor` meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pandas as pd

_DATA = files("bansos_merge") / "data"

_LEVEL_DIGITS = {"province": 2, "regency": 4, "district": 6, "village": 10}


def data_file(name: str):
    """Path-like handle to a file shipped in bansos_merge/data."""
    return _DATA / name


def name_key(names: pd.Series) -> pd.Series:
    """Fold a region name for matching: upper case, `KAB.`/`KABUPATEN` -> `KAB`, no punctuation.

    `KOTA` is kept: KOTA BOGOR and KAB BOGOR are different regions.
    """
    s = names.astype("string").str.upper().str.replace(r"[^A-Z0-9 ]+", " ", regex=True)
    s = s.str.replace(r"\b(KABUPATEN|KAB)\b", "KAB", regex=True)
    s = s.str.replace(r"\b(KECAMATAN|KEC)\b", " ", regex=True)
    s = s.str.replace(r"\b(KELURAHAN|KEL|DESA|DS|PROVINSI|PROV|PROPINSI)\b", " ", regex=True)
    s = s.str.replace(r"\b(DAERAH ISTIMEWA|DI)\b", "DI", regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


@dataclass(frozen=True)
class RegionTables:
    regions: pd.DataFrame  # code (digits only), dotted, name, level, parent, key
    district_status: pd.Series  # 6-digit code -> "current" | "retired"


@cache
def load_regions() -> RegionTables:
    """Load the current tables and the code history once per process."""
    cur = pd.read_csv(data_file("kemendagri_regions_2025.csv"), dtype=str, keep_default_na=False)
    cur["dotted"] = cur["code"]
    cur["code"] = cur["code"].str.replace(".", "", regex=False)
    parent_len = cur["level"].map({"province": 0, "regency": 2, "district": 4, "village": 6})
    cur["parent"] = [c[:n] for c, n in zip(cur["code"], parent_len)]
    cur["key"] = name_key(cur["name"])

    hist = pd.read_csv(data_file("kemendagri_codes_history.csv"), dtype=str, keep_default_na=False)
    dist = hist[hist["level"] == "district"]
    status = pd.Series(
        ["current" if v == "True" else "retired" for v in dist["in_2025"]],
        index=dist["code"].str.replace(".", "", regex=False),
        name="status",
    )
    return RegionTables(regions=cur, district_status=status)


def population_by_regency() -> pd.DataFrame:
    """Regency code (4 digits), name, male, female, total (Dukcapil, Dec 2024)."""
    pop = pd.read_csv(data_file("kemendagri_population_2024.csv"), dtype={"code": str})
    pop = pop[pop["code"].str.len() == 5].copy()
    pop["code"] = pop["code"].str.replace(".", "", regex=False)
    return pop.reset_index(drop=True)
