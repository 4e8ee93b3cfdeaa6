"""One raw table -> canonical records plus rejects. Every row lands in exactly one of them.

Rows are rejected only when they cannot be a person (blank, a repeated header, a totals
row, neither name nor NIK, or unsplittable). Everything else is kept and described by
flags: a bad NIK or an unreadable date is evidence for an analyst, not a reason to drop
a recipient.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import SourceConfig
from ..ingest.table import RawTable, clean_header
from .address import normalize_addresses, pad_rt_rw
from .dates import parse_dates
from .names import normalize_names
from .nik import parse_kk, parse_nik
from .region import LEVELS, resolve_regions
from .sex import normalize_sex
from .status import normalize_phone, normalize_status
from .text import TEXT, as_text, blank_to_null, on_unique

REJECT_REASONS = {
    "blank_row": "the row is empty",
    "header_repeat": "the row repeats the header",
    "totals_row": "a totals row (JUMLAH/TOTAL), not a person",
    "no_name_no_nik": "the row has neither a usable name nor a usable NIK",
    "field_count": "the row does not split into the header's columns",
}
_TOTALS = r"^\s*(?:JUMLAH|TOTAL|SUB\s*TOTAL|GRAND\s*TOTAL|JML|REKAP)\b"
_PLACE_DATE = r"^(?P<place>.*?)[\s,/;-]*(?P<date>\d{1,4}[-/. ]+(?:\d{1,2}|[A-Za-z]+)[-/. ]+\d{2,4})\s*$"


def _mapped(raw: RawTable, src: SourceConfig) -> dict[str, pd.Series]:
    """Canonical field -> the raw text column (or the configured constant)."""
    out = {f: raw.cells[raw.column_of(h)] for f, h in src.columns.items()}
    for f, value in src.defaults.items():
        out[f] = pd.Series(value, index=raw.cells.index, dtype=TEXT)
    return out


def _numeric(raw: RawTable, src: SourceConfig, field: str) -> pd.Series:
    if raw.numeric is None or field not in src.columns:
        return pd.Series(False, index=raw.cells.index)
    return raw.numeric[raw.column_of(src.columns[field])]


def _header_pattern(header: str) -> str:
    """RE2 pattern for a cell that repeats `header` (case, spacing and a trailing ':' aside)."""
    words = [re.escape(w) for w in clean_header(header).split()]
    return r"(?i)^\s*" + r"\s+".join(words) + r"\s*:?\s*$"


def _matches(col: pd.Series, pattern: str, rows: np.ndarray, null: bool = False) -> np.ndarray:
    """Regex test of `col` at the positions `rows` only (the whole column when that is all rows)."""
    part = col if len(rows) == len(col) else col.iloc[rows]
    return part.str.contains(pattern, regex=True).fillna(null).to_numpy(bool)


def _garbage(raw: RawTable, src: SourceConfig, fields: dict[str, pd.Series]) -> pd.Series:
    """Reason code for rows that are not data (blank, header again, totals); null otherwise.

    Each test is a regex match per column, and only on the rows still in question: once a
    column shows a row is not blank (or cannot repeat the header any more), later columns
    skip it. This runs on every cell of every row.
    """
    n = len(raw.cells)
    maybe = np.arange(n)
    for c in raw.cells.columns:
        maybe = maybe[_matches(raw.cells[c], r"^[\s\xa0]*$", maybe, null=True)]
    blank = np.zeros(n, dtype=bool)
    blank[maybe] = True

    # A repeated header: at least half the mapped cells read as their header.
    need, left = max(1, (len(src.columns) + 1) // 2), len(src.columns)
    hits, maybe = np.zeros(n, dtype=np.int64), np.arange(n)
    for f, h in src.columns.items():
        left -= 1
        hits[maybe] += _matches(fields[f], _header_pattern(h), maybe)
        maybe = maybe[hits[maybe] + left >= need]
    header_repeat = hits >= need

    label_cols = list(raw.cells.columns[:3]) + ([raw.column_of(src.columns["name"])] if "name" in src.columns else [])
    totals = np.zeros(n, dtype=bool)
    everyone = np.arange(n)
    for c in dict.fromkeys(label_cols):
        totals |= _matches(raw.cells[c], "(?i)" + _TOTALS, everyone)
    reason = np.select([blank, header_repeat, totals], ["blank_row", "header_repeat", "totals_row"], default="")
    return pd.Series(np.where(reason == "", None, reason), index=raw.cells.index, dtype=object)


class SeenIds:
    """How often each id appeared in the earlier slices of a table, so that a repeat is numbered
    across slices as within one."""

    def __init__(self) -> None:
        self.counts = pd.Series(dtype=np.int64)

    def before(self, ids: pd.Series) -> np.ndarray:
        """Per id, its count so far; then counts these ids in."""
        ids = ids.astype(object)
        prior = self.counts.reindex(ids).fillna(0).to_numpy(dtype=np.int64)
        self.counts = self.counts.add(ids.value_counts(), fill_value=0).astype(np.int64)
        return prior


def record_ids(raw: RawTable, src: SourceConfig, prefix: str, seen: SeenIds | None = None) -> tuple[pd.Series, np.ndarray]:
    """The source's id column, else `prefix` + row number; duplicates get `#2`, `#3`.
    `seen`: the ids of the table's earlier slices, when `raw` is one slice of it.

    Returns the ids and a mask of rows whose id had to be made (missing or repeated).
    """
    numbers = pa.array(np.asarray(raw.row_number, dtype=np.int64)).cast(pa.string())
    by_row = pd.Series(pd.arrays.ArrowExtensionArray(pc.binary_join_element_wise(prefix, numbers, "")), index=raw.cells.index)
    if not src.id_column:
        return by_row, np.zeros(len(by_row), dtype=bool)
    ids = blank_to_null(raw.cells[raw.column_of(src.id_column)])
    missing = ids.isna().to_numpy()
    ids = ids.fillna(by_row)
    nth = ids.groupby(ids.astype(object)).cumcount().to_numpy()
    if seen is not None:
        nth = nth + seen.before(ids)
    ids = ids.where(pd.Series(nth == 0, index=ids.index), ids + pd.Series("#" + (nth + 1).astype(str), index=ids.index))
    return ids, missing | (nth > 0)


def _const(value: str | None, index: pd.Index) -> pd.Series:
    """A constant text column (Arrow string like every text column, null for None)."""
    return pd.Series(value, index=index, dtype=TEXT)


def _flag_lists(flags: dict[str, np.ndarray]) -> pd.Series:
    """Boolean flag columns -> one list<string> column, without a Python loop over rows."""
    names = np.array(list(flags), dtype=object)
    matrix = np.column_stack([np.asarray(v, dtype=bool) for v in flags.values()])
    _, cols = np.nonzero(matrix)
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=1))]).astype(np.int32)
    arr = pa.ListArray.from_arrays(pa.array(offsets), pa.array(names[cols], type=pa.string()))
    return pd.Series(pd.arrays.ArrowExtensionArray(arr))


def _nik_birth_date(nik: pd.DataFrame, birth: pd.Series) -> pd.Series:
    """The NIK's DDMMYY as a date, its century taken from the recorded birth year when there is one."""
    yy = nik["nik_yy"].astype("Int64").fillna(-1).to_numpy()
    rec_year = birth.dt.year.fillna(-1).astype(int).to_numpy()
    this_year = pd.Timestamp.today().year
    pivot = np.where(yy <= this_year % 100, 2000 + yy, 1900 + yy)
    nearest = np.where(np.abs(1900 + yy - rec_year) <= np.abs(2000 + yy - rec_year), 1900 + yy, 2000 + yy)
    year = np.where(rec_year > 0, nearest, pivot)
    ok = yy >= 0
    parts = pd.DataFrame(
        {
            "year": np.where(ok, year, 2000),
            "month": nik["nik_month"].astype("Int64").fillna(1).to_numpy(),
            "day": nik["nik_day"].astype("Int64").fillna(1).to_numpy(),
        }
    )
    dates = pd.to_datetime(parts, errors="coerce").to_numpy()
    return pd.Series(np.where(ok, dates, np.datetime64("NaT")), index=nik.index).astype("datetime64[s]")


