"""The run's records by their blocking keys, so that new rows find their candidates by lookup
instead of blocking the whole run again.

The run's blocking (link/blocking.py) numbers a key within one link frame (`combine_keys`
groups that frame's own codes), so its keys mean nothing to another frame. Here a pass's key
is a 64-bit hash of the *values* it combines (a NIK, a name key, a birth date, a village
code ...): the same for a record of the run and for a new row. Each pass keeps the run's keys
sorted, and a lookup is a binary search, for one row or for ten thousand at once.

`PASSES` is blocking's declarative table (`link.blocking.BLOCKING`): a key kind (`same`
values, a shared name `token` with the same other values, numbers `one_edit` apart) over
link-frame columns, and a block cap (a key shared by more records than that is no evidence, and finds nothing here
either). A `one_edit` pass looks up the new number's one-edit neighbours (every substitution
and adjacent transposition) among the run's numbers, rather than storing 31 variants of every
record's. A test checks that the lookup finds the pairs that blocking the run's records
together with the new rows finds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..link.blocking import BLOCKING
from ..link.features import LinkFrame, Strings, digit_matrix

# (pass, key kind, link-frame columns, block cap; None: the run's max_block): blocking's own table
PASSES: tuple[tuple[str, str, tuple[str, ...], int | None], ...] = tuple(
    (p.name, p.key.kind, p.key.columns, p.cap) for p in BLOCKING
)

_SEED = np.uint64(0x243F6A8885A308D3)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_TAG_VILLAGE, _TAG_TEXT, _TAG_DISTRICT = (np.uint64(t) for t in (1, 2, 3))

Values = tuple[np.ndarray, np.ndarray]  # per record: uint64 value, present


def _mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One more value into the running hash (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        h = (h ^ x) * _MULT
    return h ^ (h >> np.uint64(29))


def _hash_text(values: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(np.asarray(values, dtype=object)) if len(values) else np.zeros(0, np.uint64)


def _values(column: np.ndarray | Strings) -> Values:
    """A column as (value, present): an int column's numbers (-1: missing), a text column's
    text hashed (its codes are this frame's own)."""
    if not isinstance(column, Strings):
        return column.astype(np.uint64), column >= 0
    present = column.codes >= 0
    out = np.zeros(len(column.codes), np.uint64)
    out[present] = _hash_text(column.values)[column.codes[present]]
    return out, present


def _place(f: LinkFrame) -> Values:
    """The village's code; where none resolved, its text; else the district (as blocking)."""
    text, has_text = _values(f.village_text)
    village, district = f.village >= 0, f.district >= 0
    value = np.where(
        village,
        _mix(_TAG_VILLAGE, f.village.astype(np.uint64)),
        np.where(has_text, _mix(_TAG_TEXT, text), _mix(_TAG_DISTRICT, f.district.astype(np.uint64))),
    )
    return value, village | has_text | district


def _district_or_place(f: LinkFrame) -> Values:
    place, has_place = _place(f)
    known = f.district >= 0
    return np.where(known, _mix(_TAG_DISTRICT, f.district.astype(np.uint64)), place), known | has_place


DERIVED = {"place": _place, "district_or_place": _district_or_place}


class _Columns:
    """The values of a link frame's columns (and blocking's derived ones), made once each."""

    def __init__(self, f: LinkFrame) -> None:
        self.f, self.made = f, {}

    def __getitem__(self, name: str) -> Values:
        if name not in self.made:
            self.made[name] = DERIVED[name](self.f) if name in DERIVED else _values(getattr(self.f, name))
        return self.made[name]

    def tokens(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(record, hash of a token) for each space-separated token of each record's text."""
        s: Strings = getattr(self.f, name)
        tokens = pd.Series(s.values, dtype=object).str.split(" ")
        lengths = tokens.str.len().fillna(0).to_numpy(dtype=np.int64)
        hashed = _hash_text(np.concatenate(tokens.to_numpy()) if len(tokens) else np.empty(0, object))
        offsets = np.r_[0, np.cumsum(lengths)]
        rows = np.flatnonzero(s.codes >= 0)
        count = lengths[s.codes[rows]]
        record = np.repeat(rows, count)
        within = np.arange(len(record)) - np.repeat(np.cumsum(count) - count, count)
        return record, hashed[np.repeat(offsets[s.codes[rows]], count) + within]


def pass_keys(columns: _Columns, kind: str, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(record, key) of every record whose values for the pass are all present. A `one_edit`
    pass is keyed as `same` over its column: its lookup asks for the neighbours' keys."""
    if kind == "token":
        rows, first = columns.tokens(names[0])
        h, rest = _mix(_SEED, first), names[1:]
    else:
        rows, h, rest = np.arange(columns.f.n), np.full(columns.f.n, _SEED), names
    present = np.ones(len(rows), dtype=bool)
    for name in rest:
        value, ok = columns[name]
        h = _mix(h, value[rows])
        present &= ok[rows]
    return rows[present], h[present]


def one_edit_neighbours(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, number) for every 16-digit number one substitution or one adjacent transposition
    away from each row's number (-1: none); the number itself is not among them."""
    rows = np.flatnonzero(numbers >= 0)
    digits = digit_matrix(numbers[rows]).astype(np.int64)
    powers = 10 ** np.arange(15, -1, -1, dtype=np.int64)
    other = np.arange(10)[None, None, :]
    substituted = numbers[rows][:, None, None] + (other - digits[:, :, None]) * powers[None, :, None]
    keep = other != digits[:, :, None]
    sub_rows = np.broadcast_to(rows[:, None, None], substituted.shape)[keep]
    moved = (digits[:, 1:] - digits[:, :-1]) * powers[None, :-1] + (digits[:, :-1] - digits[:, 1:]) * powers[None, 1:]
    differ = digits[:, 1:] != digits[:, :-1]
    trans = (numbers[rows][:, None] + moved)[differ]
    trans_rows = np.broadcast_to(rows[:, None], moved.shape)[differ]
    return np.r_[sub_rows, trans_rows], np.r_[substituted[keep], trans]


def _hits(keys: np.ndarray, records: np.ndarray, rows: np.ndarray, wanted: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, record) for each run record whose key equals a wanted key, where the key's block
    (the run's records holding it, and the new row) is at most `cap`."""
    lo = np.searchsorted(keys, wanted, "left")
    count = np.searchsorted(keys, wanted, "right") - lo
    ok = (count > 0) & (count + 1 <= cap)
    lo, count, rows = lo[ok], count[ok], rows[ok]
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(rows, count), records[np.repeat(lo, count) + within]


class CandidateIndex:
    """Per pass, the run's keys sorted (uint64) and the records holding them (int32)."""

    def __init__(self, f: LinkFrame) -> None:
        columns = _Columns(f)
        self.n = f.n
        self.passes: list[tuple[np.ndarray, np.ndarray]] = []
        for _, kind, names, _ in PASSES:
            records, keys = pass_keys(columns, kind, names)
            order = np.argsort(keys, kind="stable")
            self.passes.append((keys[order], records[order].astype(np.int32)))

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + r.nbytes for k, r in self.passes)

    def lookup(self, q: LinkFrame, max_block: int) -> tuple[np.ndarray, np.ndarray]:
        """(row of `q`, run record) for every distinct candidate pair, sorted by row."""
        columns = _Columns(q)
        found = []
        for (_, kind, names, cap), (keys, records) in zip(PASSES, self.passes):
            if kind == "one_edit":
                rows, numbers = one_edit_neighbours(getattr(q, names[0]))
                wanted = _mix(np.full(len(numbers), _SEED), numbers.astype(np.uint64))
            else:
                rows, wanted = pass_keys(columns, kind, names)
            found.append(_hits(keys, records, rows, wanted, cap or max_block))
        code = np.unique(np.concatenate([r.astype(np.int64) * self.n + c for r, c in found]))
        return code // self.n, code % self.n
