"""NIK and KK numbers: recover the digits, then read the structure `PPRRDD DDMMYY SSSS`.

A NIK is evidence, not just a string: its region, birth date, sex and serial are decoded
here so that linkage can compare NIKs by their parts. Problems are statuses and flags,
never rejects: a row with a bad NIK may still be tied to a person by name and birth date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..regions import nik_region_status
from .text import TEXT, as_text, on_unique

# Status of a NIK, most severe first. `precision_lost` keeps its reliable digits as evidence.
NIK_STATUSES = (
    "missing",
    "malformed",
    "dummy",
    "kk_as_nik",
    "precision_lost",
    "invalid_date",
    "region_never_existed",
    "serial_zero",
    "valid",
)

_SCIENTIFIC = r"^(?P<mant>\d(?:[.,]\d+)?)E\+?(?P<exp>\d{1,2})$"
_DUMMY_PATTERNS = ("1234567890123456", "0123456789012345", "1234567812345678")


def _messy_digits(raw: pd.Series) -> pd.DataFrame:
    """Digits of values that are not plain digit strings: spacing, quotes, `.0`, `3.27301E+15`."""
    s = raw.str.upper().str.replace(r"[\s'`\"]+", "", regex=True)
    sci = s.str.extract(_SCIENTIFIC)
    is_sci = sci["mant"].notna()
    mant = sci["mant"].str.replace(r"[.,]", "", regex=True)
    exp = pd.to_numeric(sci["exp"], errors="coerce").fillna(0).astype(int).to_numpy()
    zeros = np.clip(exp + 1 - mant.str.len().fillna(0).astype(int).to_numpy(), 0, 32)
    sci_digits = mant + pd.Series(["0" * n for n in range(33)], dtype=TEXT).iloc[zeros].set_axis(raw.index)

    # "3171011708450000.0" is how a float NIK prints; drop the fraction before taking digits.
    digits = s.str.replace(r"\.0+$", "", regex=True).str.replace(r"[^0-9]", "", regex=True)
    digits = digits.where(~is_sci, sci_digits)
    return pd.DataFrame({"digits": digits, "is_sci": is_sci, "mant": mant}, index=raw.index)


def _recover_digits(raw: pd.Series, numeric_cell: pd.Series) -> pd.DataFrame:
    """Turn what the file holds into digits, and say which of them a spreadsheet destroyed.

    A number cell keeps 15 significant digits (the 16th reads 0); `3.27301E+15` text keeps
    only the 6 shown. `known` holds the reliable leading digits of such a value.
    Most cells are plain digit strings already; only the others go through the regexes.
    """
    plain = raw.str.contains(r"^[0-9]+$", regex=True).fillna(False).astype(bool)
    other = (~plain & raw.notna()).to_numpy(dtype=bool)
    digits = raw.where(plain)
    is_sci = np.zeros(len(raw), dtype=bool)
    mant = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
    if other.any():  # the regexes only for the others (a query's one plain NIK skips them all)
        messy = _messy_digits(raw[other])
        digits = _put(digits, other, messy["digits"])
        is_sci[other] = messy["is_sci"].to_numpy(dtype=bool)
        mant = _put(mant, other, messy["mant"])
    digits = digits.mask(digits == "")

    length = digits.str.len().fillna(0).astype(int).to_numpy()
    numeric = numeric_cell.to_numpy(dtype=bool) & (length == 16)
    known = mant.where(is_sci, digits.str.slice(0, 15).where(numeric))
    return pd.DataFrame({"digits": digits, "lost": is_sci | numeric, "known": known}, index=raw.index)


def _put(values: pd.Series, mask: np.ndarray, replacements: pd.Series) -> pd.Series:
    """`values` with the masked positions replaced, in order, by `replacements` (an Arrow kernel,
    no index alignment)."""
    if not mask.any():
        return values
    arr = pa.chunked_array(pa.array(values.array)).combine_chunks()
    new = pa.chunked_array(pa.array(replacements.array)).combine_chunks().cast(arr.type)
    out = pc.replace_with_mask(arr, pa.array(mask), new)
    return pd.Series(pd.arrays.ArrowExtensionArray(out), index=values.index)


def _digit_matrix(values: pd.Series) -> np.ndarray:
    """16-digit strings (others blanked) as an (n, 16) int8 matrix; rows of other lengths are zeros.

    Every value is then exactly 16 ASCII bytes, so the Arrow data buffer is the matrix."""
    ok = (values.str.len() == 16).fillna(False).to_numpy(dtype=bool)
    fixed = values.where(pd.Series(ok, index=values.index), "0" * 16).fillna("0" * 16)
    arr = pa.chunked_array(pa.array(fixed.array)).combine_chunks().cast(pa.string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return (data.reshape(-1, 16) - 48).astype(np.int8)


def _two(mat: np.ndarray, i: int) -> np.ndarray:
    return mat[:, i].astype(np.int16) * 10 + mat[:, i + 1]


def _valid_dmy(day: np.ndarray, month: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Day exists in month; 29 Feb accepted when either century makes the year a leap year."""
    dim = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    m = np.clip(month, 0, 12)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= dim[m])
    feb29 = (month == 2) & (day == 29)
    leap_possible = (yy % 4) == 0  # 1900 is not leap but 2000 is: yy=00 stays possible
    return ok & (~feb29 | leap_possible)


def _read_number(raw: pd.Series, numeric_cell: pd.Series | None):
    """(raw as text, recovered digits frame, digits, digit count) of a NIK or KK column."""
    raw = as_text(raw)
    if numeric_cell is None:
        numeric_cell = pd.Series(False, index=raw.index)
    rec = _recover_digits(raw, numeric_cell)
    digits = rec["digits"]
    return raw, rec, digits, digits.str.len().fillna(0).astype(int).to_numpy()


