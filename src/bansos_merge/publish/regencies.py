"""Regencies as an officer reads them: grouped by Kemendagri code, named as Kemendagri names them.

Lists spell one regency many ways (`KABUPATEN SUKABUMI`, `KAB. SUKABUMI`, `SUKABUMI`), and
normalisation has already resolved each record to one code. Counting by spelling would split
one regency into three; so the summaries, the kind sheets and the report's chart group by the
code and show `Kabupaten Sukabumi (32.02)`. A record whose region resolved to no code keeps its
spelling, marked as such; the spelling as written stays in a column that says so.
"""

from __future__ import annotations

import pandas as pd

from ..regions import regency_names
from . import i18n

AS_WRITTEN = "\x01"  # key prefix of a region with no code: its spelling as written follows


def _dotted(codes: pd.Series) -> pd.Series:
    digits = codes.astype("string").str.replace(".", "", regex=False)
    return digits.str.slice(0, 2) + "." + digits.str.slice(2, 4)


def regency_keys(codes: pd.Series, written: pd.Series) -> pd.Series:
    """Per row, the key regencies are grouped by: `Kabupaten Sukabumi (32.02)` for a code (the
    same in both languages: a name and a code), AS_WRITTEN + the spelling for a region without
    one, None for no region at all."""
    codes = codes.astype("string").where(lambda s: s.str.len() > 0)
    names = regency_names(codes).astype("string")
    dotted = _dotted(codes)
    coded = (names + " (" + dotted + ")").fillna(dotted)
    text = written.astype("string").str.strip()
    spelled = AS_WRITTEN + text.where(text.str.len() > 0)
    return coded.fillna(spelled).astype(object).where(lambda s: s.notna(), None)


def regency_label(key: object, lang: str) -> str:
    """What a key shows: the name and code, a spelling marked as written, or "unknown"."""
    if key is None or (isinstance(key, float) and key != key):
        return i18n.t("summary.unknown_region", lang)
    key = str(key)
    if key.startswith(AS_WRITTEN):
        return i18n.t("region.as_written", lang, name=key[len(AS_WRITTEN) :])
    return key
