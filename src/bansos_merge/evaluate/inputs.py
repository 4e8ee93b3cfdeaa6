"""What evaluation reads: the run folder, the truth folder, labelled pairs.

Every reader fails with one UserError naming the file and the missing column, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from ..identity import record_keys, split_key
from ..publish.formula import FORMULA_START


def resolve_run_dir(path: str | Path) -> Path:
    """The run folder: ``path/latest`` when the output dir has one, else ``path`` itself."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: run folder not found")
    latest = path / "latest"
    if latest.is_dir():
        path = latest
    elif latest.is_file():  # a pointer file naming the run folder
        target = path / latest.read_text(encoding="utf-8").strip()
        if not target.is_dir():
            raise UserError(f"{latest}: points to {target}, which is not a folder")
        path = target
    if not (path / "records.parquet").is_file():
        raise UserError(f"{path}: no records.parquet here; give a run folder, or an output folder holding latest/")
    return path


def resolve_truth_dir(path: str | Path) -> Path:
    """The truth folder: ``path`` itself if it holds rows.parquet, else ``path/truth``."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: truth folder not found")
    for candidate in (path, path / "truth"):
        if (candidate / "rows.parquet").is_file():
            return candidate
    raise UserError(f"{path}: no rows.parquet here nor in {path / 'truth'}; give the sample folder or its truth/")


def read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of a Parquet file; a clear UserError when the file or a column is missing."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(names)})")
        return pq.read_table(path, columns=columns).to_pandas()
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"{path}: not a readable Parquet file: {e}") from None


def with_key(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with a column ``key``: SOURCE:RECORD_ID."""
    df["key"] = record_keys(df)
    return df


def unprefixed(keys: pd.Series) -> pd.Series:
    """Keys as written before an export guarded them for spreadsheets (publish/formula.py)."""
    guarded = keys.str.startswith("'") & keys.str[1:2].isin(list(FORMULA_START))
    return keys.where(~guarded, keys.str[1:])


def read_labels(path: str | Path) -> pd.DataFrame:
    """Labelled pairs (CSV, or Parquet by suffix) as columns ``left``, ``right``, ``decision``.

    ``left``/``right`` are keys ``SOURCE:RECORD_ID``; ``decision`` is lower-cased and stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: labels file not found")
    columns = ["left", "right", "decision"]
    if path.suffix.lower() in (".parquet", ".pq"):
        df = read_columns(path, columns)
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise UserError(f"{path}: cannot read labels CSV: {e}") from None
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(df.columns)})")
        df = df[columns]
    df = df.astype(object).where(df.notna(), "").astype(str)
    for side in ("left", "right"):
        df[side] = unprefixed(df[side].str.strip())
        bad = df[side].map(split_key).isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise UserError(
                f"{path}: row {row}, column '{side}': {df[side].iloc[row - 1]!r} is not SOURCE:RECORD_ID"
            )
    df["decision"] = df["decision"].str.strip().str.lower()
    return df
