"""Dates as agencies write them: ISO, DD-MM-YYYY, MM/DD mixed in, two-digit years,
Indonesian month names, YYYYMMDD, and Excel serial numbers.

An ambiguous date (both parts <= 12) is settled by the NIK's embedded day and month where
the row has one, else by the source's `date_order` hint, and then flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .text import TEXT, as_text, on_unique, same_for_nulls

_MONTHS = {
    "01": ["JANUARI", "JANUARY", "JAN"],
    "02": ["FEBRUARI", "PEBRUARI", "FEBRUARY", "FEB", "PEB"],
    "03": ["MARET", "MARCH", "MAR"],
    "04": ["APRIL", "APR"],
    "05": ["MEI", "MAY"],
    "06": ["JUNI", "JUNE", "JUN"],
    "07": ["JULI", "JULY", "JUL"],
    "08": ["AGUSTUS", "AUGUST", "AGUST", "AGS", "AGT", "AGU", "AUG"],
    "09": ["SEPTEMBER", "SEPT", "SEP"],
    "10": ["OKTOBER", "OCTOBER", "OKT", "OCT"],
    "11": ["NOPEMBER", "NOVEMBER", "NOP", "NOV"],
    "12": ["DESEMBER", "DECEMBER", "DES", "DEC"],
}
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_EXCEL_EPOCH = np.datetime64("1899-12-30")
_THREE_PARTS = r"^(?P<a>\d{1,4})[-/. ]+(?P<b>\d{1,2})[-/. ]+(?P<c>\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_COMPACT = r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$"
_SERIAL = r"^(?P<serial>\d{3,5})(?:\.0+)?$"


def _month_names_to_numbers(s: pd.Series) -> pd.Series:
    if not s.str.contains("[A-Z]", regex=True).any():  # no letters, no month name (most columns)
        return s
    for number, names in _MONTHS.items():
        s = s.str.replace(r"\s*[-/. ]\s*(?:" + "|".join(names) + r")\.?\s*[-/. ]\s*", f"-{number}-", regex=True)
    return s


def valid_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    m = np.clip(month, 0, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= _DAYS_IN_MONTH[m])
    return ok & ~((month == 2) & (day == 29) & ~leap) & (year >= 1850) & (year <= 2100)


def to_datetime64(year: np.ndarray, month: np.ndarray, day: np.ndarray, ok: np.ndarray) -> np.ndarray:
    y = np.where(ok, year, 1970) - 1970
    m = np.where(ok, month, 1) - 1
    months = (y * 12 + m).astype("timedelta64[M]")
    out = (np.datetime64("1970-01", "M") + months).astype("datetime64[D]") + (np.where(ok, day, 1) - 1).astype(
        "timedelta64[D]"
    )
    return np.where(ok, out, np.datetime64("NaT"))


def _date_parts(values: pd.Series) -> pd.DataFrame:
    """The text work, done once per distinct value: the numeric parts of each accepted form."""
    s = values.str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    s = s.mask(s == "")
    numbered = _month_names_to_numbers(s)
    return pd.concat(
        [
            numbered.str.extract(_THREE_PARTS),
            numbered.str.extract(_COMPACT),
            numbered.str.extract(_SERIAL),
            s.notna().rename("present"),
            (numbered != s).rename("named"),
        ],
        axis=1,
    )


def _int(s: pd.Series) -> np.ndarray:
    """Digit strings (regex groups) as int64, -1 for null; an Arrow cast, no Python parsing."""
    return s.astype(pd.ArrowDtype(pa.int64())).fillna(-1).to_numpy(dtype=np.int64)


@same_for_nulls
def parse_dates(
    raw: pd.Series,
    order: str = "DMY",
    nik_day: pd.Series | None = None,
    nik_month: pd.Series | None = None,
    today: np.datetime64 | None = None,
) -> pd.DataFrame:
    """Parse dates. Returns `date` (datetime64, NaT if unreadable), `ambiguous` (the column mixes
    DD/MM and MM/DD and this value was settled by the hint, not by the NIK) and `unparsed`
    (a value was present but is not a date, or lies in the future)."""
    raw = as_text(raw)
    today = np.datetime64("today", "D") if today is None else today
    parts = on_unique(raw, _date_parts)
    a, b, c = _int(parts["a"]), _int(parts["b"]), _int(parts["c"])
    alen = parts["a"].str.len().fillna(0).astype(int).to_numpy()
    clen = parts["c"].str.len().fillna(0).astype(int).to_numpy()

    # Year: four digits first (ISO) or last; two digits -> the century that is not in the future.
    iso = alen == 4
    year = np.where(iso, a, c)
    two_digit = ~iso & (clen == 2)
    year = np.where(two_digit, np.where(c <= today.astype(object).year % 100, 2000 + c, 1900 + c), year)

    # Day/month candidates for the non-ISO forms.
    dmy_ok = ~iso & valid_ymd(year, b, a)
    mdy_ok = ~iso & valid_ymd(year, a, b)
    named = parts["named"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    # "12 Mei 1970" names its month: day first, never ambiguous.
    mdy_ok &= ~named
    both = dmy_ok & mdy_ok & (a != b)
    # A column is only ambiguous if it really mixes orders (some values only read DMY, some MDY).
    mixed = (dmy_ok & ~mdy_ok).any() and (mdy_ok & ~dmy_ok).any()
    prefer_mdy = order == "MDY"
    if nik_day is not None and nik_month is not None:
        nd = nik_day.astype("Int64").fillna(-1).to_numpy()
        nm = nik_month.astype("Int64").fillna(-1).to_numpy()
        nik_says_mdy = (nd == b) & (nm == a)
        nik_says_dmy = (nd == a) & (nm == b)
        settled = both & (nik_says_mdy | nik_says_dmy)
        use_mdy = np.where(settled, nik_says_mdy, prefer_mdy)
    else:
        settled = np.zeros(len(raw), dtype=bool)
        use_mdy = np.full(len(raw), prefer_mdy)
    use_mdy = np.where(both, use_mdy, mdy_ok & ~dmy_ok)
    month = np.where(iso, b, np.where(use_mdy, a, b))
    day = np.where(iso, c, np.where(use_mdy, b, a))
    ok = valid_ymd(year, month, day) & parts["a"].notna().to_numpy(dtype=bool)

    cy, cm, cd = _int(parts["y"]), _int(parts["m"]), _int(parts["d"])
    compact_ok = ~ok & valid_ymd(cy, cm, cd)
    year, month, day = (np.where(compact_ok, x, y) for x, y in ((cy, year), (cm, month), (cd, day)))
    ok |= compact_ok

    date = to_datetime64(year, month, day, ok)
    serial = _int(parts["serial"])
    # Excel serials for 1900-2100 birth dates. 1850-2100 alone is a birth year, not a serial
    # (serial 1970 would be a birth in 1905): unparsed, not a wrong date.
    year_only = (serial >= 1850) & (serial <= 2100)
    serial_ok = ~ok & (serial >= 1) & (serial <= 73415) & ~year_only
    date = np.where(serial_ok, _EXCEL_EPOCH + serial.astype("timedelta64[D]"), date)
    ok |= serial_ok

    future = ok & (date > today)
    date = np.where(future, np.datetime64("NaT"), date)
    present = parts["present"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "date": pd.Series(date.astype("datetime64[s]"), index=raw.index),
            "ambiguous": pd.Series(both & ~settled & mixed, index=raw.index),
            "unparsed": pd.Series(present & (~ok | future), index=raw.index),
        },
        index=raw.index,
    )


def as_text_date(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype(TEXT)
