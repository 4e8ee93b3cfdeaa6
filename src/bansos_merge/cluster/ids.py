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
from ..sorted_sets import isin


def _hashed_ids(keys: pd.Series, used: np.ndarray, id_key: bytes | None = None) -> np.ndarray:
    """'P' + 16 hex digits of a stable 64-bit hash (SipHash under `id_key`, see output_key.py;
    pandas' fixed key without one); rehashed with a salt on a clash with `used` (the hashes of
    the IDs already given, `id_hashes`) or with another key's.

    Worked on the hashes (an id and its hash are one-to-one), formatted once at the end: at
    national scale these are tens of millions of new ids."""
    hashes = np.zeros(len(keys), dtype=np.uint64)
    todo, where, salt = keys, np.arange(len(keys)), 0
    hash_key = DEFAULT_HASH_KEY if id_key is None else id_key[:8].hex()  # the 16 characters SipHash takes: 64 bits of key
    while len(todo):
        salted = todo if salt == 0 else todo + f"|{salt}"
        # categorize=False: the same hashes, without factorising millions of distinct keys first
        h = pd.util.hash_pandas_object(salted, index=False, categorize=False, hash_key=hash_key).to_numpy()
        clash = isin(h, used) | pd.Series(h).duplicated(keep="first").to_numpy()
        hashes[where[~clash]] = h[~clash]
        if clash.any():  # the few clashing keys are rehashed: checked against these too
            used = np.concatenate([used, h[~clash]])
        todo, where, salt = todo[clash], where[clash], salt + 1
    return _formatted(hashes)


_ID = re.compile(r"P[0-9A-F]{16}")
DEFAULT_HASH_KEY = "0123456789123456"  # pandas' own
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_HEX_VALUE = np.full(256, 0, dtype=np.uint64)
_HEX_VALUE[_HEX] = np.arange(16, dtype=np.uint64)
_IS_HEX = np.zeros(256, dtype=bool)
_IS_HEX[_HEX] = True


def _formatted(hashes: np.ndarray) -> np.ndarray:
    """uint64 -> 'P%016X' strings, vectorised."""
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    chars = np.empty((len(hashes), 17), dtype=np.uint8)
    chars[:, 0] = ord("P")
    chars[:, 1:] = _HEX[(hashes[:, None] >> shifts[None, :]) & np.uint64(0xF)]
    return chars.view("S17").ravel().astype("U17").astype(object)


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 64-bit hashes that IDs of the 'P' + 16 hex digits form stand for (`_formatted`'s
    inverse, vectorised over the Arrow bytes). Other IDs (an older format) cannot clash with a new
    one and are left out."""
    ids = pc.unique(pc.drop_null(ids.cast(pa.string())))
    arr = ids.filter(pc.and_(pc.equal(pc.binary_length(ids), 17), pc.starts_with(ids, "P")))
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    chars = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 17)[:, 1:]
    hashes, is_hex = np.zeros(len(chars), dtype=np.uint64), np.ones(len(chars), dtype=bool)
    for k in range(16):  # a digit at a time: no (n, 16) uint64 temporaries
        hashes = (hashes << np.uint64(4)) | _HEX_VALUE[chars[:, k]]
        is_hex &= _IS_HEX[chars[:, k]]
    return hashes[is_hex]


def _first_rows(x: np.ndarray) -> np.ndarray:
    """The position of each distinct value's first entry, by value (a stable sort: numpy's
    unique with return_index hashes, several times slower on millions of ints)."""
    order = np.argsort(x, kind="stable")
    return order[np.flatnonzero(np.r_[True, x[order][1:] != x[order][:-1]])] if len(x) else order


def _first(x: np.ndarray) -> np.ndarray:
    """Which entries are the first of their value, in array order."""
    first = np.zeros(len(x), dtype=bool)
    first[_first_rows(x)] = True
    return first


def _greedy_inherit(label: np.ndarray, old: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cluster, old id code) pairs: each cluster takes its best old id not taken by a larger
    overlap (ties: the smaller old id, then the smaller cluster); repeated until stable."""
    order = np.lexsort((label, old, -n))
    label, old = label[order], old[order]
    taken = []
    while len(label):
        best = np.flatnonzero(_first(label))
        best = best[_first(old[best])]
        taken.append(best_pairs := (label[best], old[best]))
        keep = ~isin(label, best_pairs[0]) & ~isin(old, best_pairs[1])
        label, old = label[keep], old[keep]
    if not taken:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate([t[0] for t in taken]), np.concatenate([t[1] for t in taken])


