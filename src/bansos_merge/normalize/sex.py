"""Sex codes as lists write them: L/P, LAKI-LAKI/PEREMPUAN, 1/2, PRIA/WANITA, M/F."""

from __future__ import annotations

import pandas as pd

from .text import TEXT, as_text, same_for_nulls

_MALE = r"^(?:L|LK|LAKI|LAKI2|LAKI-LAKI|LAKI LAKI|LELAKI|PRIA|1|M|MALE|COWOK)$"
_FEMALE = r"^(?:P|PR|PEREMPUAN|WANITA|W|2|F|FEMALE|CEWEK)$"


@same_for_nulls
def normalize_sex(raw: pd.Series) -> pd.DataFrame:
    """`sex` (L, P or null) and `unparsed` (a value was present but is not a sex code)."""
    s = as_text(raw).str.upper().str.replace(r"\.0+$", "", regex=True)
    s = s.str.replace(r"[\s.]+", " ", regex=True).str.replace(" - ", "-", regex=False).str.strip()
    male = s.str.contains(_MALE, regex=True).fillna(False).astype(bool)
    female = s.str.contains(_FEMALE, regex=True).fillna(False).astype(bool)
    sex = pd.Series(pd.NA, index=s.index, dtype=TEXT).mask(male, "L").mask(female, "P")
    present = s.notna() & (s != "")
    return pd.DataFrame({"sex": sex, "unparsed": present & sex.isna()})
