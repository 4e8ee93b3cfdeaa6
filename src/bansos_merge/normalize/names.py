"""Indonesian personal names: clean the stored name, and build a key for comparing names.

The stored `name` keeps the person's spelling (SOEPARMAN stays SOEPARMAN); titles, aliases
and the BIN/BINTI patronym are split into their own fields. `name_key` folds what differs
between lists but not between people: old spelling (OE/U, DJ/J, TJ/C, CH/KH, J/Y), the
MUHAMMAD and SITI abbreviations, doubled letters and apostrophes. JOKO and YOKO share a key:
it is a comparison key, never written back as the name.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .text import as_text, on_unique, same_for_nulls, strip_accents

# Honorifics written before a name; with a dot they are unambiguous, some words are never names.
_LEADING_WITH_DOT = r"(?:H|HJ|HJH|DR|DRS|DRA|IR|PROF|KH|NY|TN|BPK|SDR|SDRI|DRG|APT|NS|MR|MRS)\."
_LEADING_WORD = r"(?:HAJI|HAJJAH|HAJAH|DRS|DRA|PROF|HJ|HJH|BPK|BAPAK|NYONYA)"
_LEADING = rf"^(?P<titles>(?:(?:{_LEADING_WITH_DOT}|{_LEADING_WORD}\b)\s*)+)(?P<rest>.*)$"
# Academic degrees after a name, with dots: S.PD, S.E., A.MD, M.SI, S.KOM ...
_DEGREE = r"(?:[SMDA]\.\s?[A-Z]{1,5}\.?(?:\s?[A-Z]{1,4}\.?)?|S\d\b|AMD\.?|SPD\b\.?|SE\b\.?|SH\b\.?|SAG\b\.?|AMA\.?\s?PD)"
# The same degrees written without dots, as they appear after a comma: "BUDI, SE, MM".
_DEGREE_PLAIN = (
    r"(?:S\d|SE|SH|MH|MM|SPD|MPD|SKM|SAG|SSOS|SKOM|SIP|SP|ST|SS|SSI|SKEP|SKED|SFARM|SPSI|STP|SHUT|MSI|MAG|MT|"
    r"MKES|MKOM|MAP|MBA|MA|MSC|PHD|AMD|AMK|AMKEB|AMPD|AMA|BA|BSC|NERS|APT|LC)\b\.?"
)
_COMMA_DEGREES = rf"^(?P<rest>[^,]+),\s*(?P<titles>(?:(?:{_DEGREE}|{_DEGREE_PLAIN})[\s,]*)+)$"
_TRAILING = rf"^(?P<rest>.*?)(?P<titles>(?:[\s,]+{_DEGREE})+)\s*$"
_ALIAS = r"^(?P<name>[^/]*?)\s*(?:/|\bALS\b\.?|\bALIAS\b|\bD/H\b)\s*(?P<alias>.*)$"
_PATRONYM = r"^(?P<name>.+?)\s+\b(?:BIN|BINTI|BT|BINT)\b\.?\s+(?P<patronym>.+)$"

_MUHAMMAD = (
    r"\b(?:MUHAMMAD|MUHAMAD|MUHAMMED|MUHAMED|MOHAMMAD|MOHAMAD|MOHAMMED|MOHAMED|MOCHAMMAD|MOCHAMAD|"
    r"MUCHAMMAD|MUCHAMAD|MUCHAMAT|MOCHAMAT|MUHAMMAT|MUHAMAT|MOH|MOCH|MUH|MHD|MOHD|MUHD|MOHAMED|MUHAMMADH)\b"
)
# The abbreviations and spellings of MUHAMMAD as they stand after the folds below (CH -> KH,
# doubled letters single), and MUHAMMAD itself after them.
_MUHAMMAD_FOLDED = r"\b(?:MOKHAMAD|MUKHAMAD|MOKHAMAT|MUKHAMAT|MOKH)\b"
_FOLDED_MUHAMMAD = "MUHAMAD"
# Old Van Ophuijsen/Soewandi spelling -> the 1972 EYD spelling, in an order that makes the
# fold idempotent; J -> Y last, so DJOKO, JOKO and YOKO meet.
_OLD_SPELLING = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("CH", "KH"), ("J", "Y"))
_DOUBLE_LETTERS = tuple((c + c, c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _extract_if(s: pd.Series, pattern: str, gate: str) -> pd.DataFrame:
    """`s.str.extract(pattern)`, run only on values where the cheap regex `gate` (a necessary
    condition of `pattern`) matches: the lazy `^(.*?)...` patterns are slow on every name."""
    candidates = s.str.contains(gate, regex=True).fillna(False).astype(bool)
    if not candidates.any():  # what extract gives where nothing matches, without running it
        return pd.DataFrame({g: pd.Series(pd.NA, index=s.index, dtype=s.dtype) for g in _groups(pattern)})
    return s[candidates].str.extract(pattern).reindex(s.index)


@cache
def _groups(pattern: str) -> tuple[str, ...]:
    """The named groups of a pattern, in order (the columns `str.extract` gives)."""
    index = re.compile(pattern).groupindex
    return tuple(sorted(index, key=index.get))


def _clean(values: pd.Series) -> pd.DataFrame:
    s = strip_accents(values).str.upper()
    s = s.str.replace(r"[`´‘’]", "'", regex=True)
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()

    alias = _extract_if(s, _ALIAS, r"/|\bALS\b|\bALIAS\b")
    has_alias = alias["name"].notna() & (alias["name"] != "")
    s = s.where(~has_alias, alias["name"])

    lead = s.str.extract(_LEADING)
    s = s.where(lead["rest"].isna(), lead["rest"])
    # "BUDI SANTOSO, S.PD., M.PD": degrees after the first comma (not "SITI, AMINAH").
    comma = _extract_if(s, _COMMA_DEGREES, ",")
    s = s.where(comma["rest"].isna(), comma["rest"])
    trail = _extract_if(s, _TRAILING, r"\.|\b(?:S\d|AMD|SPD|SE|SH|SAG|AMA)")
    s = s.where(trail["rest"].isna() | (trail["rest"].str.strip() == ""), trail["rest"])
    titles = (
        lead["titles"].fillna("")
        + " "
        + comma["titles"].fillna("")
        + " "
        + trail["titles"].where(trail["rest"].str.strip() != "").fillna("")
    )
    titles = titles.str.replace(r"[\s,]+", " ", regex=True).str.strip()

    # MAWARDI.Z, M.RIZKI: a dot joins a name and an initial; other punctuation is spacing too.
    s = s.str.replace(r"[.,;:_\-\"()\[\]]+", " ", regex=True).str.replace(r"[^A-Z' ]+", "", regex=True)
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    pat = _extract_if(s, _PATRONYM, r"\b(?:BIN|BINTI|BT|BINT)\b")
    base = pat["name"].fillna(s)

    return pd.DataFrame(
        {
            "name": s.mask(s == ""),
            "name_titles": titles.mask(titles == ""),
            "name_alias": alias["alias"].where(has_alias).str.strip().mask(lambda x: x == ""),
            "name_patronym": pat["patronym"],
            "name_key": name_key(base),
        }
    )


def name_key(clean: pd.Series) -> pd.Series:
    """Comparison key of a cleaned name (see module doc)."""
    k = clean.str.replace("'", "", regex=False)
    k = k.str.replace(r"^M\b", "MUHAMMAD", regex=True).str.replace(_MUHAMMAD, "MUHAMMAD", regex=True)
    k = k.str.replace(r"^ST\b", "SITI", regex=True)
    # Thirty-one literal replacements: on the Arrow array directly (pandas' own per call cost,
    # not the work, is what they cost on one query's name).
    folded = pa.array(as_text(k).array)
    for old, new in _OLD_SPELLING + _DOUBLE_LETTERS:
        folded = pc.replace_substring(folded, old, new)
    k = pd.Series(pd.arrays.ArrowExtensionArray(folded), index=k.index)
    # MUHAMMAD in the old spelling (MOTJHAMAD, MOTJH.) is only found once TJ is folded to C.
    k = k.str.replace(_MUHAMMAD_FOLDED, _FOLDED_MUHAMMAD, regex=True)
    k = k.str.replace(r"\s+", " ", regex=True).str.strip()
    return k.mask(k == "")


@same_for_nulls
def normalize_names(raw: pd.Series) -> pd.DataFrame:
    """name, name_titles, name_alias, name_patronym, name_key for each raw name."""
    return on_unique(raw, _clean)