def parse_nik(
    raw: pd.Series,
    numeric_cell: pd.Series | None = None,
    kk_raw: pd.Series | None = None,
    kk_numeric_cell: pd.Series | None = None,
) -> pd.DataFrame:
    """Decode NIKs. Returns one row per input with:

    `nik` (16 digits or null), `nik_status` (see NIK_STATUSES), `nik_known_digits` (the
    reliable leading digits of a spreadsheet-damaged NIK), `nik_region` (PPRRDD),
    `nik_region_status` (current/retired/unknown/never_existed: see `regions.nik_region_status`;
    a NIK whose region never existed has status `region_never_existed`, and stays usable for
    linkage like one with an impossible date: its other digits are still evidence), `nik_day`,
    `nik_month`, `nik_yy`, `nik_sex` (L/P), `nik_serial`.
    """
    raw, rec, digits, length = _read_number(raw, numeric_cell)
    is16 = length == 16
    lost = rec["lost"].to_numpy(dtype=bool) & is16
    ends0 = is16 & digits.str.endswith("0").fillna(False).to_numpy(dtype=bool)
    if is16.sum() >= 20 and ends0.sum() > 0.5 * is16.sum():
        # One in ten NIKs ends in 0; most of them here: the column went through Excel as text.
        lost |= ends0
    mat = _digit_matrix(digits)

    day_raw, month, yy = _two(mat, 6), _two(mat, 8), _two(mat, 10)
    female = day_raw > 40
    day = np.where(female, day_raw - 40, day_raw)
    date_ok = _valid_dmy(day, month, yy) & (day_raw <= 71) & ~((day_raw > 31) & (day_raw < 41))
    serial = mat[:, 12:16].astype(np.int16) @ np.array([1000, 100, 10, 1], dtype=np.int16)

    dummy = is16 & ((mat == mat[:, :1]).all(axis=1) | digits.isin(_DUMMY_PATTERNS).to_numpy(dtype=bool))
    kk_pasted = np.zeros(len(raw), dtype=bool)
    if kk_raw is not None:
        kk_numeric_cell = pd.Series(False, index=raw.index) if kk_numeric_cell is None else kk_numeric_cell
        kk_digits = _recover_digits(as_text(kk_raw), kk_numeric_cell)["digits"]
        kk_pasted = is16 & (digits == kk_digits).fillna(False).to_numpy(dtype=bool)

    idx = raw.index
    region = digits.str.slice(0, 6).where(pd.Series(is16 & ~dummy, index=idx))
    region_status = on_unique(region, lambda r: nik_region_status(r).astype(TEXT))
    never = (region_status == "never_existed").fillna(False).to_numpy(dtype=bool)
    status = np.select(
        [digits.isna().to_numpy(dtype=bool), ~is16, dummy, kk_pasted, lost, ~date_ok, never, serial == 0],
        list(NIK_STATUSES[:-1]),
        default="valid",
    )
    # Serial 0000 is most often 000x with its last digit lost: its first 15 digits are evidence.
    damaged = pd.Series(lost | (status == "serial_zero"), index=idx)
    known = rec["known"].fillna(digits.str.slice(0, 15).where(damaged))
    # Region and birth date are readable when the first 12 digits survived.
    readable = pd.Series(is16 & ~dummy & ~kk_pasted & date_ok, index=idx)
    if lost.any():
        readable &= known.str.len().fillna(16).ge(12).astype(bool)
    # Serial 0000 is a damaged NIK too: compared by its 15 known digits, never as a full value.
    usable = pd.Series(is16 & ~lost & ~dummy & ~kk_pasted & (status != "serial_zero"), index=idx)
    return pd.DataFrame(
        {
            "nik": digits.where(usable),
            "nik_status": pd.Series(status, index=idx, dtype=TEXT),
            "nik_known_digits": known,
            "nik_region": region,
            "nik_region_status": region_status,
            "nik_day": pd.Series(day, index=idx, dtype="Int8").where(readable),
            "nik_month": pd.Series(month, index=idx, dtype="Int8").where(readable),
            "nik_yy": pd.Series(yy, index=idx, dtype="Int8").where(readable),
            "nik_sex": pd.Series(
                pd.arrays.ArrowExtensionArray(pc.if_else(pa.array(female), "P", "L")), index=idx
            ).where(readable),
            "nik_serial": digits.str.slice(12, 16).where(usable),
        },
        index=idx,
    )


KK_STATUSES = ("missing", "malformed", "precision_lost", "valid")


def parse_kk(raw: pd.Series, numeric_cell: pd.Series | None = None) -> pd.DataFrame:
    """KK numbers: 16 digits, first six the issuing district; spreadsheet damage as for NIK."""
    raw, rec, digits, length = _read_number(raw, numeric_cell)
    lost = rec["lost"].to_numpy(dtype=bool) & (length == 16)
    mat = _digit_matrix(digits)
    dummy = (length == 16) & (mat == mat[:, :1]).all(axis=1)
    status = np.select(
        [digits.isna().to_numpy(dtype=bool), (length != 16) | dummy, lost],
        ["missing", "malformed", "precision_lost"],
        default="valid",
    )
    return pd.DataFrame(
        {
            "kk": digits.where(pd.Series((length == 16) & ~lost & ~dummy, index=raw.index)),
            "kk_status": pd.Series(status, index=raw.index, dtype=TEXT),
            "kk_known_digits": rec["known"],
        },
        index=raw.index,
    )
