"""Garbage rows in an extract, where each format has them: the rows a reader must reject."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rates import CorruptionRates


def _garbage_row(df: pd.DataFrame, kind: str, like: pd.Series | None = None) -> dict:
    row = {c: "" for c in df.columns}
    row.update(person=-1, garbage=kind, birth_date=np.datetime64("NaT"), duplicate=False, moved=False, hh_size=0)
    if like is not None and kind == "no_name_no_nik":  # region and programme kept, person gone
        for c in ("province_code", "regency_code", "district_code", "village_code", "program", "rt", "rw"):
            row[c] = like[c]
    return row


def _insert(df: pd.DataFrame, positions: list[int], rows: list[dict]) -> pd.DataFrame:
    """Insert rows before the given 0-based positions of df (positions in df's numbering)."""
    if not rows:
        return df
    g = pd.DataFrame(rows, columns=df.columns).astype(df.dtypes.to_dict())
    order_key = np.concatenate([np.arange(len(df), dtype=float), np.asarray(positions, dtype=float) - 0.5])
    tie = np.concatenate([np.zeros(len(df)), np.arange(1, len(rows) + 1) / (len(rows) + 2)])
    out = pd.concat([df, g], ignore_index=True)
    out = out.iloc[np.lexsort((tie, order_key))].reset_index(drop=True)
    out["person"] = out["person"].astype(np.int64)
    return out


def add_garbage(rng: np.random.Generator, df: pd.DataFrame, fmt: str, rates: CorruptionRates) -> pd.DataFrame:
    """The extract's rows with the garbage rows its format carries: rows without name and NIK
    (Kemensos exports), blank and totals rows at the end (regional Excel), a header repeated
    every 700 rows (a CSV glued from pages)."""
    n = len(df)
    if fmt in ("dtks_xlsx", "bpnt_csv"):
        k = max(1, rng.binomial(n, rates.no_name_no_nik)) if rates.no_name_no_nik > 0 else 0
        pos = sorted(rng.integers(1, max(2, n), k).tolist())
        return _insert(df, pos, [_garbage_row(df, "no_name_no_nik", df.iloc[min(p, n - 1)]) for p in pos])
    if fmt == "bnba_xlsx":
        tail = [_garbage_row(df, "no_name_no_nik", df.iloc[-1]) for _ in range(int(rng.integers(1, 4)))]
        tail += [_garbage_row(df, "blank"), _garbage_row(df, "totals")]
        return _insert(df, [n] * len(tail), tail)
    if fmt == "latin1_csv":
        breaks = list(range(700, n, 700)) or [max(1, n // 2)]
        pos, rows = [], []
        for b in breaks:
            pos += [b, b]
            rows += [_garbage_row(df, "blank"), _garbage_row(df, "header_repeat")]
        pos.append(n)
        rows.append(_garbage_row(df, "totals"))
        return _insert(df, pos, rows)
    return df
