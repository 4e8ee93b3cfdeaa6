"""Blocking, comparison and scoring sharded on Dask: the records' link features shuffled by
each blocking key's hash into buckets, each bucket making, comparing and scoring its own pairs.

Per pass of BLOCKING (link/blocking.py), on the workers:

  route    each partition of the link-feature table (link/feature_table.py) computes its
           records' keys for the pass and sends a record to the bucket of each key's hash
           (a record under several name tokens, or NIK edits, may go to several buckets)
  bucket   a bucket holds every record of each key routed to it, so its blocks are whole: it
           makes their pairs with the pass's own code and cap, leaves out the pairs the civil
           registry keeps apart, and compares the rest (link/comparisons.py)

Then the pairs of all passes are shuffled by the pair and kept once, with the first pass
that found them, and scored with the model (link/model.py). A pair lives in the bucket of the
key it shares, wherever its records were read, so a person who moved is found as locally.
The driver gathers the per-pass counts; pairs, features and the apart pairs stay on the workers.

Hashes only route: within a bucket the keys are made again, exactly, from the records' values
(a collision sends two keys to one bucket, and nothing else). So a bucket's blocks, pairs and
capped blocks are exactly the local run's (blocking.candidate_pairs).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .blocking import (
    BLOCKING,
    DEFAULT_MAX_BLOCK,
    BlockingPass,
    BlockingReport,
    _one_edit_pairs,
    combine_keys,
    combined_key,
    derived_columns,
    key_codes,
    one_edit_keys,
    pairs_from_key,
    pass_columns,
    registry_apart,
    token_rows,
)
from .comparisons import COMPARISONS, compare_pairs
from .feature_table import ROW, TF, from_table
from .features import MISSING, LinkFrame, Strings
from .model import FSModel, score_pairs

BUCKET = "_bucket"
LEVELS = [c.name for c in COMPARISONS]


def _hash(values: np.ndarray) -> np.ndarray:
    """A value's routing hash, non-negative int64 (the same on every worker and run)."""
    return (pd.util.hash_array(np.asarray(values)) >> np.uint64(2)).astype(np.int64)


def _hash_rows(columns: list[np.ndarray]) -> np.ndarray:
    """One hash per row of several int columns; MISSING where any is missing."""
    missing = np.zeros(len(columns[0]), dtype=bool)
    for c in columns:
        missing |= c < 0
    combined = pd.util.hash_pandas_object(pd.DataFrame({str(i): c for i, c in enumerate(columns)}), index=False)
    return np.where(missing, MISSING, (combined.to_numpy() >> np.uint64(2)).astype(np.int64))


def _hashed_text(s: Strings) -> Strings:
    """`s` with each code replaced by its value's hash, for computing routes by value."""
    if len(s.values) == 0:
        return s
    return Strings(np.where(s.codes >= 0, _hash(s.values.astype(object))[np.maximum(s.codes, 0)], MISSING), s.values)


def _by_value(f: LinkFrame, p: BlockingPass) -> LinkFrame:
    """`f` with the text columns of the pass's key (and of the derived place) coded by value
    hash: what its derived columns and keys hold is then the same on every worker."""
    text = {fld.name for fld in fields(LinkFrame) if fld.type in ("Strings", Strings)}
    return replace(f, **{name: _hashed_text(getattr(f, name)) for name in text & {*p.key.columns, "village_text"}})


@dataclass
class _KeyRows:
    rows: np.ndarray | None  # the record of each key row (None: row i is record i)
    key: np.ndarray  # the pass's exact key, coded locally (MISSING: no key)
    route: np.ndarray  # the key's hash by value (MISSING where `key` is)


def _key_rows(f: LinkFrame, p: BlockingPass) -> _KeyRows:
    """A `same` or `token` pass's key rows of `f`, each exactly and by value."""
    local = pass_columns(f, derived_columns(f), p)
    valued = _by_value(f, p)
    hashed = [key_codes(c) for c in pass_columns(valued, derived_columns(valued), p)]
    if p.key.kind == "same":
        return _KeyRows(None, combined_key(local), _hash_rows(hashed))
    other = combined_key(local[1:])
    rec, at, tokens = token_rows(local[0], other)
    token_codes = pd.factorize(tokens)[0].astype(np.int64)
    key = combine_keys(token_codes[at], other[rec])
    route = _hash_rows([_hash(tokens.astype(object))[at] if len(tokens) else np.empty(0, np.int64), _hash_rows(hashed[1:])[rec]])
    return _KeyRows(rec, key, route)


def _routes(f: LinkFrame, p: BlockingPass) -> tuple[np.ndarray, np.ndarray]:
    """(record, route) of each of the pass's key rows that has a key."""
    if p.key.kind == "one_edit":
        numbers = key_codes(pass_columns(f, {}, p)[0])
        has = np.flatnonzero(numbers >= 0)
        keys = one_edit_keys(numbers[has])
        return np.tile(has, len(keys)), _hash(np.concatenate(keys)) if keys and len(has) else np.empty(0, np.int64)
    rows = _key_rows(f, p)
    records = np.arange(f.n) if rows.rows is None else rows.rows
    present = rows.route >= 0
    return records[present], rows.route[present]


