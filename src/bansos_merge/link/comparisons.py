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
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .features import MISSING, LinkFrame, Strings


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # label of level 0, 1, ...; -1 is always "no evidence"
    tf_level: int | None = None  # level whose weight is adjusted by term frequency
    monotone: bool = True  # a higher level never weighs less (not so for the NIK's serial levels)
    aside: tuple[str, ...] = ()  # levels outside the monotone order: they weigh their own, and lift no other


NIK = Comparison(
    "nik",
    ("different", "sibling_serial", "serial_one_edit", "typo_outside_serial", "damaged_15_digits_equal", "exact"),
    monotone=False,
)
# "partial" (a name cut short) is rare between random people, so it weighs much; it must not lift
# "similar" and the levels above it (the monotone order would), which blocking's namesakes share
# far more often.
NAME = Comparison("name", ("different", "partial", "similar", "very_similar", "same_tokens", "exact"), tf_level=5, aside=("partial",))
BIRTH_DATE = Comparison(
    "birth_date", ("different", "same_year", "swap_or_one_digit_or_nik_date", "exact"), tf_level=3
)
SEX = Comparison("sex", ("different", "same"))
KK = Comparison("kk", ("different", "same"))
ADDRESS = Comparison(
    "address", ("different_place", "same_regency", "same_district", "same_village", "same_village_and_street_or_rt_rw")
)
MOTHER = Comparison("mother_name", ("different", "similar", "exact"), tf_level=2)
BIRTH_PLACE = Comparison("birth_place", ("different", "similar", "exact"))

COMPARISONS: tuple[Comparison, ...] = (NIK, NAME, BIRTH_DATE, SEX, KK, ADDRESS, MOTHER, BIRTH_PLACE)
# Levels the pair decisions refer to by name (cluster/resolve.py).
NAME_DIFFERENT = NAME.levels.index("different")
NAME_PARTIAL = NAME.levels.index("partial")
NAME_SAME_TOKENS = NAME.levels.index("same_tokens")
NAME_EXACT = NAME.levels.index("exact")
NIK_EXACT = NIK.levels.index("exact")
NIK_AGREES = (NIK_EXACT, NIK.levels.index("damaged_15_digits_equal"))
NIK_SIBLING = NIK.levels.index("sibling_serial")
NIK_SERIAL_ONE_EDIT = NIK.levels.index("serial_one_edit")
NIK_TYPO = NIK.levels.index("typo_outside_serial")
NIK_DIFFERENT = NIK.levels.index("different")
KK_SAME = KK.levels.index("same")
KK_DIFFERENT = KK.levels.index("different")
ADDRESS_SAME_VILLAGE = ADDRESS.levels.index("same_village")
BIRTH_DATE_EXACT = BIRTH_DATE.levels.index("exact")
BIRTH_DATE_DIFFERENT = BIRTH_DATE.levels.index("different")
MOTHER_EXACT = MOTHER.levels.index("exact")
PLACE_EXACT = BIRTH_PLACE.levels.index("exact")


