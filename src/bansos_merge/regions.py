"""Kemendagri region codes shipped with the package (data/, MIT, cahyadsn/wilayah).

A NIK's first six digits are the district (kecamatan) code of first registration, so a
code retired by a later regency split is still a valid NIK prefix. Names are matched on
a folded key so that `KAB. BOGOR`, `KABUPATEN BOGOR` and `Kabupaten Bogor` meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

_DATA = files("bansos_merge") / "data"

LEVEL_DIGITS = {"province": 2, "regency": 4, "district": 6, "village": 10}


def data_file(name: str):
    """Path-like handle to a file shipped in bansos_merge/data."""
    return _DATA / name


_KEY_RULES = (
    (r"['`]", ""),
    (r"[^A-Z0-9 ]+", " "),
    (r"\b(?:KOTA ADMINISTRASI|KOTA ADM|KOTAMADYA|KOTAMADYA DATI II)\b", "KOTA"),
    (r"\b(?:KABUPATEN ADMINISTRASI|KABUPATEN|KAB ADM|KAB)\b", "KAB"),
    (r"\b(?:DAERAH KHUSUS IBUKOTA|DAERAH KHUSUS JAKARTA|DAERAH KHUSUS)\b", "DKI"),
    (r"\b(?:DAERAH ISTIMEWA|DIY)\b", "DI"),
    (r"\b(?:KEPULAUAN|KEP)\b", "KEP"),
    (r"^NTB$", "NUSA TENGGARA BARAT"),
    (r"^NTT$", "NUSA TENGGARA TIMUR"),
    (r"\b(?:PROVINSI|PROPINSI|PROV|KECAMATAN|KEC|KELURAHAN|KEL|DESA|DS|KAMPUNG)\b", " "),
    (r"\s+", " "),
)


def name_key(names: pd.Series) -> pd.Series:
    """Fold a region name for matching: `KAB. BOGOR`, `KABUPATEN BOGOR` -> `KAB BOGOR`.

    `KOTA` is kept: KOTA BOGOR and KAB BOGOR are different regions.
    """
    s = names.astype("string[pyarrow]").str.upper()
    for pattern, repl in _KEY_RULES:
        s = s.str.replace(pattern, repl, regex=True)
    return s.str.strip()


def bare_key(keys: pd.Series) -> pd.Series:
    """The key without its KAB/KOTA/DKI/DI prefix: `BOGOR` (ambiguous between KAB and KOTA)."""
    return keys.str.replace(r"^(?:KAB|KOTA|DKI|DI) ", "", regex=True)


@dataclass(frozen=True)
class RegionTables:
    regions: pd.DataFrame  # code (digits only), dotted, name, level, parent, key, bare
    district_status: pd.Series  # 6-digit code -> "current" | "retired"
    known_regencies: frozenset[str]  # 4-digit codes in any edition (2016 on) or the current list


@cache
def load_regions() -> RegionTables:
    """Load the current tables and the code history once per process."""
    cur = pd.read_csv(data_file("kemendagri_regions_2025.csv"), dtype=str, keep_default_na=False)
    cur["dotted"] = cur["code"]
    cur["code"] = cur["code"].str.replace(".", "", regex=False)
    cur["parent"] = cur["code"].str.slice(0, -2).where(cur["level"] != "village", cur["code"].str.slice(0, 6))
    cur["key"] = name_key(cur["name"])
    cur["bare"] = bare_key(cur["key"])

    hist = pd.read_csv(data_file("kemendagri_codes_history.csv"), dtype=str, keep_default_na=False)
    dist = hist[hist["level"] == "district"]
    status = pd.Series(
        ["current" if v == "True" else "retired" for v in dist["in_2025"]],
        index=dist["code"].str.replace(".", "", regex=False),
        name="status",
    )
    codes = pd.concat([cur["code"], hist["code"].str.replace(".", "", regex=False)])
    return RegionTables(regions=cur, district_status=status, known_regencies=frozenset(codes[codes.str.len() == 4]))


def nik_region_status(region: pd.Series) -> pd.Series:
    """Status of NIK region prefixes (6 digits): `current`, `retired` (a district code of an
    older edition), `unknown` (a district missing from the tables under a regency that exists:
    a warning, since the tables start in 2016 and districts split often), or `never_existed`
    (a province or regency in no table: such a NIK was never issued). Null stays null."""
    districts, regencies = _code_indexes()
    text = pd.Series(region, dtype="string[pyarrow]")
    found = districts.get_indexer(text.to_numpy(dtype=object, na_value=None))
    # A province is known when one of its regencies is: every province has regencies.
    regency_known = regencies.get_indexer(text.str.slice(0, 4).to_numpy(dtype=object, na_value=None)) >= 0
    status = np.where(found >= 0, load_regions().district_status.to_numpy(dtype=object)[found], np.where(regency_known, "unknown", "never_existed"))
    return pd.Series(status, index=region.index, dtype=object).where(region.notna())


@cache
def _code_indexes() -> tuple[pd.Index, pd.Index]:
    """The district codes of every edition and the known regency codes, as indexes (their hash
    tables built once, not per call: a query's one NIK is looked up in them)."""
    tables = load_regions()
    return tables.district_status.index, pd.Index(sorted(tables.known_regencies), dtype=object)


def population_by_regency() -> pd.DataFrame:
    """Regency code (4 digits), name, male, female, total (Dukcapil, Dec 2024)."""
    pop = pd.read_csv(data_file("kemendagri_population_2024.csv"), dtype={"code": str})
    pop = pop[pop["code"].str.len() == 5].copy()
    pop["code"] = pop["code"].str.replace(".", "", regex=False)
    return pop.reset_index(drop=True)


@cache
def _regency_name_table() -> pd.Series:
    """4-digit regency code -> its Kemendagri name: the 2025 list, else the latest edition's
    name of a retired code (a NIK keeps the code of first registration)."""
    hist = pd.read_csv(data_file("kemendagri_codes_history.csv"), dtype=str, keep_default_na=False)
    hist = hist[hist["level"] == "regency"]
    old = pd.Series(hist["name_latest"].to_numpy(), index=hist["code"].str.replace(".", "", regex=False))
    cur = load_regions().regions
    cur = cur[cur["level"] == "regency"]
    names = pd.Series(cur["name"].to_numpy(), index=cur["code"].to_numpy())
    return pd.concat([names, old[~old.index.isin(names.index)]])


def regency_names(codes: pd.Series) -> pd.Series:
    """Kemendagri names of regency codes (`3202` or `32.02` -> `Kabupaten Sukabumi`); null for
    a null or unknown code."""
    digits = codes.astype("string").str.replace(".", "", regex=False)
    return digits.map(_regency_name_table()).astype(object).where(lambda s: s.notna(), None)
