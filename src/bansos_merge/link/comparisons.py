"""Comparisons: for each candidate pair, one agreement level per field (-1 = no evidence).

Levels are ordered, higher = stronger agreement, in the style of Splink's comparison levels.
Every comparison is vectorised over the pair arrays; fuzzy name scores are computed once
per distinct pair of names with rapidfuzz's batch `cpdist`.

The NIK is compared by its parts (region, birth date, sex, serial), not as a string: two
NIKs that share region, birth date and sex and differ only in the serial belong to twins
or neighbours far more often than to one person with a typo, so those levels get their own
u-probabilities (see model.py) instead of riding on a generic edit distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from .features import DAY0, MISSING, LinkFrame


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # label of level 0, 1, ...; -1 is always "no evidence"
    tf_level: int | None = None  # level whose weight is adjusted by term frequency
    monotone: bool = True  # a higher level never weighs less (not so for the NIK's serial levels)


NIK = Comparison(
    "nik",
    ("different", "sibling_serial", "serial_one_edit", "typo_outside_serial", "damaged_15_digits_equal", "exact"),
    monotone=False,
)
NAME = Comparison("name", ("different", "similar", "very_similar", "same_tokens", "exact"), tf_level=4)
BIRTH_DATE = Comparison(
    "birth_date", ("different", "same_year", "swap_or_one_digit_or_nik_date", "exact"), tf_level=3
)
SEX = Comparison("sex", ("different", "same"))
KK = Comparison("kk", ("different", "same"))
ADDRESS = Comparison(
    "address", ("different_regency", "same_regency", "same_district", "same_village", "same_village_rt_rw")
)
MOTHER = Comparison("mother_name", ("different", "similar", "exact"), tf_level=2)
BIRTH_PLACE = Comparison("birth_place", ("different", "similar", "exact"))

COMPARISONS: tuple[Comparison, ...] = (NIK, NAME, BIRTH_DATE, SEX, KK, ADDRESS, MOTHER, BIRTH_PLACE)
# Levels the pair decisions refer to by name (cluster/resolve.py).
NAME_DIFFERENT = NAME.levels.index("different")
NAME_SAME_TOKENS = NAME.levels.index("same_tokens")
NAME_EXACT = NAME.levels.index("exact")
NIK_AGREES = (NIK.levels.index("exact"), NIK.levels.index("damaged_15_digits_equal"))
NIK_SIBLING = NIK.levels.index("sibling_serial")
NIK_SERIAL_ONE_EDIT = NIK.levels.index("serial_one_edit")
BIRTH_DATE_EXACT = BIRTH_DATE.levels.index("exact")
BIRTH_DATE_DIFFERENT = BIRTH_DATE.levels.index("different")
MOTHER_EXACT = MOTHER.levels.index("exact")


def _string_similarity(left: np.ndarray, right: np.ndarray, scorer) -> np.ndarray:
    """Score each (left[k], right[k]), computing each distinct string pair once."""
    if len(left) == 0:
        return np.zeros(0)
    ca, ua = pd.factorize(left)
    cb, ub = pd.factorize(right)
    pair_code, inverse = np.unique(ca.astype(np.int64) * len(ub) + cb, return_inverse=True)
    scores = process.cpdist(
        list(ua[pair_code // len(ub)]), list(ub[pair_code % len(ub)]), scorer=scorer, workers=1
    )
    return np.asarray(scores, dtype=np.float64)[inverse]


def _jw(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return _string_similarity(left, right, JaroWinkler.normalized_similarity)


def compare_nik(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    da, db = f.nik_digits[a], f.nik_digits[b]
    both = (f.nik[a] >= 0) & (f.nik[b] >= 0)
    diff = da != db
    n_diff = diff.sum(axis=1)
    exact = both & (n_diff == 0)

    prefix_diff = diff[:, :12].sum(axis=1)
    serial_diff = diff[:, 12:].sum(axis=1)
    # Adjacent transposition: exactly two neighbouring digits differ and are swapped.
    first = np.argmax(diff, axis=1)
    nxt = np.minimum(first + 1, 15)
    rows = np.arange(len(a))
    swapped = (n_diff == 2) & (da[rows, first] == db[rows, nxt]) & (da[rows, nxt] == db[rows, first]) & diff[rows, nxt]
    # Day +40 means female: a difference only there (1<->5, 2<->6, 3<->7) is another person.
    sex_flip = (prefix_diff == 1) & diff[:, 6] & (np.abs(da[:, 6].astype(int) - db[:, 6]) == 4)

    one_edit = (n_diff == 1) | swapped
    serial_one_edit = both & (prefix_diff == 0) & (serial_diff > 0) & one_edit
    sibling = both & ~serial_one_edit & (((prefix_diff == 0) & (serial_diff > 0)) | sex_flip)
    typo = both & one_edit & ~sex_flip & (serial_diff == 0) & (prefix_diff > 0)

    damaged = ~both & (f.nik15[a] >= 0) & (f.nik15[b] >= 0)
    damaged_equal = damaged & (f.nik15[a] == f.nik15[b])

    level = np.full(len(a), MISSING, dtype=np.int8)
    level[both | damaged] = 0
    level[sibling] = 1
    level[serial_one_edit] = 2
    level[typo] = 3
    level[damaged_equal] = 4
    level[exact] = 5
    return level


def _fold_alias(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Use an alias where it equals the other record's name (A/B lists)."""
    na, nb = f.name[a].copy(), f.name[b].copy()
    hit_a = (f.alias[a] != "") & (f.alias[a] == nb)
    hit_b = (f.alias[b] != "") & (f.alias[b] == na)
    na[hit_a] = nb[hit_a]
    nb[hit_b] = na[hit_b]
    return na, nb


