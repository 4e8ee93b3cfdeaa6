"""Checks that need every source at once, done after each source is normalised."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mark_kk_pasted_as_nik(records: pd.DataFrame, kks: pd.Series | None = None) -> pd.DataFrame:
    """A NIK equal to some family card number anywhere in the data is a KK in the wrong column.

    Per source only the same row's KK can be checked; across sources, a list without a KK
    column still gets caught when another list carries that card. `kks`: every family card
    number of the run, when `records` is only a part of it (default: the records' own).
    """
    kks = records["kk"].dropna() if kks is None else kks
    hit = records["nik"].isin(kks).to_numpy(dtype=bool) & (records["nik_status"] != "kk_as_nik").to_numpy(dtype=bool)
    if not hit.any():
        return records
    out = records.copy()
    out.loc[hit, "nik_status"] = "kk_as_nik"
    out.loc[hit, ["nik", "nik_serial", "nik_sex", "nik_birth_date"]] = None
    flags = out.loc[hit, "flags"]
    out.loc[hit, "flags"] = pd.Series([list(f) + ["nik_kk_pasted"] for f in flags], index=flags.index, dtype=out["flags"].dtype)
    return out
