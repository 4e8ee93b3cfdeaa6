"""The linkage view of the records: compact numeric arrays and comparison strings.

Blocking and comparison work on integer arrays (a NIK is an int64, a date is days since
1970, a region is its code as an int), so each comparison is one numpy expression over
millions of pairs. Strings are kept only where a fuzzy comparison needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..textcol import TEXT
from ..normalize.text import on_unique
from ..sorted_sets import isin

MISSING = -1
DAY0 = np.datetime64("1800-01-01")  # dates are days since DAY0: never negative, so -1 is free for missing


def _int_codes(s: pd.Series) -> np.ndarray:
    """Digit strings -> int64, null -> -1 (the normalisers guarantee digits or null)."""
    arr = pc.cast(pa.array(s.astype(TEXT).array), pa.int64())
    return pc.fill_null(arr, MISSING).to_numpy(zero_copy_only=False)


_DAY0_SINCE_EPOCH = int((DAY0 - np.datetime64("1970-01-01")).astype(np.int64))


def to_days(s: pd.Series) -> np.ndarray:
    """Dates (numpy datetimes, or Arrow dates/timestamps as read back from Parquet) -> days since DAY0."""
    if isinstance(s.dtype, pd.ArrowDtype):
        epoch_days = pc.cast(pc.cast(pa.array(s.array), pa.date32()), pa.int32())
        days = pc.fill_null(epoch_days, np.iinfo(np.int32).min).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.where(days == np.iinfo(np.int32).min, MISSING, days - _DAY0_SINCE_EPOCH)
    d = pd.to_datetime(s).to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(d), MISSING, (d - DAY0).astype(np.int64))


def days_to_ymd(days: np.ndarray) -> np.ndarray:
    """Days since DAY0 -> YYYYMMDD as an int (-1 stays -1), so date digits can be compared."""
    d = DAY0 + np.where(days >= 0, days, 0).astype("timedelta64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return np.where(days >= 0, y * 10000 + m * 100 + day, MISSING)


@dataclass
class Strings:
    """A text column as int codes (-1 missing) into its distinct values: comparisons work on
    codes and score each distinct pair of values once; blocking keys are the codes."""

    codes: np.ndarray
    values: np.ndarray  # object array of str

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.codes[rows]


def strings(*columns: pd.Series) -> list[Strings]:
    """Encode columns into ONE shared code space (so a name and an alias can be compared)."""
    stacked = pd.concat([c.astype(TEXT).reset_index(drop=True) for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(stacked)
    values = np.asarray(uniques, dtype=object)
    empty = np.flatnonzero(values == "")
    if len(empty):  # "" is no value: code -1, the values after it move up (as factorizing it masked)
        codes = np.where(codes == empty[0], -1, codes - (codes > empty[0]))
        values = np.delete(values, empty[0])
    n = len(columns[0])
    return [Strings(codes[i * n : (i + 1) * n].astype(np.int64), values) for i in range(len(columns))]


@dataclass
class LinkFrame:
    """Column arrays of the records, row i = records.iloc[i]."""

    n: int
    source: np.ndarray  # int code of source
    civil: np.ndarray  # bool: from the civil registry
    aid: np.ndarray  # bool: from an aid list (what a link decides about payments, see cluster/queue.py)
    deceased: np.ndarray  # bool: a civil-registry record of a deceased person
    nik: np.ndarray  # int64 usable NIK or -1
    nik_registered: np.ndarray  # bool: the NIK is held by a civil-registry record
    nik15: np.ndarray  # int64 first 15 reliable digits (usable or damaged NIK) or -1
    nik_digits: np.ndarray  # (n, 16) int8 digits of `nik`, -1 where there is none
    nik_date: np.ndarray  # days of the NIK's birth date or -1
    nik_ymd: np.ndarray  # the same as YYYYMMDD
    kk: np.ndarray
    kk15: np.ndarray
    name: Strings  # name_key
    name_len: np.ndarray
    name_has_initial: np.ndarray  # bool: a one-letter token (SITI A., MAWARDI.Z)
    alias: Strings  # same code space as name
    name_first: Strings  # first token
    name_sorted: Strings  # tokens sorted, joined
    birth_ymd: np.ndarray  # YYYYMMDD or -1, for comparing digits
    birth_date: np.ndarray  # days since DAY0 or -1; never filled in from the NIK, which may be
    # a family member's (a shared NIK), so a NIK's date is compared as part of the NIK only
    sex: np.ndarray
    village: np.ndarray  # village code int or -1
    village_text: Strings  # the village as written, spaces dropped (for data whose places have no Kemendagri code)
    district: np.ndarray
    regency: np.ndarray
    rt: np.ndarray
    rw: np.ndarray
    address: Strings
    mother: Strings
    birth_place: Strings


def digit_matrix(values: np.ndarray) -> np.ndarray:
    """int64 16-digit numbers -> (n, 16) int8 digits; -1 rows for missing values."""
    powers = 10 ** np.arange(15, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers[None, :]) % 10
    return np.where(values[:, None] >= 0, digits, MISSING).astype(np.int8)


def _sorted_tokens(keys: pd.Series) -> pd.Series:
    # Runs once per distinct name: token order differs between lists (clan name first or last).
    return keys.map(lambda k: " ".join(sorted(k.split())) if isinstance(k, str) else None).astype(keys.dtype)


def build_link_frame(records: pd.DataFrame) -> LinkFrame:
    r = records
    nik = _int_codes(r["nik"])
    known = r["nik_known_digits"].where(r["nik_known_digits"].str.len() >= 15)
    nik15 = np.where(nik >= 0, nik // 10, _int_codes(known.str.slice(0, 15)))
    kk = _int_codes(r["kk"])
    kk_known = r["kk_known_digits"].where(r["kk_known_digits"].str.len() >= 15)
    kk15 = np.where(kk >= 0, kk // 10, _int_codes(kk_known.str.slice(0, 15)))

    key = r["name_key"]
    birth = to_days(r["birth_date"])
    nik_date = to_days(r["nik_birth_date"])
    sex_map = {"L": 0, "P": 1}
    sex = r["sex"].map(sex_map).astype("Float64").fillna(MISSING).astype(np.int8).to_numpy()
    district = _int_codes(r["district_code"])
    civil = (r["source_kind"] == "civil_registry").to_numpy(dtype=bool)
    name, alias = strings(key, r["name_alias"])
    return LinkFrame(
        n=len(r),
        source=pd.factorize(r["source"])[0].astype(np.int16),
        civil=civil,
        aid=(r["source_kind"] == "aid_list").to_numpy(dtype=bool),
        deceased=civil & (r["status"] == "deceased").fillna(False).to_numpy(dtype=bool),
        nik=nik,
        nik_registered=(nik >= 0) & isin(nik, nik[civil & (nik >= 0)]),
        nik15=nik15,
        nik_digits=digit_matrix(nik),
        nik_date=nik_date,
        nik_ymd=days_to_ymd(nik_date),
        kk=kk,
        kk15=kk15,
        name=name,
        name_len=key.str.len().fillna(0).astype(np.int64).to_numpy(),
        name_has_initial=key.str.contains(r"\b[A-Z]\b", regex=True).fillna(False).to_numpy(dtype=bool),
        alias=alias,
        name_first=strings(key.str.extract(r"^(?P<first>\S+)")["first"])[0],
        name_sorted=strings(on_unique(key, _sorted_tokens))[0],
        birth_date=birth,
        birth_ymd=days_to_ymd(birth),
        sex=sex,
        village=_int_codes(r["village_code"]),
        # Spacing is typed both ways (MALVERN EAST, MALVERNEAST): compared without it.
        village_text=strings(r["village"].str.replace(" ", "", regex=False))[0],
        district=np.where(district >= 0, district, _int_codes(r["village_code"].str.slice(0, 6))),
        regency=_int_codes(r["regency_code"]),
        rt=_int_codes(r["rt"]),
        rw=_int_codes(r["rw"]),
        address=strings(r["address"])[0],
        mother=strings(r["mother_name"])[0],
        birth_place=strings(r["birth_place"])[0],
    )


# Text columns encoded into one shared code space (see `strings`), in the order they were stacked.
_SHARED_SPACES = (("name", "alias"), ("name_first",), ("name_sorted",), ("village_text",), ("address",), ("mother",), ("birth_place",))


def _first_seen(s: Strings) -> np.ndarray:
    """The column's distinct values in order of first appearance (what `pd.factorize` numbers by)."""
    codes = s.codes[s.codes >= 0]
    return s.values[pd.unique(codes)]


