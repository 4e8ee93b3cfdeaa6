"""Blocking: which record pairs are worth comparing, in several passes.

Each pass groups records by an integer key and pairs the members of each group, so true
pairs are found even when one field is wrong: a NIK typo is caught by the name passes, a
name typo by the NIK passes, a missing NIK by name + birth date or birth date + district.
Groups larger than a pass's cap (`max_block` unless the pass sets its own) are not expanded
(a key that common is no evidence) and are counted in the report, so a user sees what blocking
skipped as well as what it cost.

The passes are a table (`BLOCKING`: name, key, cap), recorded in model.json beside the
comparisons. A key is one of a few kinds (`KEY_KINDS`) over named columns of the link frame,
or of the few columns blocking derives from them (`DERIVED`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..sorted_sets import unique
from .features import MISSING, LinkFrame, Strings, digit_matrix

DEFAULT_MAX_BLOCK = 200


@dataclass
class BlockingReport:
    passes: list[dict]
    registry_apart: int = 0  # distinct pairs skipped because the civil registry keeps them apart

    def as_dict(self) -> list[dict]:
        return self.passes


def combine_keys(*parts: np.ndarray) -> np.ndarray:
    """One int64 key from several int columns; -1 if any part is missing."""
    frame = pd.DataFrame({f"k{i}": p for i, p in enumerate(parts)})
    key = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy().astype(np.int64)
    missing = np.zeros(len(key), dtype=bool)
    for p in parts:
        missing |= p < 0
    return np.where(missing, MISSING, key)


@dataclass(frozen=True)
class Keys:
    """A blocking key per row; `rows[i]` is the record row i stands for (None: row i itself).

    A record may stand in several rows (one per name token), and a pass may key distinct
    values rather than records (NIK edits), expanded to records afterwards.
    """

    key: np.ndarray
    rows: np.ndarray | None = None


def registry_apart(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two civil-registry records with different NIKs: two people on the registry's word (it is
    authoritative), so never worth comparing. At national shape most candidate pairs are
    these: members of one household, neighbours of one village. Not so for a possible double
    registration (`registry_double`)."""
    both = _two_registry_niks(f, a, b)
    idx = np.flatnonzero(both)
    both[idx[_look_alike(f, a[idx], b[idx])]] = False
    return both


