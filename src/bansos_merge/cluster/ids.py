"""Stable person IDs across runs.

A cluster inherits the ID of the previous run's person it shares the most records with
(matched by source and record_id). When two clusters claim one old ID (a split), the larger
overlap keeps it; when a cluster holds records of several old IDs (a merge), it keeps the
one with the largest overlap and the others are retired. New people get an ID hashed from
their smallest record key, so the same inputs give the same IDs in a fresh output folder.
Every new ID, merge, split and removal is written to id_history.parquet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _hashed_ids(keys: pd.Series, taken: set[str]) -> pd.Series:
    """'P' + 16 hex digits of a stable 64-bit hash; rehashed with a salt on collision."""
    ids = pd.Series(index=keys.index, dtype=object)
    todo = keys
    salt = 0
    while len(todo):
        salted = todo if salt == 0 else todo + f"|{salt}"
        h = pd.util.hash_pandas_object(salted, index=False).to_numpy()
        cand = pd.Series(["P%016X" % v for v in h], index=todo.index)
        clash = cand.isin(taken) | cand.duplicated(keep="first")
        ids[cand.index[~clash]] = cand[~clash]
        taken |= set(cand[~clash])
        todo = todo[clash.to_numpy()]
        salt += 1
    return ids


def _greedy_inherit(overlap: pd.DataFrame) -> pd.DataFrame:
    """Each cluster takes its best old id not taken by a larger overlap; repeated until stable."""
    rem = overlap.sort_values(["n", "old", "label"], ascending=[False, True, True])
    taken = []
    while len(rem):
        best = rem.drop_duplicates("label").drop_duplicates("old")
        taken.append(best)
        rem = rem[~rem["label"].isin(best["label"]) & ~rem["old"].isin(best["old"])]
    return pd.concat(taken)[["label", "old"]] if taken else pd.DataFrame(columns=["label", "old"])


FINGERPRINT_FIELDS = ("name_raw", "birth_date_raw", "kk_raw", "address_raw", "nik_raw")


def stable_record_keys(records: pd.DataFrame, sources_with_ids: set[str]) -> pd.Series:
    """The key by which a record is recognised in the next run.

    A source's own id column is stable. A data row number is not: delete row 10 and every
    later row's number shifts. For sources without ids the key is the record's usable NIK, else
    a fingerprint of its raw identifying values, so that deleting a row moves no one's ID.
    """
    source = records["source"].astype(str)
    own = source.isin(sources_with_ids).to_numpy()
    by_nik = ~own & records["nik"].notna().to_numpy()
    by_content = ~own & ~by_nik
    keys = np.empty(len(records), dtype=object)
    keys[own] = (source[own] + ":" + records["record_id"][own].astype(str)).to_numpy()
    keys[by_nik] = (source[by_nik] + ":nik:" + records["nik"][by_nik].astype(str)).to_numpy()
    if by_content.any():
        raw = records[by_content].reindex(columns=list(FINGERPRINT_FIELDS)).astype(object).fillna("").astype(str)
        content = pd.util.hash_pandas_object(_joined(raw), index=False).to_numpy()
        keys[by_content] = (source[by_content] + ":fp:" + pd.Series(content, index=raw.index).map("{:016x}".format)).to_numpy()
    return pd.Series(keys, index=records.index)


def _joined(frame: pd.DataFrame) -> pd.Series:
    out = frame.iloc[:, 0]
    for col in frame.columns[1:]:
        out = out + "\x1f" + frame[col]
    return out


def assign_person_ids(
    records: pd.DataFrame | None,
    label: np.ndarray,
    previous: pd.DataFrame | None,
    run_id: str,
    known_ids: set[str],
    sources_with_ids: set[str] | None = None,
    keys: pd.Series | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """`records` has source and record_id; `previous` has source, record_id, person_id (or None).
    Records are recognised across runs by `source:record_id`; with `sources_with_ids`, by
    `stable_record_keys` instead (then both frames need the fingerprint columns and `nik`).
    `keys`: the records' keys worked out already (records kept on disk); `records` is then unused.

    Returns the person_id per record and the history rows (old_id, new_id, reason, run_id):
    `new` (no earlier id), `split` (some of old_id's records are now new_id; old_id lives on),
    `merged` (old_id is retired, its records are in new_id), `removed` (old_id's records are gone).
    """
    def keys_of(frame: pd.DataFrame) -> pd.Series:
        if sources_with_ids is None:
            return frame["source"].astype(str) + ":" + frame["record_id"].astype(str)
        return stable_record_keys(frame, sources_with_ids)

    keys = keys_of(records) if keys is None else keys
    frame = pd.DataFrame({"key": keys.to_numpy(dtype=object), "label": label})
    previous_ids: set[str] = set()
    overlap = pd.DataFrame({"label": pd.Series(dtype=np.int64), "old": pd.Series(dtype=object), "n": pd.Series(dtype=np.int64)})
    if previous is not None and len(previous):
        prev_keys = keys_of(previous)
        old = pd.Series(previous["person_id"].astype(str).to_numpy(), index=prev_keys.to_numpy())
        old = old[~old.index.duplicated()]
        previous_ids = set(old.unique())
        frame["old"] = frame["key"].map(old)
        overlap = frame.dropna(subset=["old"]).groupby(["label", "old"]).size().rename("n").reset_index()

    inherited = _greedy_inherit(overlap)
    # The smallest key of each cluster names it (one Arrow sort; a groupby min on strings is slow).
    order = pc.sort_indices(pa.array(frame["key"].to_numpy(dtype=object), pa.string())).to_numpy()
    labels, first = np.unique(label[order], return_index=True)
    clusters = pd.Series(frame["key"].to_numpy(dtype=object)[order[first]], index=labels, name="key")
    pid = pd.Series(index=clusters.index, dtype=object)
    pid[inherited["label"].to_numpy()] = inherited["old"].to_numpy()
    fresh = pid.isna()
    pid[fresh] = _hashed_ids(clusters[fresh], set(known_ids) | previous_ids).to_numpy()

    moved = overlap.assign(new=pid[overlap["label"]].to_numpy())
    moved = moved[moved["old"] != moved["new"]]
    history = pd.concat(
        [
            pd.DataFrame({"old_id": None, "new_id": pid[fresh & ~pid.index.isin(overlap["label"])], "reason": "new"}),
            pd.DataFrame(
                {
                    "old_id": moved["old"],
                    "new_id": moved["new"],
                    "reason": np.where(moved["old"].isin(inherited["old"]), "split", "merged"),
                }
            ),
            pd.DataFrame({"old_id": sorted(previous_ids - set(overlap["old"])), "new_id": None, "reason": "removed"}),
        ],
        ignore_index=True,
    )
    history["run_id"] = run_id
    return frame["label"].map(pid).to_numpy(), history