def route_part(table: pd.DataFrame, pass_no: int, buckets: int) -> pd.DataFrame:
    """A partition's records, once per bucket that one of their keys for the pass goes to."""
    p = BLOCKING[pass_no]
    records, route = _routes(from_table(table, {*p.key.columns, "village_text"}), p)
    sent = pd.DataFrame({"r": records, BUCKET: route % buckets}).drop_duplicates()
    return table.iloc[sent["r"].to_numpy()].assign(**{BUCKET: sent[BUCKET].to_numpy()})


def pairs_meta() -> pd.DataFrame:
    """The columns of a bucket's compared pairs."""
    out = {"left": pd.Series(dtype=np.int64), "right": pd.Series(dtype=np.int64), "pass": pd.Series(dtype=np.int8)}
    out.update({name: pd.Series(dtype=np.int8) for name in LEVELS})
    out.update({name: pd.Series(dtype=np.float64) for name in TF.values()})
    return pd.DataFrame(out)


def _bucket_pairs(f: LinkFrame, p: BlockingPass, cap: int, buckets: int, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The pass's pairs (local positions) of the keys routed to the buckets `mine`."""
    if p.key.kind == "one_edit":
        return _one_edit_pairs(key_codes(pass_columns(f, {}, p)[0]), cap, keep=lambda key: np.isin(_hash(key) % buckets, mine))
    rows = _key_rows(f, p)
    key = np.where((rows.route >= 0) & np.isin(rows.route % buckets, mine), rows.key, MISSING)
    return pairs_from_key(key, cap, rows.rows)


def bucket_pass(table: pd.DataFrame, pass_no: int, buckets: int, max_block: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A shuffled partition (one or more whole buckets) -> its compared pairs (left < right as
    positions in the run), the pairs the registry keeps apart, and the pass's counts here."""
    p = BLOCKING[pass_no]
    mine = np.unique(table[BUCKET].to_numpy())
    table = table.drop(columns=BUCKET).drop_duplicates(ROW)  # a record sent here under two keys
    f, row = from_table(table), table[ROW].to_numpy()
    a, b, blocks_skipped, rows_skipped = _bucket_pairs(f, p, p.cap or max_block, buckets, mine)
    # Oriented as the run orients them (left: the smaller position in the run).
    a, b = np.where(row[a] < row[b], a, b), np.where(row[a] < row[b], b, a)
    apart = registry_apart(f, a, b)
    counts = {"registry_apart_skipped": int(apart.sum()), "blocks_skipped": blocks_skipped, "rows_in_skipped_blocks": rows_skipped}
    apart_pairs = pd.DataFrame({"left": row[a[apart]], "right": row[b[apart]]})
    kept = pd.DataFrame({"a": a[~apart], "b": b[~apart]}).drop_duplicates()  # a pair under two of its tokens
    a, b = kept["a"].to_numpy(), kept["b"].to_numpy()
    gamma = compare_pairs(f, a, b)
    out = {"left": row[a], "right": row[b], "pass": np.full(len(a), pass_no, np.int8)}
    out.update({name: gamma[:, k] for k, name in enumerate(LEVELS)})
    out.update({name: np.maximum(table[name].to_numpy()[a], table[name].to_numpy()[b]) for name in TF.values()})
    return pd.DataFrame(out).astype(pairs_meta().dtypes.to_dict()), apart_pairs, counts


def _first_pass(pairs: pd.DataFrame) -> pd.DataFrame:
    """Every pair of a partition (all copies of a pair are in it) once, with the first pass that
    found it (`pass`) and every pass that did (`found`, a bit per pass)."""
    pairs = pairs.sort_values(["left", "right", "pass"], kind="stable")
    bits = np.left_shift(np.int64(1), pairs["pass"].to_numpy().astype(np.int64))
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    first = np.r_[True, (left[1:] != left[:-1]) | (right[1:] != right[:-1])][: len(pairs)]  # none when empty
    group = np.cumsum(first) - 1
    found = np.zeros(int(first.sum()), dtype=np.int64)
    np.bitwise_or.at(found, group, bits)
    return pairs[first].assign(found=found)


def _pass_counts(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pass, the distinct pairs it found and those it found first, in this partition."""
    found, first = pairs["found"].to_numpy(), pairs["pass"].to_numpy()
    return pd.DataFrame(
        {
            "pairs": [int(np.count_nonzero(found & (1 << k))) for k in range(len(BLOCKING))],
            "new_pairs": np.bincount(first.astype(np.int64), minlength=len(BLOCKING)),
        }
    )


def sharded_candidates(table: dd.DataFrame, max_block: int = DEFAULT_MAX_BLOCK, buckets: int | None = None) -> tuple[dd.DataFrame, BlockingReport]:
    """The candidate pairs of the records in `table` (one row per record, link/feature_table.py,
    with `nik_registered` and the term frequencies of the whole run: `with_run_columns`), each
    once with its first pass, compared; and the blocking report, as blocking.candidate_pairs
    makes them. The pairs stay on the workers (persisted); the driver gets the counts."""
    buckets = buckets or table.npartitions
    table = table.persist()  # on the workers once, not once in every pass's task graph
    found, apart, counts = [], [], []
    for pass_no in range(len(BLOCKING)):
        routed = table.map_partitions(route_part, pass_no, buckets, meta=table._meta.assign(**{BUCKET: np.int64(0)}))
        shuffled = routed.shuffle(BUCKET, npartitions=buckets)
        for part in shuffled.to_delayed():
            pairs, skipped, count = dask.delayed(bucket_pass, nout=3)(part, pass_no, buckets, max_block)
            found.append(pairs)
            apart.append(skipped)
            counts.append(count)
    persisted = dask.persist(*found, *apart, *counts)
    found, apart, counts = persisted[: len(found)], persisted[len(found) : 2 * len(found)], persisted[2 * len(found) :]
    pairs = dd.from_delayed(list(found), meta=pairs_meta(), verify_meta=False).shuffle(["left", "right"], npartitions=buckets)
    pairs = pairs.map_partitions(_first_pass, meta=pairs_meta().assign(found=np.int64(0))).persist()
    apart_pairs = dd.from_delayed(list(apart), meta=pd.DataFrame({"left": pd.Series(dtype=np.int64), "right": pd.Series(dtype=np.int64)}))
    (per_bucket,) = dask.compute(list(counts))
    per_pass, apart_distinct = dask.compute(
        pairs.map_partitions(_pass_counts, meta=pd.DataFrame({"pairs": [0], "new_pairs": [0]})), apart_pairs.drop_duplicates().shape[0]
    )
    totals = per_pass.groupby(level=0).sum() if len(per_pass) else pd.DataFrame({"pairs": [0] * len(BLOCKING), "new_pairs": [0] * len(BLOCKING)})
    report = []
    for pass_no, p in enumerate(BLOCKING):
        mine = per_bucket[pass_no * buckets : (pass_no + 1) * buckets]
        entry = {"pass": p.name, "pairs": int(totals["pairs"].iloc[pass_no])}
        entry.update({k: int(sum(c[k] for c in mine)) for k in ("registry_apart_skipped", "blocks_skipped", "rows_in_skipped_blocks")})
        entry["new_pairs"] = int(totals["new_pairs"].iloc[pass_no])
        report.append(entry)
    return pairs.drop(columns="found"), BlockingReport(report, int(apart_distinct))


def score_part(pairs: pd.DataFrame, model: FSModel) -> pd.DataFrame:
    """A partition of compared pairs scored, in the columns linker.score_candidates gives."""
    gamma = pairs[LEVELS].to_numpy(dtype=np.int8)
    tf = {comparison: pairs[name].to_numpy(dtype=np.float64) for comparison, name in TF.items()}
    at = np.arange(len(pairs))  # each pair's term frequencies are already the larger of its two records'
    scores = score_pairs(model, gamma, tf, at, at)
    out = pairs[["left", "right", "pass"]].copy()
    out["weight"] = scores.total
    for k, c in enumerate(COMPARISONS):
        out[c.name] = gamma[:, k]
        out[f"w_{c.name}"] = scores.contributions[:, k]
    return out


def score(pairs: dd.DataFrame, model: FSModel) -> dd.DataFrame:
    """The compared pairs scored with `model`, on the workers."""
    return pairs.map_partitions(score_part, model, meta=score_part(pairs._meta, model))


# Per term-frequency column, the table column whose value it counts.
TF_OF = {TF["name"]: "name", TF["birth_date"]: "birth_date", TF["mother_name"]: "mother"}


def with_run_columns(table: dd.DataFrame) -> dd.DataFrame:
    """The link-feature table with the columns that need every record, computed on the
    workers with joins: `nik_registered` (a civil-registry record holds the NIK) and the term
    frequencies (model.link_term_frequencies: the share of the records holding a value among
    those holding one)."""
    table = table.drop(columns=[c for c in ["nik_registered", *TF_OF] if c in table.columns])
    registered = table[table["civil"] & (table["nik"] >= 0)][["nik"]].drop_duplicates().assign(held=np.int8(1))
    out = table.merge(registered, on="nik", how="left")
    out = out.assign(nik_registered=out["held"].notnull() & (out["nik"] >= 0)).drop(columns="held")
    for name, column in TF_OF.items():
        held = table[column].notnull() if table[column].dtype.kind not in "iu" else table[column] >= 0
        counts = table[held].groupby(column).size().rename(f"{name}_count").reset_index()
        out = out.merge(counts, on=column, how="left")
        total = held.sum()
        # A value nobody else holds is no NaN: a record without a value has no count (share 0).
        out = out.assign(**{name: (out[f"{name}_count"] / total).fillna(0.0).astype(np.float64)}).drop(columns=f"{name}_count")
    return out
