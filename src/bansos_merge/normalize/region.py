"""Region names to Kemendagri codes, level by level, only where the answer is unambiguous.

Each level is matched inside the most specific region already resolved above it (a
district name repeats across Indonesia, rarely inside one regency). A name that fits two
regions (plain `BOGOR`: the regency or the city) stays unresolved rather than guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..regions import bare_key, load_regions, name_key
from .text import TEXT, as_text

LEVELS = ("province", "regency", "district", "village")


def _match_level(combos: pd.DataFrame, level: str, scope: pd.Series) -> pd.Series:
    """Code of `level` for each combo, or null when absent, unknown or ambiguous."""
    table = load_regions().regions
    table = table.loc[table["level"] == level, ["code", "key", "bare"]]
    key = name_key(combos[level].astype(TEXT)).astype(object)
    code = pd.Series(None, index=combos.index, dtype=object)
    for column in ("key", "bare"):
        probe = key if column == "key" else bare_key(key.astype("string[pyarrow]")).astype(object)
        todo = code.isna() & probe.notna() & (probe != "")
        if not todo.any():
            break
        left = pd.DataFrame({"row": combos.index[todo], "probe": probe[todo].to_numpy(), "scope": scope[todo].to_numpy()})
        m = left.merge(table, left_on="probe", right_on=column)
        scope_len = m["scope"].str.len().to_numpy()
        inside = np.select(
            [scope_len == n for n in (2, 4, 6)], [m["code"].str.slice(0, n) == m["scope"] for n in (2, 4, 6)], True
        )
        m = m[inside.astype(bool)]
        unique = m.groupby("row")["code"].agg(["first", "size"])
        found = unique.loc[unique["size"] == 1, "first"]
        code.loc[found.index] = found.to_numpy()
    return code.astype(TEXT)


def resolve_regions(frame: pd.DataFrame) -> pd.DataFrame:
    """`{level}_code` for province, regency, district and village names in `frame`.

    Works on the distinct name combinations (a few thousand per million rows).
    """
    cols = [c for c in LEVELS if c in frame]
    out = pd.DataFrame(index=frame.index, columns=[f"{lvl}_code" for lvl in LEVELS], dtype=TEXT)
    if not cols:
        return out
    # Distinct combinations by integer codes (factorize per column), not by hashing object rows.
    key = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        codes, uniques = pd.factorize(frame[c])
        key = np.unique(key * (len(uniques) + 1) + (codes + 1), return_inverse=True)[1].astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    combos = frame[cols].iloc[first].astype(object).reset_index(drop=True)
    combos = combos.where(combos.notna(), None)
    for lvl in LEVELS:
        if lvl not in combos:
            combos[lvl] = None
    scope = pd.Series("", index=combos.index, dtype=TEXT)
    for lvl in LEVELS:
        code = _match_level(combos, lvl, scope.astype(object))
        combos[f"{lvl}_code"] = code
        scope = code.fillna(scope)
    # A resolved lower level implies its parents.
    for lvl, child, n in (("district", "village", 6), ("regency", "district", 4), ("province", "regency", 2)):
        combos[f"{lvl}_code"] = combos[f"{lvl}_code"].fillna(combos[f"{child}_code"].str.slice(0, n))
    out = combos[[f"{lvl}_code" for lvl in LEVELS]].astype(TEXT).iloc[inverse.reshape(-1)]
    return out.set_axis(frame.index)


def region_names_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Upper-case, spacing-normalised region names for storing beside the codes."""
    return frame.apply(lambda col: as_text(col).str.upper().str.replace(r"\s+", " ", regex=True).str.strip())