def normalize_table(
    raw: RawTable, src: SourceConfig, id_prefix: str = "", ids: tuple[pd.Series, np.ndarray] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical records and rejects of one raw table (see module doc). `ids`: the record
    ids when `raw` is a slice of a table (they are numbered over the whole table)."""
    idx = raw.cells.index
    fields = {f: as_text(v) for f, v in _mapped(raw, src).items()}
    absent = pd.Series(pd.NA, index=idx, dtype=TEXT)  # a field the source does not have (made once, not per get)
    get = lambda f: fields.get(f, absent)  # noqa: E731

    ids, made_ids = record_ids(raw, src, id_prefix) if ids is None else ids
    nik = parse_nik(get("nik"), _numeric(raw, src, "nik"), get("kk"), _numeric(raw, src, "kk"))
    kk = parse_kk(get("kk"), _numeric(raw, src, "kk"))
    names = normalize_names(get("name"))

    combined = get("birth_place_date").str.strip()
    place_date = combined.str.extract(_PLACE_DATE)
    # "JAKARTA" with no date at all is still the place.
    place_only = combined.where(~combined.str.contains(r"\d", regex=True).fillna(True).astype(bool)).str.strip(" ,/-")
    birth_place_raw = get("birth_place").fillna(place_date["place"].str.strip(" ,").fillna(place_only))
    birth_date_raw = get("birth_date").fillna(place_date["date"])
    birth = parse_dates(birth_date_raw, src.date_order, nik["nik_day"], nik["nik_month"])
    death = parse_dates(get("death_date"), src.date_order)
    sex = normalize_sex(get("sex"))
    status = normalize_status(get("status"))
    addr = normalize_addresses(get("address"))
    rt = pad_rt_rw(get("rt")).fillna(addr["rt"])
    rw = pad_rt_rw(get("rw")).fillna(addr["rw"])
    regions = pd.DataFrame({lvl: on_unique(get(lvl), blank_to_null).str.upper() for lvl in LEVELS}, index=idx)
    codes = resolve_regions(regions)
    nik_birth = _nik_birth_date(nik, birth["date"])

    usable_nik = nik["nik"].notna() | (nik["nik_known_digits"].str.len().fillna(0) >= 15)
    garbage = _garbage(raw, src, fields)
    no_person = names["name"].isna() & ~usable_nik
    reason = garbage.fillna(pd.Series(np.where(no_person, "no_name_no_nik", None), index=idx))
    keep = reason.isna().to_numpy()

    d = lambda s: s.dt.day.to_numpy()  # noqa: E731
    both_dates = birth["date"].notna().to_numpy() & nik_birth.notna().to_numpy()
    flags = {
        "nik_missing": nik["nik_status"] == "missing",
        "nik_malformed": nik["nik_status"] == "malformed",
        "nik_dummy": nik["nik_status"] == "dummy",
        "nik_kk_pasted": nik["nik_status"] == "kk_as_nik",
        "nik_precision_lost": nik["nik_status"] == "precision_lost",
        "nik_invalid_date": nik["nik_status"] == "invalid_date",
        "nik_serial_zero": nik["nik_status"] == "serial_zero",
        "nik_region_unknown": nik["nik_region_status"] == "unknown",
        "nik_region_never_existed": nik["nik_region_status"] == "never_existed",
        "nik_region_retired": nik["nik_region_status"] == "retired",
        "nik_birth_date_mismatch": both_dates
        & (
            (d(birth["date"]) != d(nik_birth))
            | (birth["date"].dt.month.to_numpy() != nik_birth.dt.month.to_numpy())
            | (birth["date"].dt.year.to_numpy() % 100 != nik_birth.dt.year.to_numpy() % 100)
        ),
        "nik_sex_mismatch": (sex["sex"].notna() & nik["nik_sex"].notna() & (sex["sex"] != nik["nik_sex"])).fillna(False),
        "kk_missing": kk["kk_status"] == "missing",
        "kk_malformed": kk["kk_status"] == "malformed",
        "kk_precision_lost": kk["kk_status"] == "precision_lost",
        "name_missing": names["name"].isna(),
        "name_has_alias": names["name_alias"].notna(),
        "birth_date_missing": birth_date_raw.isna() | (birth_date_raw.str.strip() == ""),
        "birth_date_unparsed": birth["unparsed"],
        "birth_date_ambiguous": birth["ambiguous"],
        "sex_unparsed": sex["unparsed"],
        "status_unparsed": status["unparsed"],
        "death_date_unparsed": death["unparsed"],
        "region_unresolved": pd.concat(
            [regions[lvl].notna() & codes[f"{lvl}_code"].isna() for lvl in LEVELS], axis=1
        ).any(axis=1),
        "record_id_generated": made_ids,
    }
    # "missing" only means something for a field the source has at all.
    has = set(fields) | ({"birth_date"} if "birth_place_date" in fields else set())
    for flag, field in (("nik_missing", "nik"), ("kk_missing", "kk"), ("name_missing", "name"), ("birth_date_missing", "birth_date")):
        if field not in has:
            del flags[flag]
    flags = {k: np.asarray(pd.Series(v).fillna(False), dtype=bool) for k, v in flags.items()}

    records = pd.DataFrame(
        {
            "source": _const(src.name, idx),
            "source_kind": _const(src.kind, idx),
            "exclusion_reason": _const(src.reason, idx),
            "source_file": _const(raw.file.name, idx),
            "source_sheet": _const(raw.sheet, idx),
            "record_id": ids,
            "row_number": raw.row_number,
            "nik": nik["nik"],
            "nik_raw": get("nik"),
            "nik_status": nik["nik_status"],
            "nik_known_digits": nik["nik_known_digits"],
            "nik_region": nik["nik_region"],
            "nik_region_status": nik["nik_region_status"],
            "nik_birth_date": nik_birth,
            "nik_sex": nik["nik_sex"],
            "nik_serial": nik["nik_serial"],
            "kk": kk["kk"],
            "kk_raw": get("kk"),
            "kk_status": kk["kk_status"],
            "kk_known_digits": kk["kk_known_digits"],
            **names,
            "name_raw": get("name"),
            "birth_place": on_unique(birth_place_raw, blank_to_null).str.upper(),
            "birth_date": birth["date"],
            "birth_date_raw": birth_date_raw,
            "sex": sex["sex"],
            "sex_raw": get("sex"),
            "address": addr["address"],
            "address_raw": get("address"),
            "rt": rt,
            "rw": rw,
            **regions,
            **codes,
            "program": on_unique(get("program"), blank_to_null).str.upper(),
            "status": status["status"],
            "death_date": death["date"],
            "mother_name": normalize_names(get("mother_name"))["name"],
            "phone": normalize_phone(get("phone")),
            "flags": _flag_lists(flags).set_axis(idx),
        },
        index=idx,
    )
    return records[keep].reset_index(drop=True), _rejects(raw, src, ids, reason, ~keep, id_prefix)


def _rejects(
    raw: RawTable, src: SourceConfig, ids: pd.Series, reason: pd.Series, mask: np.ndarray, id_prefix: str
) -> pd.DataFrame:
    headers = list(raw.headers)
    cells = raw.cells[mask]
    raw_values = [json.dumps(dict(zip(headers, row)), ensure_ascii=False) for row in cells.itertuples(index=False)]
    codes = reason[mask]
    at = pd.RangeIndex(int(mask.sum()))
    rows = pd.DataFrame(
        {
            "source": _const(src.name, at),
            "source_file": _const(raw.file.name, at),
            "source_sheet": _const(raw.sheet, at),
            "record_id": ids[mask].to_numpy(),
            "row_number": raw.row_number[mask],
            "reason_code": codes.to_numpy(),
            "reason": codes.map(REJECT_REASONS).to_numpy(),
            "field": np.where(codes == "no_name_no_nik", "name,nik", None),
            "raw_values": raw_values,
        }
    )
    bad = raw.bad_rows
    if len(bad):
        at = pd.RangeIndex(len(bad))
        bad_rows = pd.DataFrame(
            {
                "source": _const(src.name, at),
                "source_file": _const(raw.file.name, at),
                "source_sheet": _const(raw.sheet, at),
                "record_id": [f"{id_prefix}{n}" for n in bad["row_number"]],
                "row_number": bad["row_number"].to_numpy(),
                "reason_code": bad["reason_code"].to_numpy(),
                "reason": bad["reason"].to_numpy(),
                "field": bad["field"].to_numpy() if "field" in bad else None,
                "raw_values": [json.dumps({"row_text": t}, ensure_ascii=False) for t in bad["text"]],
            }
        )
        rows = pd.concat([rows, bad_rows], ignore_index=True)
    return rows.sort_values("row_number", kind="stable").reset_index(drop=True)
