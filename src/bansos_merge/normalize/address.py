"""Addresses: pull RT/RW out of free text in every common notation, normalise the street
tokens (JL./JLN./JALAN -> JL, GG./GANG -> GG, ...), and pad RT/RW to three digits."""

from __future__ import annotations

import pandas as pd

from .text import as_text, on_unique, same_for_nulls

# Tried in order; the first that matches wins. RE2 has no shared group names across
# alternatives, hence one pattern per notation.
_RT_RW_PATTERNS = (
    r"\bRT\s*/\s*RW\.?\s*:?\s*(?P<rt>\d{1,3})\s*/\s*(?P<rw>\d{1,3})\b",  # RT/RW 003/005
    r"\bRT\.?\s*:?\s*(?P<rt>\d{1,3})\s*[/,]?\s*RW\.?\s*:?\s*(?P<rw>\d{1,3})\b",  # RT 003 RW 005, RT.03/RW.05
    r"(?:^|[\s,])(?P<rt>\d{3})\s*/\s*(?P<rw>\d{3})(?:$|[\s,])",  # 003/005
)
_STRIP_RT_RW = (
    r"\bRT\s*/\s*RW\.?\s*:?\s*\d{1,3}\s*/\s*\d{1,3}\b",
    r"\bRT\.?\s*:?\s*\d{1,3}\s*[/,]?\s*RW\.?\s*:?\s*\d{1,3}\b",
    r"(?:^|[\s,])\d{3}\s*/\s*\d{3}(?:$|[\s,])",
)
_TOKENS = (
    (r"\b(?:JALAN|JLN|JL)\b\.?", "JL "),
    (r"\b(?:GANG|GG)\b\.?", "GG "),
    (r"\b(?:DUSUN|DSN|DS N)\b\.?", "DSN "),
    (r"\b(?:KAMPUNG|KAMP|KP)\b\.?", "KP "),
    (r"\b(?:DESA|DS)\b\.?", "DS "),
    (r"\b(?:KELURAHAN|KEL)\b\.?", "KEL "),
    (r"\b(?:KECAMATAN|KEC)\b\.?", "KEC "),
    (r"\b(?:PERUMAHAN|PERUM)\b\.?", "PERUM "),
    (r"\b(?:NOMOR|NO)\b\.?\s*", "NO "),
    (r"\bBLOK\b\.?", "BLOK "),
)


def _address_parts(values: pd.Series) -> pd.DataFrame:
    s = values.str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    rt = pd.Series(pd.NA, index=s.index, dtype=s.dtype)
    rw = rt.copy()
    for pattern in _RT_RW_PATTERNS:
        found = s.str.extract(pattern)
        take = rt.isna() & found["rt"].notna()
        rt, rw = rt.where(~take, found["rt"]), rw.where(~take, found["rw"])
    street = s
    for pattern in _STRIP_RT_RW:
        street = street.str.replace(pattern, " ", regex=True)
    for pattern, token in _TOKENS:
        street = street.str.replace(pattern, token, regex=True)
    street = street.str.replace(r"[\s,;]+", " ", regex=True).str.replace(r"\s+\.", ".", regex=True).str.strip(" ,.-")
    return pd.DataFrame({"address": street.mask(street == ""), "rt": rt, "rw": rw})


@same_for_nulls
def pad_rt_rw(raw: pd.Series) -> pd.Series:
    """`3`, `03`, `RT 003`, `3.0` -> `003`; anything without a number -> null."""
    return on_unique(as_text(raw), _pad)


def _pad(values: pd.Series) -> pd.Series:
    d = values.str.replace(r"\.0+$", "", regex=True).str.extract(r"(?:^|\D)(?P<n>\d{1,3})\s*$")["n"]
    d = d.str.pad(3, side="left", fillchar="0")
    return d.mask(d == "000")


@same_for_nulls
def normalize_addresses(raw: pd.Series) -> pd.DataFrame:
    """address (tokens normalised, RT/RW removed), rt and rw found in the text (3 digits)."""
    parts = on_unique(as_text(raw), _address_parts)
    parts["rt"] = pad_rt_rw(parts["rt"])
    parts["rw"] = pad_rt_rw(parts["rw"])
    return parts
