"""Stable person IDs across runs.

A cluster inherits the ID of the previous run's person it shares the most records with
(matched by source and record_id). When two clusters claim one old ID (a split), the larger
overlap keeps it; when a cluster holds records of several old IDs (a merge), it keeps the
one with the largest overlap and the others are retired. New people get an ID hashed from
their smallest record key under the output folder's key (output_key.py: a record key may hold
a NIK, which an unkeyed hash would give away), so the same inputs give the same IDs wherever
the folder's key goes with them.
Every new ID, merge, split and removal is written to id_history.parquet.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..identity import record_keys, stable_record_keys


def _hashed_ids(keys: pd.Series, taken: set[str], id_key: bytes | None = None) -> np.ndarray:
    """'P' + 16 hex digits of a stable 64-bit hash (SipHash under `id_key`, see output_key.py;
    pandas' fixed key without one); rehashed with a salt on collision.

    Worked on the hashes (an id and its hash are one-to-one), formatted once at the end: at
    national scale these are tens of millions of new ids."""
    used = np.unique(np.array([int(t[1:], 16) for t in taken if _ID.fullmatch(t)], dtype=np.uint64))
    hashes = np.zeros(len(keys), dtype=np.uint64)
    todo, where, salt = keys, np.arange(len(keys)), 0
    hash_key = DEFAULT_HASH_KEY if id_key is None else id_key[:8].hex()  # the 16 characters SipHash takes: 64 bits of key
    while len(todo):
        salted = todo if salt == 0 else todo + f"|{salt}"
        # categorize=False: the same hashes, without factorising millions of distinct keys first
        h = pd.util.hash_pandas_object(salted, index=False, categorize=False, hash_key=hash_key).to_numpy()
        clash = np.isin(h, used) | pd.Series(h).duplicated(keep="first").to_numpy()
        hashes[where[~clash]] = h[~clash]
        if clash.any():  # the few clashing keys are rehashed: checked against these with isin, unsorted
            used = np.concatenate([used, h[~clash]])
        todo, where, salt = todo[clash], where[clash], salt + 1
    return _formatted(hashes)


_ID = re.compile(r"P[0-9A-F]{16}")
DEFAULT_HASH_KEY = "0123456789123456"  # pandas' own
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def _formatted(hashes: np.ndarray) -> np.ndarray:
    """uint64 -> 'P%016X' strings, vectorised."""
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    chars = np.empty((len(hashes), 17), dtype=np.uint8)
    chars[:, 0] = ord("P")
    chars[:, 1:] = _HEX[(hashes[:, None] >> shifts[None, :]) & np.uint64(0xF)]
    return chars.view("S17").ravel().astype("U17").astype(object)


def _greedy_inherit(overlap: pd.DataFrame) -> pd.DataFrame:
    """Each cluster takes its best old id not taken by a larger overlap; repeated until stable."""
    rem = overlap.sort_values(["n", "old", "label"], ascending=[False, True, True])
    taken = []
    while len(rem):
        best = rem.drop_duplicates("label").drop_duplicates("old")
        taken.append(best)
        rem = rem[~rem["label"].isin(best["label"]) & ~rem["old"].isin(best["old"])]
    return pd.concat(taken)[["label", "old"]] if taken else pd.DataFrame(columns=["label", "old"])


def assign_person_ids(
    records: pd.DataFrame | None,
    label: np.ndarray,
    previous: pd.DataFrame | None,
    run_id: str,
    known_ids: set[str],
    sources_with_ids: set[str] | None = None,
    keys: pd.Series | None = None,
    id_key: bytes | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """`records` has source and record_id; `previous` has source, record_id, person_id (or None).
    Records are recognised across runs by `source:record_id`; with `sources_with_ids`, by
    `identity.stable_record_keys` instead (then both frames need the fingerprint columns and `nik`).
    `keys`: the records' keys worked out already (records kept on disk); `records` is then unused.
    `id_key`: the key new IDs are hashed under (output_key.py: the output folder's).

    Returns the person_id per record and the history rows (old_id, new_id, reason, run_id):
    `new` (no earlier id), `split` (some of old_id's records are now new_id; old_id lives on),
    `merged` (old_id is retired, its records are in new_id), `removed` (old_id's records are gone).
    """
    def keys_of(frame: pd.DataFrame) -> pd.Series:
        if sources_with_ids is None:
            return record_keys(frame)
        return stable_record_keys(frame, sources_with_ids)

    keys = keys_of(records) if keys is None else keys
    key_array = pa.array(keys.array if isinstance(keys.dtype, pd.ArrowDtype) else keys.to_numpy(dtype=object), pa.string())
    previous_ids: set[str] = set()
    overlap = pd.DataFrame({"label": pd.Series(dtype=np.int64), "old": pd.Series(dtype=object), "n": pd.Series(dtype=np.int64)})
    if previous is not None and len(previous):
        prev_keys = keys_of(previous)
        old = pd.Series(previous["person_id"].astype(str).to_numpy(), index=prev_keys.to_numpy())
        old = old[~old.index.duplicated()]
        previous_ids = set(old.unique())
        at = pc.fill_null(pc.index_in(key_array, value_set=pa.array(old.index.to_numpy(dtype=object), pa.string())), -1).to_numpy()
        hit = at >= 0
        matched = pd.DataFrame({"label": label[hit], "old": old.to_numpy()[at[hit]]})
        overlap = matched.groupby(["label", "old"]).size().rename("n").reset_index()

    inherited = _greedy_inherit(overlap)
    # The smallest key of each cluster names it (one Arrow sort; a groupby min on strings is slow).
    order = pc.sort_indices(key_array).to_numpy()
    labels, first = np.unique(label[order], return_index=True)
    smallest = key_array.take(pa.array(order[first]))
    pid = np.full(len(labels), None, dtype=object)  # per cluster, in `labels` order
    pid[np.searchsorted(labels, inherited["label"].to_numpy(dtype=np.int64))] = inherited["old"].to_numpy()
    fresh = pd.isna(pid)
    smallest = pd.Series(pd.arrays.ArrowExtensionArray(smallest.filter(pa.array(fresh))))
    pid[fresh] = _hashed_ids(smallest, set(known_ids) | previous_ids, id_key)

    moved = overlap.assign(new=pid[np.searchsorted(labels, overlap["label"].to_numpy(dtype=np.int64))])
    moved = moved[moved["old"] != moved["new"]]
    # Built column-wise: a concat of frames checks an all-None column value by value.
    new = pid[fresh & ~np.isin(labels, overlap["label"].to_numpy(dtype=np.int64))]
    removed = sorted(previous_ids - set(overlap["old"]))
    none = np.full(len(new), None, dtype=object), np.full(len(removed), None, dtype=object)
    history = pd.DataFrame(
        {
            "old_id": np.concatenate([none[0], moved["old"].to_numpy(dtype=object), np.array(removed, dtype=object)]),
            "new_id": np.concatenate([new, moved["new"].to_numpy(dtype=object), none[1]]),
            "reason": np.concatenate(
                [
                    np.full(len(new), "new", dtype=object),
                    np.where(moved["old"].isin(inherited["old"]), "split", "merged").astype(object),
                    np.full(len(removed), "removed", dtype=object),
                ]
            ),
        }
    )
    history["run_id"] = run_id
    return pid[np.searchsorted(labels, label)], history
