"""The run's records by their blocking keys, so that new rows find their candidates by lookup
instead of blocking the whole run again.

The run's blocking (link/blocking.py) numbers a key within one link frame (`combine_keys`
groups that frame's own codes), so its keys mean nothing to another frame. Here a pass's key
is a 64-bit hash of the *values* it combines (a NIK, a name key, a birth date, a village
code ...): the same for a record of the run and for a new row. Each pass keeps the run's keys
sorted, and a lookup is a binary search, for one row or for ten thousand at once.

`PASSES` follows `blocking.blocking_passes` pass for pass: what each combines and its block
cap (a key shared by more records than that is no evidence, and finds nothing here either).
`nik_one_edit` looks up the new NIK's one-edit neighbours (every substitution and adjacent
transposition) among the run's NIKs, rather than storing 31 variants of every record's NIK.
A test checks that the lookup finds the pairs that blocking the run's records together with
the new rows finds.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..link.blocking import RARE_NAME_BLOCK
from ..link.features import LinkFrame, Strings, digit_matrix

# (pass, the values it combines, its block cap; None: the run's max_block)
PASSES: tuple[tuple[str, tuple[str, ...], int | None], ...] = (
    ("nik_exact", ("nik",), None),
    ("nik_15_digits", ("nik15",), None),
    ("name_birth_date", ("name_sorted", "birth_date"), None),
    ("name_village", ("name", "place"), None),
    ("kk_first_name", ("kk_card", "name_first"), None),
    ("birth_date_district", ("birth_date", "district"), None),
    ("birth_date_name_token", ("name_token", "birth_date"), None),
    ("address_first_name", ("address", "place", "name_first"), None),
    ("place_name_token", ("name_token", "place"), RARE_NAME_BLOCK),
    ("rare_name", ("name",), RARE_NAME_BLOCK),
)
NIK_PASS = 0  # nik_one_edit searches this pass's index

_SEED = np.uint64(0x243F6A8885A308D3)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_TAG_VILLAGE, _TAG_TEXT, _TAG_DISTRICT = (np.uint64(t) for t in (1, 2, 3))


def _mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One more value into the running hash (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        h = (h ^ x) * _MULT
    return h ^ (h >> np.uint64(29))


def _ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An int column (-1 missing) as (value, present)."""
    return values.astype(np.uint64), values >= 0


def _strings(s: Strings) -> tuple[np.ndarray, np.ndarray]:
    """A text column as (hash of its value, present): the hash of the text, not its code."""
    hashed = pd.util.hash_array(np.asarray(s.values, dtype=object)) if len(s.values) else np.zeros(0, np.uint64)
    present = s.codes >= 0
    out = np.zeros(len(s.codes), np.uint64)
    out[present] = hashed[s.codes[present]]
    return out, present


