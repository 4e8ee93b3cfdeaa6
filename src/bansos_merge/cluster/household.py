"""The household rules: what naive Bayes cannot see about a family (see `resolve.decide`).

A family shares a card, an address, a mother and, for twins, a birth date, so the weight alone
would merge a father with his namesake son. These functions say which pairs the rules keep
apart, which of those only a birth date keeps apart (asked, not decided), which the rules decide
unasked, and which mother's
name a record that names none is judged by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..link.comparisons import (
    BIRTH_DATE_DIFFERENT,
    BIRTH_DATE_EXACT,
    KK_SAME,
    MOTHER_EXACT,
    NAME_DIFFERENT,
    NAME_EXACT,
    NIK_AGREES,
    NIK_DIFFERENT,
    NIK_EXACT,
    NIK_TYPO,
    birth_date_levels,
)
from ..link.features import MISSING, LinkFrame


def household_rules(pairs: pd.DataFrame, mothers: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(names_differ, dates_differ) conditions, whatever the weight (see `decide`). A NIK that
    agrees only in the 15 digits a spreadsheet kept does not lift names_differ: twins with
    consecutive serials share those."""
    nik, name, dob = pairs["nik"].to_numpy(), pairs["name"].to_numpy(), pairs["birth_date"].to_numpy()
    names_differ = (name == NAME_DIFFERENT) & ~((nik == NIK_EXACT) & (dob == BIRTH_DATE_EXACT))
    mother = pairs["mother_name"].to_numpy()
    same_mother = mother == MOTHER_EXACT
    if mothers is not None:
        lent = mothers[pairs["left"].to_numpy()]
        same_mother |= (mother == MISSING) & (lent >= 0) & (lent == mothers[pairs["right"].to_numpy()])
    # NIKs one typo apart in the region or date digits encode nearly the same birth date: on one
    # card, that is one person whose listed date is wrong, not a father and son.
    typo_on_card = (nik == NIK_TYPO) & (pairs["kk"].to_numpy() == KK_SAME)
    dates_differ = (dob == BIRTH_DATE_DIFFERENT) & ~np.isin(nik, NIK_AGREES) & ~same_mother & ~typo_on_card
    return names_differ, dates_differ


def nik_says_another(pairs: pd.DataFrame, f: LinkFrame) -> np.ndarray:
    """A row with no birth date (BPNT lists none), dated by its own valid NIK, one the registry
    does not hold, beside a record whose birth date disagrees outright with that NIK's date and
    whose NIK is not near it: the NIK is someone else's, so the row is that someone, not this
    person -- unless the two share a family card and the name exactly (a recipient listed under
    a family member's NIK). A namesake in the village, or a father beside his registered son
    (FELIX KOSASIH beside FELIX, on one card), is this."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()

    def undated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (f.birth_ymd[x] < 0) & (f.nik_ymd[x] >= 0) & ~f.nik_registered[x] & (f.birth_ymd[y] >= 0)

    a_undated = undated(a, b)
    x, y = np.where(a_undated, a, b), np.where(a_undated, b, a)
    family = (pairs["kk"].to_numpy() == KK_SAME) & (pairs["name"].to_numpy() == NAME_EXACT)
    asked = np.flatnonzero((a_undated | undated(b, a)) & np.isin(pairs["nik"].to_numpy(), (NIK_DIFFERENT, MISSING)) & ~family)
    none = np.full(len(asked), MISSING)
    out = np.zeros(len(pairs), dtype=bool)
    out[asked] = birth_date_levels(f.nik_ymd[x[asked]], f.birth_ymd[y[asked]], none, none) == BIRTH_DATE_DIFFERENT
    return out


def decided_by_household(pairs: pd.DataFrame, kept_apart: np.ndarray, family_rules: bool = True, mothers: np.ndarray | None = None) -> np.ndarray:
    """Pairs the household rules decide, unasked: those the decision kept apart by them
    (`kept_apart`: names_differ, dates_differ) and those they keep apart at any weight (names
    that differ completely, birth dates that disagree outright; nothing without the rules), but
    for those kept apart on the birth date alone (`date_alone`): their doubt decides. The queue
    (`resolve._queue`) and `explain` both ask this."""
    names_differ, dates_differ = household_rules(pairs, mothers) if family_rules else (False, False)
    return (kept_apart | names_differ | dates_differ) & ~date_alone(pairs)


def borrowed_mothers(pairs: pd.DataFrame, f: LinkFrame, match_threshold: float) -> np.ndarray:
    """Per record, the code of its mother's name (-1: none known): its own, or, for a record
    that names none, the one named by the civil-registry record it matches on the weight and an
    exact birth date (when all such agree). A list row with the registry's date but no mother,
    beside another list's row with the registry's mother but a wrong date, is then one person:
    father and son share a name and a card, but not a mother."""
    own = f.mother.codes
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    sure = (
        (pairs["weight"].to_numpy() >= match_threshold)
        & (pairs["birth_date"].to_numpy() == BIRTH_DATE_EXACT)
        & (pairs["name"].to_numpy() != NAME_DIFFERENT)
        & (f.civil[a] != f.civil[b])
    )
    registry, listed = np.where(f.civil[a], a, b)[sure], np.where(f.civil[a], b, a)[sure]
    lend = (own[registry] >= 0) & (own[listed] < 0)
    lent = pd.Series(own[registry[lend]]).groupby(listed[lend]).agg(["min", "max"])
    agreed = lent[lent["min"] == lent["max"]]
    mothers = own.copy()
    mothers[agreed.index.to_numpy()] = agreed["min"].to_numpy()
    return mothers


def date_alone(pairs: pd.DataFrame) -> np.ndarray:
    """Pairs kept apart on a birth date alone: one family card, one exact name, and neither a
    NIK nor a mother's name on both sides -- a father beside his namesake son, or one person a
    list gave a wrong date (on the 1M sample, 24 of 73 such pairs). The rule keeps them apart;
    the doubt, not the rule, says whether an analyst is asked."""
    return (
        (pairs["birth_date"].to_numpy() == BIRTH_DATE_DIFFERENT) & (pairs["kk"].to_numpy() == KK_SAME)
        & (pairs["name"].to_numpy() == NAME_EXACT) & (pairs["nik"].to_numpy() == MISSING) & (pairs["mother_name"].to_numpy() == MISSING)
    )
