"""Set operations on large integer arrays, by a sort.

numpy 2.4's `unique` (asked for the values only) and `isin` hash, and on millions of distinct
64-bit codes (pair codes, NIKs, ID hashes) they take seconds where a sort takes milliseconds. On
this project's machine: `unique` of 3M distinct int64 5.4 s against 0.04 s; `isin` of 2,000
values in 3M 3.6 s against 0.03 s. The run's hot paths use these instead.
"""

from __future__ import annotations

import numpy as np


def unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique's result)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def isin(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Which of `values` are in `pool` (np.isin's result)."""
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    pool = np.sort(pool)
    return pool[np.minimum(np.searchsorted(pool, values), len(pool) - 1)] == values