def concat_link_frames(parts: list[LinkFrame], part_sources: list[str]) -> LinkFrame:
    """The link frame of the parts' records stacked in order, exactly as `build_link_frame` of
    the stacked records would make it, codes included: the records stay on disk in parts and
    only these compact arrays meet on the driver.

    Each part holds the records of one source, `part_sources[i]`. `source` codes and
    `nik_registered` need every part, so they are recomputed here.
    """
    columns: dict = {}
    # Sources are numbered in order of first appearance, as `pd.factorize` numbered them.
    seen = pd.unique(pd.Series([s for s, p in zip(part_sources, parts) if p.n], dtype=object))
    source_code = {name: i for i, name in enumerate(seen)}
    columns["source"] = np.concatenate(
        [np.full(p.n, source_code.get(s, 0), dtype=np.int16) for s, p in zip(part_sources, parts)] or [np.zeros(0, np.int16)]
    )
    for group in _SHARED_SPACES:
        stacked = np.concatenate([_first_seen(getattr(p, name)) for name in group for p in parts])
        values = np.asarray(pd.unique(stacked), dtype=object)
        index = pd.Index(values)
        for name in group:
            codes = []
            for p in parts:
                s = getattr(p, name)
                remap = np.append(index.get_indexer(s.values).astype(np.int64), MISSING)  # [-1] -> MISSING
                codes.append(remap[s.codes])
            columns[name] = Strings(np.concatenate(codes), values)
    for fld in fields(LinkFrame):
        if fld.name not in columns and fld.name not in ("n", "nik_registered"):
            columns[fld.name] = np.concatenate([getattr(p, fld.name) for p in parts])
    nik, civil = columns["nik"], columns["civil"]
    columns["nik_registered"] = (nik >= 0) & isin(nik, nik[civil & (nik >= 0)])
    return LinkFrame(n=sum(p.n for p in parts), **columns)