def _pair_scores(left: Strings, right: Strings, a: np.ndarray, b: np.ndarray, scorer) -> np.ndarray:
    """scorer(value of a, value of b) for each pair, computed once per distinct pair of values.
    `left` and `right` share one code space (the same column, or a name and its alias)."""
    if len(a) == 0:
        return np.zeros(0)
    ca, cb = left.codes[a], right.codes[b]
    width = len(left.values) + 1
    pair_code, inverse = np.unique(ca * width + cb, return_inverse=True)
    values = left.values
    scores = process.cpdist(list(values[pair_code // width]), list(values[pair_code % width]), scorer=scorer, workers=1)
    return np.asarray(scores, dtype=np.float64)[inverse]


def _pair_test(column: Strings, a: np.ndarray, b: np.ndarray, test) -> np.ndarray:
    """test(value of a, value of b) for each pair, run once per distinct pair of values (a
    Python test, so only for the few pairs that need it)."""
    ca, cb = column.codes[a], column.codes[b]
    width = len(column.values) + 1
    pair_code, inverse = np.unique(ca * width + cb, return_inverse=True)
    values = column.values
    result = np.fromiter((test(values[x // width], values[x % width]) for x in pair_code), dtype=bool, count=len(pair_code))
    return result[inverse]


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


def partial_agree(x: str, y: str) -> bool:
    """A name cut short agrees with the whole one: its tokens are found, in order, among the
    other's, an initial standing for any token that starts with its letter (SITI A., A. RAHMAN,
    FAJAR R B T), a token of four letters or more for itself or one typo away (RUSD / RUSDI,
    AMHAD RASYID / AHMAD RIZKI RASYID, NENG / ENENG YULIANTI). Up to two initials left over at
    the end are a father's (MAWARDI.Z), or a BIN and his name, cut. At least one full token must
    be found: initials alone say nothing."""
    return _covers(x.split(), y.split()) or _covers(y.split(), x.split())


TRAILING_INITIALS = 2


def _covers(short: list[str], long: list[str]) -> bool:
    at, full = 0, 0
    for k, token in enumerate(short):
        hit = next((j for j in range(at, len(long)) if _token_agrees(token, long[j])), None)
        if hit is None:  # the rest must be a few initials, after a name
            rest = short[k:]
            return k > 0 and full > 0 and len(rest) <= TRAILING_INITIALS and all(len(t) == 1 for t in rest)
        full += len(token) > 1
        at = hit + 1
    return full > 0


def _token_agrees(token: str, other: str) -> bool:
    if len(token) == 1:
        return other[0] == token
    return token == other or (min(len(token), len(other)) >= 4 and OSA.distance(token, other, score_cutoff=1) <= 1)


def compare_name(f: LinkFrame, a: np.ndarray, b: np.ndarray, decisive: np.ndarray | None = None) -> np.ndarray:
    """Typos are a character or two, wherever they fall, also in swapped names (edit distance,
    on the name and on its sorted tokens); siblings share a token, not the spelling of the
    whole name (EUIS KURNIASIH vs EUIS NURHASANAH: different). An alias equal to the other
    name counts as that name (A/B lists). A name cut short agrees with the whole one
    (`partial_agree`), and says little more: tested where a name has an initial, and where
    `decisive` (the NIK or the birth date agrees: the names then decide, see resolve.decide)."""
    na, nb = f.name.codes[a], f.name.codes[b]
    present = (na >= 0) & (nb >= 0)
    exact = present & ((na == nb) | (f.alias.codes[a] == nb) | (f.alias.codes[b] == na))
    tokens_same = present & ~exact & (f.name_sorted.codes[a] == f.name_sorted.codes[b])
    todo = np.flatnonzero(present & ~exact & ~tokens_same)
    ta, tb = a[todo], b[todo]
    dist = np.minimum(
        _pair_scores(f.name, f.name, ta, tb, Levenshtein.distance),
        _pair_scores(f.name_sorted, f.name_sorted, ta, tb, Levenshtein.distance),
    )
    jw = _pair_scores(f.name, f.name, ta, tb, JaroWinkler.normalized_similarity)
    # A missing middle name or dropped clan name: one name's tokens within the other's.
    subset = _pair_scores(f.name, f.name, ta, tb, fuzz.token_set_ratio) >= 100
    longest = np.maximum(f.name_len[ta], f.name_len[tb])
    similar = (dist <= 2) | (jw >= 0.92)
    cut_short = (f.name_has_initial[ta] | f.name_has_initial[tb]) | (False if decisive is None else decisive[todo])
    asked = np.flatnonzero(cut_short & ~similar & ~subset)
    partial = np.zeros(len(todo), dtype=bool)
    partial[asked] = _pair_test(f.name, ta[asked], tb[asked], partial_agree)
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[present] = 0
    level[todo[partial]] = 1
    level[todo[similar]] = 2
    level[todo[(dist <= 1) | ((dist <= 2) & (longest >= 10))]] = 3
    level[todo[subset]] = 4
    level[tokens_same] = 4
    level[exact] = 5
    return level


def _digit_edits(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(digits that differ, is an adjacent transposition) between width-digit numbers."""
    dx = (x[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
    dy = (y[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
    diff = dx != dy
    n = diff.sum(axis=1)
    first = np.argmax(diff, axis=1)
    nxt = np.minimum(first + 1, width - 1)
    rows = np.arange(len(x))
    swapped = (n == 2) & diff[rows, nxt] & (dx[rows, first] == dy[rows, nxt]) & (dx[rows, nxt] == dy[rows, first])
    return n, swapped


def _one_part_off(ya: np.ndarray, yb: np.ndarray) -> np.ndarray:
    """YYYYMMDD dates that differ in one part (year, month or day) by 1 or 10."""
    parts_a = np.stack([ya // 10000, (ya // 100) % 100, ya % 100])
    parts_b = np.stack([yb // 10000, (yb // 100) % 100, yb % 100])
    delta = np.abs(parts_a - parts_b)
    return ((delta != 0).sum(axis=0) == 1) & np.isin(delta.max(axis=0), (1, 10))


def birth_date_levels(ya: np.ndarray, yb: np.ndarray, nik_a: np.ndarray, nik_b: np.ndarray) -> np.ndarray:
    """BIRTH_DATE levels of YYYYMMDD dates (-1 missing), with each side's NIK date (YYYYMMDD).

    Typos: a day/month swap, one digit, two adjacent digits transposed (1956 / 1965), or one
    part of the date one or ten off where the digit carries (09 / 10 in the day or month, 1996 /
    2006 in the year): a key pressed once too often or once too few.
    """
    present = (ya >= 0) & (yb >= 0)
    exact = present & (ya == yb)
    same_year = present & (ya // 10000 == yb // 10000)
    swap = same_year & ((ya // 100) % 100 == yb % 100) & (ya % 100 == (yb // 100) % 100)
    n_digits, transposed = _digit_edits(np.where(present, ya, 0), np.where(present, yb, 0), 8)
    typo = present & ((n_digits == 1) | transposed | _one_part_off(ya, yb))
    # The NIK keeps the first registered date; a corrected birth date may equal the other's NIK
    # date. A list with no birth date (BPNT) still has its NIK's: equal to the other's birth date,
    # it agrees; different, it says nothing (the NIK may be a family member's).
    nik_date = ((nik_a >= 0) & (nik_a == yb)) | ((nik_b >= 0) & (nik_b == ya))
    level = np.full(len(ya), MISSING, dtype=np.int8)
    level[present] = 0
    level[same_year] = 1
    level[swap | typo | nik_date] = 2
    level[exact] = 3
    return level


def compare_birth_date(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return birth_date_levels(f.birth_ymd[a], f.birth_ymd[b], f.nik_ymd[a], f.nik_ymd[b])


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
    """Where two records live: by Kemendagri codes, or by the village as written where no
    code resolved (one typo in a typed name is still that village); the top level also needs
    the same RT/RW or a similar street address. Where one side has no place at all, the street
    address alone says whether they live at the same place."""
    coded = (f.village[a] >= 0) & (f.village[b] >= 0)
    text_a, text_b = f.village_text.codes[a], f.village_text.codes[b]
    texted = ~coded & (text_a >= 0) & (text_b >= 0)
    typed = np.flatnonzero(texted & (text_a != text_b))
    village_typo = np.zeros(len(a), dtype=bool)
    village_typo[typed] = _pair_scores(f.village_text, f.village_text, a[typed], b[typed], OSA.distance) <= 1
    village = _same(f.village[a], f.village[b]) | (texted & (text_a == text_b)) | village_typo
    placed = ((f.regency[a] >= 0) & (f.regency[b] >= 0)) | texted
    streets = (f.address.codes[a] >= 0) & (f.address.codes[b] >= 0)
    street_only = ~placed & streets
    street = np.zeros(len(a), dtype=bool)
    both_streets = np.flatnonzero((village | street_only) & streets)
    street[both_streets] = _pair_scores(f.address, f.address, a[both_streets], b[both_streets], JaroWinkler.normalized_similarity) >= 0.88
    rt_rw = _same(f.rt[a], f.rt[b]) & _same(f.rw[a], f.rw[b])
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[placed | street_only] = 0
    level[_same(f.regency[a], f.regency[b])] = 1
    level[_same(f.district[a], f.district[b])] = 2
    level[village] = 3
    level[(village & (rt_rw | street)) | (street_only & street)] = 4
    return level


def _compare_text(column: Strings, a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    ca, cb = column.codes[a], column.codes[b]
    present = (ca >= 0) & (cb >= 0)
    exact = present & (ca == cb)
    todo = np.flatnonzero(present & ~exact)
    level = np.full(len(a), MISSING, dtype=np.int8)
    level[present] = 0
    level[todo[_pair_scores(column, column, a[todo], b[todo], JaroWinkler.normalized_similarity) >= threshold]] = 1
    level[exact] = 2
    return level


def compare_pairs(f: LinkFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_pairs, n_comparisons) int8 matrix of levels, columns in COMPARISONS order."""
    nik, birth_date = compare_nik(f, a, b), compare_birth_date(f, a, b)
    decisive = np.isin(nik, NIK_AGREES) | (birth_date == BIRTH_DATE_EXACT)
    return np.column_stack(
        [
            nik,
            compare_name(f, a, b, decisive),
            birth_date,
            compare_sex(f, a, b),
            compare_kk(f, a, b),
            compare_address(f, a, b),
            _compare_text(f.mother, a, b, 0.90),
            _compare_text(f.birth_place, a, b, 0.88),
        ]
    ).astype(np.int8)