def compare_name(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Typos are a character or two, wherever they fall (edit distance); siblings share a
    token, not the spelling of the whole name (EUIS KURNIASIH vs EUIS NURHASANAH: different)."""
    na, nb = _fold_alias(f, a, b)
    present = (na != "") & (nb != "")
    exact = present & (na == nb)
    tokens_same = present & ~exact & (f.name_sorted[a] == f.name_sorted[b])
    todo = present & ~exact & ~tokens_same
    dist = np.full(len(a), 99.0)
    jw = np.zeros(len(a))
    subset = np.zeros(len(a), dtype=bool)
    if todo.any():
        dist[todo] = _string_similarity(na[todo], nb[todo], Levenshtein.distance)
        jw[todo] = _jw(na[todo], nb[todo])
        # A missing middle name or dropped clan name: one name's tokens within the other's.
        subset[todo] = _string_similarity(na[todo], nb[todo], fuzz.token_set_ratio) >= 100
    longest = np.maximum(f.name_len[a], f.name_len[b])
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[present] = 0
    level[todo & ((dist <= 2) | (jw >= 0.92))] = 1
    level[todo & ((dist <= 1) | ((dist <= 2) & (longest >= 10)))] = 2
    level[tokens_same | (todo & subset)] = 3
    level[exact] = 4
    return level


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = DAY0 + np.where(days >= 0, days, 0).astype("timedelta64[D]")
    y = d.astype("datetime64[Y]").astype(int) + 1970
    m = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    return y, m, day


def _digits_differ(x: np.ndarray, y: np.ndarray, width: int) -> np.ndarray:
    """How many decimal digits differ between x and y (both < 10**width)."""
    n = np.zeros(len(x), dtype=np.int8)
    for _ in range(width):
        n += (x % 10) != (y % 10)
        x, y = x // 10, y // 10
    return n


def birth_date_levels(da: np.ndarray, db: np.ndarray, nik_a: np.ndarray, nik_b: np.ndarray) -> np.ndarray:
    """BIRTH_DATE levels of dates given as days since DAY0 (-1 missing), with each side's NIK date."""
    present = (da >= 0) & (db >= 0)
    ya, ma, dda = _ymd(da)
    yb, mb, ddb = _ymd(db)
    exact = present & (da == db)
    swap = present & (ya == yb) & (ma == ddb) & (dda == mb)
    one_digit = present & (_digits_differ(ya * 10000 + ma * 100 + dda, yb * 10000 + mb * 100 + ddb, 8) == 1)
    # The NIK keeps the first registered date; a corrected birth date may equal the other's NIK date.
    nik_date = present & (((nik_a >= 0) & (nik_a == db)) | ((nik_b >= 0) & (nik_b == da)))
    level = np.full(len(da), MISSING, dtype=np.int8)
    level[present] = 0
    level[present & (ya == yb)] = 1
    level[swap | one_digit | nik_date] = 2
    level[exact] = 3
    return level


def compare_birth_date(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return birth_date_levels(f.birth_date[a], f.birth_date[b], f.nik_date[a], f.nik_date[b])


def compare_sex(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa, sb = f.sex[a], f.sex[b]
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (sa >= 0) & (sb >= 0)
    level[present] = (sa == sb)[present]
    return level


def _same(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x >= 0) & (x == y)


def compare_kk(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Same family card (15 digits suffice when a spreadsheet ate the last one)."""
    full = (f.kk[a] >= 0) & (f.kk[b] >= 0)
    damaged = ~full & (f.kk15[a] >= 0) & (f.kk15[b] >= 0)
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[full] = (f.kk[a] == f.kk[b])[full]
    level[damaged] = (f.kk15[a] == f.kk15[b])[damaged]
    return level


def compare_address(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    village = _same(f.village[a], f.village[b])
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[(f.regency[a] >= 0) & (f.regency[b] >= 0)] = 0
    level[_same(f.regency[a], f.regency[b])] = 1
    level[_same(f.district[a], f.district[b])] = 2
    level[village] = 3
    level[village & _same(f.rt[a], f.rt[b]) & _same(f.rw[a], f.rw[b])] = 4
    return level


def _compare_text(left: np.ndarray, right: np.ndarray, threshold: float) -> np.ndarray:
    present = (left != "") & (right != "")
    exact = present & (left == right)
    todo = present & ~exact
    level = np.full(len(left), MISSING, dtype=np.int8)
    level[present] = 0
    if todo.any():
        level[np.flatnonzero(todo)[_jw(left[todo], right[todo]) >= threshold]] = 1
    level[exact] = 2
    return level


def compare_pairs(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_pairs, n_comparisons) int8 matrix of levels, columns in COMPARISONS order."""
    return np.column_stack(
        [
            compare_nik(f, a, b),
            compare_name(f, a, b),
            compare_birth_date(f, a, b),
            compare_sex(f, a, b),
            compare_kk(f, a, b),
            compare_address(f, a, b),
            _compare_text(f.mother[a], f.mother[b], 0.90),
            _compare_text(f.birth_place[a], f.birth_place[b], 0.88),
        ]
    ).astype(np.int8)
