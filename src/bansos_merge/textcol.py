"""The one text column type used from ingest onwards: Arrow strings inside pandas.

With `pd.ArrowDtype(pa.string())`, pandas `.str` methods run as pyarrow compute kernels
(RE2 regexes: no back-references; named groups for `.str.extract`).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

TEXT = pd.ArrowDtype(pa.string())


def as_text(values) -> pd.Series:
    """Any Series/array of strings (or None) as an Arrow string Series; NaN/None become null."""
    if isinstance(values, pd.Series):
        return values if values.dtype == TEXT else values.astype(TEXT)
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.string())))
