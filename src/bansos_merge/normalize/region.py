"""Region names to Kemendagri codes, level by level, only where the answer is unambiguous.

Each level is matched inside the most specific region already resolved above it (a
district name repeats across Indonesia, rarely inside one regency). A name that fits two
regions (plain `BOGOR`: the regency or the city) stays unresolved rather than guessed.

The region tables are sorted by key once per process (`_level_keys`) and looked up by binary
search, so a call costs about the same for one row (a query of the matching service) as its
few thousand distinct name combinations cost per row in a merge.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa

from ..regions import LEVEL_DIGITS, bare_key, load_regions, name_key
from .text import TEXT, as_text

LEVELS = ("province", "regency", "district", "village")
_CODE = f"U{max(LEVEL_DIGITS.values())}"  # a code as fixed-width text; "" is no code


@cache
def _level_keys(level: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The level's region keys (`key` or `bare`) sorted, and each one's code."""
    table = load_regions().regions
    table = table[table["level"] == level]
    keys = table[column].to_numpy(dtype=object)
    order = np.argsort(keys, kind="stable")
    return keys[order], table["code"].to_numpy(dtype=_CODE)[order]


def _match_level(probes: dict[str, np.ndarray], level: str, scope: np.ndarray) -> np.ndarray:
    """Code of `level` for each combo ("" when absent, unknown or ambiguous): its `key`, else
    its `bare` key, names exactly one region of the level inside `scope`."""
    code = np.full(len(scope), "", dtype=_CODE)
    for column in ("key", "bare"):
        probe = probes[column]
        todo = np.flatnonzero((code == "") & (probe != None) & (probe != ""))  # noqa: E711
        if not len(todo):
            break
        keys, codes = _level_keys(level, column)
        lo = np.searchsorted(keys, probe[todo], "left")
        count = np.searchsorted(keys, probe[todo], "right") - lo
        row = np.repeat(todo, count)
        hit = codes[np.repeat(lo, count) + np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)]
        within, parent = np.ones(len(row), dtype=bool), scope[row]
        for n in (2, 4, 6):  # a code is inside a scope of n digits when its first n digits are it
            at = np.char.str_len(parent) == n
            within[at] = hit[at].astype(f"U{n}") == parent[at]
        rows, first, matches = np.unique(row[within], return_index=True, return_counts=True)
        code[rows[matches == 1]] = hit[within][first[matches == 1]]
    return code


def resolve_regions(frame: pd.DataFrame) -> pd.DataFrame:
    """`{level}_code` for province, regency, district and village names in `frame`.

    Works on the distinct name combinations (a few thousand per million rows).
    """
    cols = [c for c in LEVELS if c in frame]
    out = pd.DataFrame(index=frame.index, columns=[f"{lvl}_code" for lvl in LEVELS], dtype=TEXT)
    if not cols or len(frame) == 0:
        return out
    # Distinct combinations by integer codes (factorize per column), not by hashing object rows.
    key = np.zeros(len(frame), dtype=np.int64)
    factors = {}
    for c in cols:
        factors[c] = pd.factorize(frame[c])
        key = np.unique(key * (len(factors[c][1]) + 1) + (factors[c][0] + 1), return_inverse=True)[1].astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    k = len(first)
    names = np.full(len(LEVELS) * k, None, dtype=object)  # level by level, the combos' names
    for i, lvl in enumerate(LEVELS):
        if lvl in factors:
            codes, uniques = factors[lvl]
            at = codes[first]
            names[i * k : (i + 1) * k][at >= 0] = np.asarray(uniques, dtype=object)[at[at >= 0]]
    keys = name_key(as_text(names))
    probes = {
        "key": keys.to_numpy(dtype=object, na_value=None),
        "bare": bare_key(keys.astype("string[pyarrow]")).to_numpy(dtype=object, na_value=None),
    }
    found = {}
    scope = np.full(k, "", dtype=_CODE)
    for i, lvl in enumerate(LEVELS):
        found[lvl] = _match_level({c: p[i * k : (i + 1) * k] for c, p in probes.items()}, lvl, scope)
        scope = np.where(found[lvl] != "", found[lvl], scope)
    # A resolved lower level implies its parents.
    for lvl, child, n in (("district", "village", 6), ("regency", "district", 4), ("province", "regency", 2)):
        found[lvl] = np.where(found[lvl] != "", found[lvl], found[child].astype(f"U{n}"))
    rows = inverse.reshape(-1)
    columns = {
        f"{lvl}_code": pd.arrays.ArrowExtensionArray(pa.array(found[lvl][rows], type=pa.string(), mask=found[lvl][rows] == ""))
        for lvl in LEVELS
    }
    return pd.DataFrame(columns, index=frame.index)


def region_names_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Upper-case, spacing-normalised region names for storing beside the codes."""
    return frame.apply(lambda col: as_text(col).str.upper().str.replace(r"\s+", " ", regex=True).str.strip())