class _Values:
    """The values the passes combine, per record of a link frame (computed when first asked)."""

    def __init__(self, f: LinkFrame) -> None:
        self.f = f

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return getattr(self, name)

    @cached_property
    def nik(self):
        return _ints(self.f.nik)

    @cached_property
    def nik15(self):
        return _ints(self.f.nik15)

    @cached_property
    def birth_date(self):
        return _ints(self.f.birth_date)

    @cached_property
    def kk_card(self):
        return _ints(np.where(self.f.kk >= 0, self.f.kk // 10, self.f.kk15))

    @cached_property
    def name(self):
        return _strings(self.f.name)

    @cached_property
    def name_sorted(self):
        return _strings(self.f.name_sorted)

    @cached_property
    def name_first(self):
        return _strings(self.f.name_first)

    @cached_property
    def address(self):
        return _strings(self.f.address)

    @cached_property
    def place(self):
        """The village's code; where none resolved its text; else the district (as blocking)."""
        f = self.f
        text, has_text = _strings(f.village_text)
        village, district = f.village >= 0, f.district >= 0
        value = np.where(
            village,
            _mix(_TAG_VILLAGE, f.village.astype(np.uint64)),
            np.where(has_text, _mix(_TAG_TEXT, text), _mix(_TAG_DISTRICT, f.district.astype(np.uint64))),
        )
        return value, village | has_text | district

    @cached_property
    def district(self):
        place, has_place = self.place
        known = self.f.district >= 0
        return np.where(known, _mix(_TAG_DISTRICT, self.f.district.astype(np.uint64)), place), known | has_place

    @cached_property
    def name_token(self):
        """(record, hash of a name token) for each token of each record's sorted name."""
        s = self.f.name_sorted
        tokens = pd.Series(s.values, dtype=object).str.split(" ")
        lengths = tokens.str.len().fillna(0).to_numpy(dtype=np.int64)
        flat = np.concatenate(tokens.to_numpy()) if len(tokens) else np.empty(0, object)
        hashed = pd.util.hash_array(flat.astype(object)) if len(flat) else np.zeros(0, np.uint64)
        offsets = np.r_[0, np.cumsum(lengths)]
        rows = np.flatnonzero(s.codes >= 0)
        count = lengths[s.codes[rows]]
        record = np.repeat(rows, count)
        within = np.arange(len(record)) - np.repeat(np.cumsum(count) - count, count)
        return record, hashed[np.repeat(offsets[s.codes[rows]], count) + within]


def pass_keys(values: _Values, combines: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(record, key) of every record whose values for the pass are all present."""
    if combines[0] == "name_token":
        rows, h = values.name_token
        h, rest = _mix(_SEED, h), combines[1:]
    else:
        rows, h, rest = np.arange(values.f.n), np.full(values.f.n, _SEED), combines
    present = np.ones(len(rows), dtype=bool)
    for name in rest:
        v, ok = values.get(name)
        h = _mix(h, v[rows])
        present &= ok[rows]
    return rows[present], h[present]


def one_edit_neighbours(nik: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, NIK) for every NIK one substitution or one adjacent transposition away from each
    row's NIK (-1: none); the NIK itself is not among them."""
    rows = np.flatnonzero(nik >= 0)
    digits = digit_matrix(nik[rows]).astype(np.int64)
    powers = 10 ** np.arange(15, -1, -1, dtype=np.int64)
    other = np.arange(10)[None, None, :]
    substituted = nik[rows][:, None, None] + (other - digits[:, :, None]) * powers[None, :, None]
    keep = other != digits[:, :, None]
    sub_rows = np.broadcast_to(rows[:, None, None], substituted.shape)[keep]
    moved = (digits[:, 1:] - digits[:, :-1]) * powers[None, :-1] + (digits[:, :-1] - digits[:, 1:]) * powers[None, 1:]
    differ = digits[:, 1:] != digits[:, :-1]
    trans = (nik[rows][:, None] + moved)[differ]
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
        values = _Values(f)
        self.n = f.n
        self.passes: list[tuple[np.ndarray, np.ndarray]] = []
        for _, combines, _ in PASSES:
            records, keys = pass_keys(values, combines)
            order = np.argsort(keys, kind="stable")
            self.passes.append((keys[order], records[order].astype(np.int32)))

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + r.nbytes for k, r in self.passes)

    def lookup(self, q: LinkFrame, max_block: int) -> tuple[np.ndarray, np.ndarray]:
        """(row of `q`, run record) for every distinct candidate pair, sorted by row."""
        values = _Values(q)
        found = []
        for (_, combines, cap), (keys, records) in zip(PASSES, self.passes):
            rows, wanted = pass_keys(values, combines)
            found.append(_hits(keys, records, rows, wanted, cap or max_block))
        rows, niks = one_edit_neighbours(q.nik)
        nik_keys, nik_records = self.passes[NIK_PASS]
        found.append(_hits(nik_keys, nik_records, rows, _mix(np.full(len(niks), _SEED), niks.astype(np.uint64)), max_block))
        code = np.unique(np.concatenate([r.astype(np.int64) * self.n + c for r, c in found] or [np.zeros(0, np.int64)]))
        return code // self.n, code % self.n
