"""Alive/deceased as the civil registry and the lists write it."""

from __future__ import annotations

import pandas as pd

from .text import TEXT, as_text, same_for_nulls

_ALIVE = r"^(?:HIDUP|H|ALIVE|AKTIF|ADA|1|Y|YA|TIDAK MENINGGAL)$"
_DECEASED = r"^(?:MATI|M|MENINGGAL|MENINGGAL DUNIA|WAFAT|ALMARHUM|ALMARHUMAH|ALM|DECEASED|DEAD|0|MD)$"


@same_for_nulls
def normalize_status(raw: pd.Series) -> pd.DataFrame:
    """`status` (alive, deceased or null) and `unparsed`."""
    s = as_text(raw).str.upper().str.replace(r"\.0+$", "", regex=True)
    s = s.str.replace(r"[\s.]+", " ", regex=True).str.strip()
    alive = s.str.contains(_ALIVE, regex=True).fillna(False).astype(bool)
    dead = s.str.contains(_DECEASED, regex=True).fillna(False).astype(bool)
    status = pd.Series(pd.NA, index=s.index, dtype=TEXT).mask(alive, "alive").mask(dead, "deceased")
    present = s.notna() & (s != "")
    return pd.DataFrame({"status": status, "unparsed": present & status.isna()})


@same_for_nulls
def normalize_phone(raw: pd.Series) -> pd.Series:
    """Digits only, +62/62 -> 0; fewer than 8 digits is no phone number."""
    d = as_text(raw).str.replace(r"\.0+$", "", regex=True).str.replace(r"\D+", "", regex=True)
    d = d.str.replace(r"^62", "0", regex=True)
    d = d.where(d.str.startswith("0").fillna(False) | d.isna(), "0" + d)
    return d.mask(d.str.len().fillna(0) < 8)