def assign_person_ids(
    records: pd.DataFrame | None,
    label: np.ndarray,
    previous: pd.DataFrame | None,
    run_id: str,
    known_ids: set[str] | pa.Array | pa.ChunkedArray,
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
    key_array = _strings(keys)
    # Previous person IDs as codes into their sorted distinct values (ties go to the smaller ID).
    old_ids, old_hashes = np.zeros(0, dtype=object), np.zeros(0, dtype=np.uint64)
    overlap_label = overlap_old = overlap_n = np.zeros(0, dtype=np.int64)
    if previous is not None and len(previous):
        prev_keys = pc.dictionary_encode(_strings(keys_of(previous)))
        first_row = _first_rows(prev_keys.indices.to_numpy(zero_copy_only=False))  # per distinct key, its first row
        person = pc.dictionary_encode(_strings(previous["person_id"]).take(pa.array(first_row)))
        rank = np.argsort(pc.array_sort_indices(person.dictionary).to_numpy())
        old_ids = np.asarray(person.dictionary.to_numpy(zero_copy_only=False), dtype=object)[np.argsort(rank)]
        old_code = rank[person.indices.to_numpy(zero_copy_only=False)]  # per distinct previous key
        old_hashes = id_hashes(person.dictionary)
        at = pc.fill_null(pc.index_in(key_array, value_set=prev_keys.dictionary), -1).to_numpy()
        hit = at >= 0
        pair = label[hit].astype(np.int64) * len(old_ids) + old_code[at[hit]]
        pair.sort()
        start = np.flatnonzero(np.diff(pair, prepend=-1) != 0)  # pairs are >= 0; none when no key recurs
        overlap_n = np.diff(np.r_[start, len(pair)])
        overlap_label, overlap_old = pair[start] // len(old_ids), pair[start] % len(old_ids)

    inherited_label, inherited_old = _greedy_inherit(overlap_label, overlap_old, overlap_n)
    # The smallest key of each cluster names it (one Arrow sort; a groupby min on strings is slow).
    order = pc.sort_indices(key_array).to_numpy()
    first = _first_rows(label[order])
    labels = label[order][first]
    smallest = key_array.take(pa.array(order[first]))
    pid = np.full(len(labels), None, dtype=object)  # per cluster, in `labels` order
    pid[np.searchsorted(labels, inherited_label)] = old_ids[inherited_old]
    fresh = pd.isna(pid)
    smallest = pd.Series(pd.arrays.ArrowExtensionArray(smallest.filter(pa.array(fresh))))
    given = known_ids if isinstance(known_ids, (pa.Array, pa.ChunkedArray)) else pa.array(list(known_ids), pa.string())
    pid[fresh] = _hashed_ids(smallest, np.concatenate([id_hashes(given), old_hashes]), id_key)

    new_of_overlap = pid[np.searchsorted(labels, overlap_label)]
    moved = old_ids[overlap_old] != new_of_overlap
    moved_old, moved_new = old_ids[overlap_old[moved]], new_of_overlap[moved]
    kept = np.zeros(len(old_ids), dtype=bool)
    kept[inherited_old] = True
    # Built column-wise: a concat of frames checks an all-None column value by value.
    new = pid[fresh & ~isin(labels, overlap_label)]
    present = np.zeros(len(old_ids), dtype=bool)
    present[overlap_old] = True
    removed = old_ids[~present]
    none = np.full(len(new), None, dtype=object), np.full(len(removed), None, dtype=object)
    history = pd.DataFrame(
        {
            "old_id": np.concatenate([none[0], moved_old, removed]),
            "new_id": np.concatenate([new, moved_new, none[1]]),
            "reason": np.concatenate(
                [
                    np.full(len(new), "new", dtype=object),
                    np.where(kept[overlap_old[moved]], "split", "merged").astype(object),
                    np.full(len(removed), "removed", dtype=object),
                ]
            ),
        }
    )
    history["run_id"] = run_id
    return pid[np.searchsorted(labels, label)], history


def _strings(values: pd.Series) -> pa.Array:
    """A text column as one Arrow string array (Arrow-backed columns without a copy to objects)."""
    if isinstance(values.dtype, pd.ArrowDtype):
        array = pa.array(values.array)
        return (array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array).cast(pa.string())
    return pa.array(values.to_numpy(dtype=object), pa.string())