def registry_double(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two civil-registry records with different NIKs that may be one person registered twice
    (Dukcapil's "data ganda": registered again after moving, or a birth registered twice): the
    same name, birth date and sex on two family cards. Twins share a card (and seldom a name),
    neighbours differ in the name; these pairs are compared, and decided on the evidence
    (cluster/resolve.py)."""
    out = np.zeros(len(a), dtype=bool)
    idx = np.flatnonzero(_two_registry_niks(f, a, b))
    out[idx[_look_alike(f, a[idx], b[idx])]] = True
    return out


def _two_registry_niks(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return f.civil[a] & f.civil[b] & (f.nik[a] >= 0) & (f.nik[b] >= 0) & (f.nik[a] != f.nik[b])


def _look_alike(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One name (tokens in any order), birth date and sex, on two family cards. The name test
    goes first: it rules out nearly every pair, so the others run on few."""
    out = (f.name_sorted.codes[a] >= 0) & (f.name_sorted.codes[a] == f.name_sorted.codes[b])
    idx = np.flatnonzero(out)
    x, y = a[idx], b[idx]
    same_day = (f.birth_date[x] >= 0) & (f.birth_date[x] == f.birth_date[y]) & (f.sex[x] >= 0) & (f.sex[x] == f.sex[y])
    one_card = (f.kk15[x] >= 0) & (f.kk15[x] == f.kk15[y])
    out[idx] = same_day & ~one_card
    return out


def pairs_from_key(
    key: np.ndarray, max_block: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """All pairs (i < j) of records sharing a key. Returns (left, right, blocks_skipped, rows_skipped)."""
    idx = np.flatnonzero(key >= 0)
    empty = np.empty(0, np.int64)
    if len(idx) == 0:
        return empty, empty, 0, 0
    order = idx[np.argsort(key[idx], kind="stable")]
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    too_big = sizes > max_block
    keep = ~np.repeat(too_big, sizes) & (np.repeat(sizes, sizes) > 1)
    order, k = order[keep], k[keep]
    who = order if rows is None else rows[order]
    lefts, rights = [], []
    # Offset d pairs element i with element i + d of the same group: one numpy pass per d.
    for d in range(1, min(max_block, int(sizes[~too_big].max(initial=1)))):
        same = k[d:] == k[:-d]
        if not same.any():
            break
        lefts.append(who[:-d][same])
        rights.append(who[d:][same])
    skipped = int(too_big.sum()), int(sizes[too_big].sum())
    if not lefts:
        return empty, empty, *skipped
    a, b = np.concatenate(lefts), np.concatenate(rights)
    distinct = a != b  # one record under two of its own tokens
    return np.minimum(a, b)[distinct], np.maximum(a, b)[distinct], *skipped


def one_edit_keys(values: np.ndarray) -> list[np.ndarray]:
    """Per edit position p (16 substitutions, 15 adjacent transpositions), each value's key
    `canonical * 32 + p`: two 16-digit numbers share the key of p when they are one edit at p
    apart (or equal)."""
    digits = digit_matrix(values).astype(np.int64)
    powers = 10 ** np.arange(15, -1, -1, dtype=np.int64)
    keys = []
    for p in range(31):
        if p < 16:  # digit p set to 0
            canon = values - digits[:, p] * powers[p]
        else:  # digits q, q+1 in ascending order
            q = p - 16
            lo, hi = np.minimum(digits[:, q], digits[:, q + 1]), np.maximum(digits[:, q], digits[:, q + 1])
            canon = values + (lo - digits[:, q]) * powers[q] + (hi - digits[:, q + 1]) * powers[q + 1]
        keys.append(canon * 32 + p)
    return keys


def _one_edit_pairs(
    numbers: np.ndarray, max_block: int, keep: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Record pairs whose 16-digit numbers (NIKs) are one substitution or one adjacent
    transposition apart.

    Worked on the distinct values (records sharing a value are an exact pass's), then expanded.
    `keep(keys)`: only the keys it keeps make pairs (a shard's share of them, link/sharded.py).
    """
    has = np.flatnonzero(numbers >= 0)
    values, inverse = np.unique(numbers[has], return_inverse=True)
    va, vb, skipped_blocks, skipped_rows = [], [], 0, 0
    for key in one_edit_keys(values):
        a, b, sb, sr = pairs_from_key(key if keep is None else np.where(keep(key), key, MISSING), max_block)
        va.append(a)
        vb.append(b)
        skipped_blocks += sb
        skipped_rows += sr
    pair_code = unique(np.concatenate(va) * len(values) + np.concatenate(vb))
    a, b = _holders_of_pairs(pair_code // len(values), pair_code % len(values), inverse, has)
    return np.minimum(a, b), np.maximum(a, b), skipped_blocks, skipped_rows


def _holders_of_pairs(va: np.ndarray, vb: np.ndarray, value_of: np.ndarray, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (record holding va, record holding vb) of each value pair; `value_of[i]` is the
    value of `records[i]`."""
    order = np.argsort(value_of, kind="stable")
    holders = records[order]
    count = np.bincount(value_of, minlength=int(max(va.max(initial=-1), vb.max(initial=-1))) + 1)
    start = np.cumsum(count) - count
    na, nb = count[va], count[vb]
    combos = na * nb
    pair = np.repeat(np.arange(len(va)), combos)
    within = np.arange(int(combos.sum())) - np.repeat(np.cumsum(combos) - combos, combos)
    a = holders[start[va][pair] + within // nb[pair]]
    b = holders[start[vb][pair] + within % nb[pair]]
    return a, b


def token_rows(text: Strings, other: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (record, token of `text`) where `other` is present: (record of each row,
    the index of its token in `tokens`, `tokens`: every distinct value's tokens in a row)."""
    values = pd.Series(text.values, dtype=object).str.split(" ")
    lengths = values.str.len().to_numpy()
    tokens = np.concatenate(values.to_numpy()) if len(values) else np.empty(0, object)
    offsets = np.r_[0, np.cumsum(lengths)]
    code = text.codes
    rows = np.flatnonzero((code >= 0) & (other >= 0))
    count = lengths[code[rows]]
    rec = np.repeat(rows, count)
    # Position of each (record, k-th token) in the flat token list: start of its value + k.
    within = np.arange(len(rec)) - np.repeat(np.cumsum(count) - count, count)
    return rec, np.repeat(offsets[code[rows]], count) + within, tokens


def _token_keys(text: Strings, other: np.ndarray) -> Keys:
    """One row per (record, token of `text`) keyed with `other`: swapped names share a token."""
    rec, at, tokens = token_rows(text, other)
    token_codes, _ = pd.factorize(tokens)
    return Keys(combine_keys(token_codes[at].astype(np.int64), other[rec]), rec)


@dataclass(frozen=True)
class BlockingKey:
    """Which records a pass puts in one block: `kind` (see KEY_KINDS) over named columns."""

    kind: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class BlockingPass:
    name: str
    key: BlockingKey
    cap: int | None = None  # the largest block expanded; None: linkage.max_block


def _pass(name: str, kind: str, *columns: str, cap: int | None = None) -> BlockingPass:
    return BlockingPass(name, BlockingKey(kind, columns), cap)


RARE_NAME_BLOCK = 12

# In order: a pair's pass is the first that finds it.
BLOCKING: tuple[BlockingPass, ...] = (
    _pass("nik_exact", "same", "nik"),
    _pass("nik_one_edit", "one_edit", "nik"),
    _pass("nik_15_digits", "same", "nik15"),
    _pass("name_birth_date", "same", "name_sorted", "birth_date"),
    _pass("name_village", "same", "name", "place"),
    _pass("kk_first_name", "same", "kk15", "name_first"),
    # Any one name token on one family card: a typo in the first name (HARONO / HARTONO WIJAYA)
    # where the birth date is wrong too and no NIK was written.
    _pass("kk_name_token", "token", "name_sorted", "kk15"),
    _pass("birth_date_district", "same", "birth_date", "district_or_place"),
    _pass("birth_date_name_token", "token", "name_sorted", "birth_date"),
    _pass("address_first_name", "same", "address", "place", "name_first"),
    # Any one name token with the place, where few records of the place carry it: a typo
    # in the other name and in the birth date at once (birth_date_name_token needs the date).
    _pass("place_name_token", "token", "name_sorted", "place", cap=RARE_NAME_BLOCK),
    # A name carried by at most a few records anywhere is worth comparing without more.
    _pass("rare_name", "same", "name", cap=RARE_NAME_BLOCK),
)


def _place(f: LinkFrame, derived: dict[str, np.ndarray]) -> np.ndarray:
    """The village code; where none resolved (another country's data, an unknown village), the
    village as written; else the district."""
    village_text = f.village_text.codes
    return np.where(f.village >= 0, f.village, np.where(village_text >= 0, village_text + (1 << 40), f.district))


# The columns blocking derives from the link frame's, in the order they are made.
DERIVED: dict[str, Callable[[LinkFrame, dict[str, np.ndarray]], np.ndarray]] = {
    "place": _place,
    "district_or_place": lambda f, derived: np.where(f.district >= 0, f.district, derived["place"]),
}


def derived_columns(f: LinkFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, derive in DERIVED.items():
        out[name] = derive(f, out)
    return out


def key_codes(column: np.ndarray | Strings) -> np.ndarray:
    return column.codes if isinstance(column, Strings) else column


def combined_key(columns: list[np.ndarray | Strings]) -> np.ndarray:
    codes = [key_codes(c) for c in columns]
    return codes[0] if len(codes) == 1 else combine_keys(*codes)


Pairs = tuple[np.ndarray, np.ndarray, int, int]  # left, right, blocks skipped, rows in them


def _same_values(columns: list, cap: int) -> Pairs:
    """Records with the same values in every column."""
    return pairs_from_key(combined_key(columns), cap)


def _token(columns: list, cap: int) -> Pairs:
    """Records sharing a token of the first (text) column, with the same values in the others."""
    keys = _token_keys(columns[0], combined_key(columns[1:]))
    return pairs_from_key(keys.key, cap, keys.rows)


def _one_edit(columns: list, cap: int) -> Pairs:
    """Records whose 16-digit numbers are one substitution or adjacent transposition apart."""
    return _one_edit_pairs(key_codes(columns[0]), cap)


KEY_KINDS: dict[str, Callable[[list, int], Pairs]] = {"same": _same_values, "token": _token, "one_edit": _one_edit}


def blocking_table() -> list[dict]:
    """BLOCKING as JSON-ready dicts: model.json's `blocking`."""
    return [{"name": p.name, "key": {"kind": p.key.kind, "columns": list(p.key.columns)}, "cap": p.cap} for p in BLOCKING]


@dataclass
class _PassResult:
    kept: np.ndarray  # distinct pair codes (left * n + right) the pass keeps
    apart: np.ndarray  # pair codes it found between registry records with different NIKs
    blocks_skipped: int
    rows_skipped: int


def pass_columns(f: LinkFrame, derived: dict[str, np.ndarray], p: BlockingPass) -> list[np.ndarray | Strings]:
    """The columns a pass's key is made of (the link frame's, or derived ones)."""
    return [derived[c] if c in derived else getattr(f, c) for c in p.key.columns]


def _run_pass(f: LinkFrame, derived: dict[str, np.ndarray], p: BlockingPass, max_block: int) -> _PassResult:
    columns = pass_columns(f, derived, p)
    a, b, blocks_skipped, rows_skipped = KEY_KINDS[p.key.kind](columns, p.cap or max_block)
    skip = registry_apart(f, a, b)
    return _PassResult(unique(a[~skip] * f.n + b[~skip]), a[skip] * f.n + b[skip], blocks_skipped, rows_skipped)


def candidate_pairs(f: LinkFrame, max_block: int = DEFAULT_MAX_BLOCK) -> tuple[pd.DataFrame, BlockingReport]:
    """Deduplicated candidate pairs (left < right), each with the first pass that found it;
    pairs the civil registry already keeps apart are counted, not kept.

    The passes run on as many threads as cores: their work is numpy sorting and comparing,
    which runs outside the GIL; results are gathered in pass order, so nothing depends on timing."""
    derived = derived_columns(f)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = list(pool.map(lambda p: _run_pass(f, derived, p, max_block), BLOCKING))
    codes = [r.kept for r in results]
    passes = [np.full(len(r.kept), pass_no, np.int8) for pass_no, r in enumerate(results)]
    report = [
        {
            "pass": label,
            "pairs": int(len(r.kept)),
            "registry_apart_skipped": int(len(r.apart)),
            "blocks_skipped": r.blocks_skipped,
            "rows_in_skipped_blocks": r.rows_skipped,
        }
        for label, r in zip((p.name for p in BLOCKING), results)
    ]
    skipped = [r.apart for r in results]
    all_codes = np.concatenate(codes)
    # A stable sort keeps each pair's first pass first (passes were concatenated in order).
    order = np.argsort(all_codes, kind="stable")
    sorted_codes = all_codes[order]
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]][: len(sorted_codes)]  # none: no pairs at all
    code, pass_no = sorted_codes[first], np.concatenate(passes)[order][first]
    new_pairs = np.bincount(pass_no, minlength=len(report))
    for r, n in zip(report, new_pairs):
        r["new_pairs"] = int(n)
    pairs = pd.DataFrame({"left": code // f.n, "right": code % f.n, "pass": pass_no})
    return pairs, BlockingReport(report, _distinct(skipped))


def _distinct(parts: list[np.ndarray]) -> int:
    """Distinct values over the arrays, counted after one in-place sort: no hash table, which
    for the tens of millions of registry-apart pairs of a national merge is gigabytes."""
    values = np.concatenate(parts) if parts else np.empty(0, np.int64)
    values.sort()
    return int(len(values) and 1 + np.count_nonzero(values[1:] != values[:-1]))
