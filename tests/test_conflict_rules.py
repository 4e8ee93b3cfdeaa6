"""Conflict rules on hand-made aid lists, normalised by the real readers and checked by the real
conflict finder (publish/conflicts.py), with persons given by hand: what a record can and cannot
show when the person has no civil-registry record."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bansos_merge.publish.conflicts import find_conflicts
from bansos_merge.publish.registry import build_registry, person_codes
from linkage_fixtures import KEBUMEN, SUKABUMI, make_nik, small_records, small_row

NO_REVIEW = pd.DataFrame({c: pd.Series(dtype=np.int64) for c in ("left", "right", "nik")}).assign(reason="", weight=0.0)


def conflicts_of(tmp_path, rows: list[dict], persons: list[str]) -> pd.DataFrame:
    """The conflicts of an aid list (no registry records) whose row i is person persons[i], in a
    run that has a civil registry."""
    records = small_records(tmp_path, rows)
    linked = records.assign(person_id=persons, link_score=1.0)
    codes = person_codes(linked["person_id"])
    registry = build_registry(linked, {}, codes)
    out = find_conflicts(linked, registry, NO_REVIEW, codes, civil_registry=True)
    return out.assign(row=out["record_id"].astype(int) - 1)  # the CSV's record ids are row numbers


def test_a_recipient_known_only_by_name_and_place_is_not_shown_absent_from_the_registry(tmp_path):
    rows = [
        small_row(make_nik(SUKABUMI, "05-07-1978", "L", 3), "BAMBANG HERMAWAN", "05-07-1978", SUKABUMI),  # a NIK
        small_row("", "ENENG", "", SUKABUMI),  # a name and a village: one of many ENENGs
        small_row("", "DEDE", "", KEBUMEN, kk="3305220101100077"),  # a family card
        small_row("", "ASEP", "12-12-1961", KEBUMEN),  # a birth date
        small_row("", "ASEP", "", KEBUMEN),  # the same person's second row, by name only
    ]
    out = conflicts_of(tmp_path, rows, ["a", "b", "c", "d", "d"])
    unmatched = set(out.loc[out["kind"] == "unmatched_civil_registry", "row"])
    assert unmatched == {0, 2, 3, 4}
    # Not shown absent, but not lost from sight: no NIK is a conflict of its own.
    assert 1 in set(out.loc[(out["kind"] == "invalid_nik") & (out["values"] == "missing"), "row"])


def test_a_lone_record_at_odds_with_its_own_nik_is_flagged_not_a_mismatch(tmp_path):
    """Against its own NIK, a wrong birth date or sex looks like a typo in the NIK: the record is
    flagged; another record of the person is what shows an attribute mismatch."""
    woman = make_nik(SUKABUMI, "05-07-1978", "P", 3)  # day 45: a woman's NIK
    rows = [
        small_row(woman, "SITI AMINAH", "05-07-1978", SUKABUMI, JK="L"),  # sex at odds with its NIK
        small_row(make_nik(KEBUMEN, "06-07-1978", "P", 4), "DEWI LESTARI", "09-10-1979", KEBUMEN, JK="P"),  # date
        small_row("", "RINA WATI", "07-07-1978", KEBUMEN, JK="P"),  # the same person twice, two dates
        small_row("", "RINA WATI", "23-02-1991", KEBUMEN, JK="P"),
        small_row("", "RINA WATI", "07-07-1978", KEBUMEN, JK="P"),
    ]
    records = small_records(tmp_path / "flags", rows)
    assert "nik_sex_mismatch" in list(records["flags"].iloc[0])
    assert "nik_birth_date_mismatch" in list(records["flags"].iloc[1])
    out = conflicts_of(tmp_path, rows, ["a", "b", "c", "c", "c"])
    mismatch = out[out["kind"] == "attribute_mismatch"]
    assert mismatch[["row", "field"]].values.tolist() == [[3, "birth_date"]]


def test_a_list_without_sex_shows_it_through_its_nik(tmp_path):
    """BPNT lists no sex, but its NIK says it: a list row stating the other sex, with a NIK that
    says the same as BPNT's, is a mismatch. A row whose own NIK sides with its stated sex is
    not (the other NIK may be a family member's)."""
    woman = make_nik(SUKABUMI, "05-07-1978", "P", 3)
    man = make_nik(KEBUMEN, "06-07-1980", "L", 4)
    rows = [
        small_row(woman, "SITI AMINAH", "05-07-1978", SUKABUMI, JK="L"),  # states L, its NIK and BPNT's say P
        small_row(woman, "SITI AMINAH", "", SUKABUMI),  # BPNT-like: the NIK, no sex
        small_row(man, "ADE SUPRIATNA", "06-07-1980", KEBUMEN, JK="L"),  # its own NIK says L
        small_row(make_nik(KEBUMEN, "06-07-1980", "P", 5), "ADE SUPRIATNA", "", KEBUMEN),  # a woman's NIK, no sex
    ]
    out = conflicts_of(tmp_path, rows, ["a", "a", "b", "b"])
    mismatch = out[out["kind"] == "attribute_mismatch"]
    assert mismatch[["row", "field", "values", "value"]].values.tolist() == [[0, "sex", "P", "L"]]


def test_the_sex_its_nik_confirms_survives(tmp_path):
    """Two lists state different sexes for one person: the golden sex is the one the NIK confirms,
    and the other row is the mismatch, whichever list comes first."""
    man = make_nik(KEBUMEN, "23-01-1972", "L", 2)
    rows = [
        small_row(man, "MUHAMMAD RASYID", "23-01-1972", KEBUMEN, JK="P"),
        small_row(man, "MUHAMMAD RASYID", "23-01-1972", KEBUMEN, JK="L"),
    ]
    out = conflicts_of(tmp_path, rows, ["a", "a"])
    mismatch = out[out["kind"] == "attribute_mismatch"]
    assert mismatch[["row", "field", "values", "value"]].values.tolist() == [[0, "sex", "L", "P"]]
