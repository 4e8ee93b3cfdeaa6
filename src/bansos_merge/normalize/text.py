"""Small vectorised string helpers shared by the normalisers (text columns: see textcol)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..textcol import TEXT, as_text  # noqa: F401  (re-exported for the normalisers)

def same_for_nulls(fn: Callable) -> Callable:
    """A row-wise normaliser of one column, made to compute a column of nulls only once per
    process: every null row gets what one null gets (keyed by the column's dtype and the other
    arguments; with an unhashable argument it just runs). A source without the field, or a
    query that leaves it out, then costs nothing for it: in a one-row query of the matching
    service each absent field otherwise costs a normaliser's full run of column operations."""
    done: dict = {}

    @functools.wraps(fn)
    def wrapped(raw: pd.Series, *args, **kwargs):
        if kwargs or not isinstance(raw, pd.Series) or len(raw) == 0 or raw.notna().any():
            return fn(raw, *args, **kwargs)
        try:
            one = done.get((raw.dtype, args))
        except TypeError:  # an unhashable argument (a column): not cached
            return fn(raw, *args)
        if one is None:
            one = done[(raw.dtype, args)] = fn(raw.iloc[:1], *args)
        return one.iloc[np.zeros(len(raw), dtype=np.intp)].set_axis(raw.index)

    return wrapped


@same_for_nulls
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
