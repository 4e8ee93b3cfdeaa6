"""Small vectorised string helpers shared by the normalisers (text columns: see textcol)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..textcol import TEXT, as_text  # noqa: F401  (re-exported for the normalisers)

def blank_to_null(s: pd.Series) -> pd.Series:
    """Trim, fold runs of white space, and turn empty strings into nulls."""
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    return s.mask(s == "")


def on_unique(s: pd.Series, fn: Callable[[pd.Series], pd.Series | pd.DataFrame]):
    """Apply `fn` to the distinct values only, then spread the results back.

    Names, places and region names repeat heavily (1M rows, ~10^5 distinct), so every regex
    pass runs over the distinct values. `fn` must return one row per distinct value.
    """
    codes, uniques = pd.factorize(s)  # null -> -1
    # A trailing null value stands for the nulls (code -1), and keeps `fn`'s input non-empty.
    values = pd.Series(pd.array(list(uniques) + [None], dtype=s.dtype)) if len(uniques) < 1 else pd.concat(
        [pd.Series(uniques, dtype=s.dtype), pd.Series([None], dtype=s.dtype)], ignore_index=True
    )
    out = fn(values).reset_index(drop=True)
    return out.iloc[np.where(codes < 0, len(values) - 1, codes)].set_axis(s.index)


def strip_accents(s: pd.Series) -> pd.Series:
    """`SUSANTÍ` -> `SUSANTI` (NFKD, then drop the combining marks)."""
    decomposed = pc.utf8_normalize(pa.array(s.array), "NFKD")
    return pd.Series(pd.arrays.ArrowExtensionArray(decomposed), index=s.index).str.replace(r"\p{Mn}+", "", regex=True)


def digits_only(s: pd.Series) -> pd.Series:
    return s.str.replace(r"\D+", "", regex=True)
