"""How a record is named and recognised: one definition for the whole package.

- `record_keys`: `SOURCE:RECORD_ID`, the name of a record in every output, in `explain`, in
  analysts' decisions and in labelled pairs. Source names cannot hold ':' (`SourceConfig.name`),
  so a key splits at its first colon (`split_key`).
- `FINGERPRINT_FIELDS` / `record_fingerprint`: a record's identifying fields as the source
  wrote them. A decision stores both records' fingerprints and stops applying when one changes.
- `stable_record_keys`: the key by which a record is recognised in the next run (person IDs),
  for sources without their own id the record's NIK or the same identifying fields.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .textcol import TEXT

# The record's identity as the source wrote it: raw values, not normalised ones, so that a change
# in the normalisation rules changes no fingerprint. Sex is part of it (a record whose sex is
# corrected may be someone else: the linkage weighs it). Fields and order are fixed: decisions
# stored in review.sqlite carry fingerprints made from them.
FINGERPRINT_FIELDS = ("nik_raw", "kk_raw", "name_raw", "birth_date_raw", "sex_raw", "address_raw")
FINGERPRINT_LENGTH = 16
_NULL = "\x00"
_SEP = "\x1f"


def record_keys(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    """`SOURCE:RECORD_ID` per row, from the columns `{prefix}source` and `{prefix}record_id`
    (`prefix="left_"` for the left side of a pair table). Arrow strings stay Arrow strings
    (joined by one compute kernel); other columns are made text first."""
    return _as_text(frame[f"{prefix}source"]) + ":" + _as_text(frame[f"{prefix}record_id"])


def _as_text(column: pd.Series) -> pd.Series:
    return column if column.dtype == TEXT else column.astype(str)


def split_key(key: str) -> tuple[str, str] | None:
    """(source, record_id) of `SOURCE:RECORD_ID`, or None when `key` is not one (no colon, or an
    empty side)."""
    source, sep, record_id = key.partition(":")
    return (source, record_id) if sep and source and record_id else None


def _text(records: pd.DataFrame, field: str) -> np.ndarray:
    if field not in records.columns:
        return np.full(len(records), _NULL, dtype=object)
    return records[field].astype("string").fillna(_NULL).to_numpy(dtype=object)


def record_fingerprint(records: pd.DataFrame) -> pd.Series:
    """Per record: the first 16 hex digits of SHA-256 over its FINGERPRINT_FIELDS (a missing
    column counts as empty). Same values -> same fingerprint, whatever the frame's dtypes."""
    columns = [_text(records, f) for f in FINGERPRINT_FIELDS]
    digests = [
        hashlib.sha256(_SEP.join(values).encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH] for values in zip(*columns)
    ]
    return pd.Series(digests, index=records.index, dtype=object, name="fingerprint")


def stable_record_keys(records: pd.DataFrame, sources_with_ids: set[str]) -> pd.Series:
    """The key by which a record is recognised in the next run.

    A source's own id column is stable. A data row number is not: delete row 10 and every
    later row's number shifts. For sources without ids the key is the record's usable NIK, else
    a hash of its FINGERPRINT_FIELDS, so that deleting a row moves no one's ID. Both runs' keys
    are made by this function (the previous run's from its records.parquet), so the hash need
    not be the fingerprint's SHA-256: a vectorised one serves, at national scale.
    """
    source = records["source"].astype(str)
    own = source.isin(sources_with_ids).to_numpy()
    by_nik = ~own & records["nik"].notna().to_numpy()
    by_content = ~own & ~by_nik
    keys = np.empty(len(records), dtype=object)
    keys[own] = record_keys(records.loc[own, ["source", "record_id"]]).to_numpy()
    keys[by_nik] = (source[by_nik] + ":nik:" + records["nik"][by_nik].astype(str)).to_numpy()
    if by_content.any():
        raw = records[by_content].reindex(columns=list(FINGERPRINT_FIELDS)).astype(object).fillna("").astype(str)
        content = pd.util.hash_pandas_object(_joined(raw), index=False).to_numpy()
        keys[by_content] = (source[by_content] + ":fp:" + pd.Series(content, index=raw.index).map("{:016x}".format)).to_numpy()
    return pd.Series(keys, index=records.index)


def _joined(frame: pd.DataFrame) -> pd.Series:
    out = frame.iloc[:, 0]
    for col in frame.columns[1:]:
        out = out + _SEP + frame[col]
    return out
