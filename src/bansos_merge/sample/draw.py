"""Random draws and the small vectorised helpers the generator's modules share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def weighted_sample(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to `weights` (sorted)."""
    weights = np.asarray(weights, dtype=float)
    k = int(min(k, int((weights > 0).sum())))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=len(weights)) / weights
    return np.sort(np.argpartition(keys, k - 1)[:k])


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal strings of non-negative integers (object array)."""
    return pd.Series(np.asarray(values, dtype=np.int64)).astype(str).str.zfill(width).to_numpy(dtype=object)


def date_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) int arrays of a datetime64[D] array."""
    d = np.asarray(dates, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(int) + 1970
    m = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    return y, m, day


def make_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    months = (np.asarray(y) - 1970) * 12 + (np.asarray(m) - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]") + (np.asarray(d) - 1)
