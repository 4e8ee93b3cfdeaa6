"""The NIK parser: properties over generated NIKs (hypothesis), and the damaged forms that
spreadsheets and data entry produce."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bansos_merge.normalize.nik import parse_kk, parse_nik
from bansos_merge.regions import load_regions
from bansos_merge.textcol import as_text

_TABLES = load_regions()
CURRENT = sorted(_TABLES.district_status.index[_TABLES.district_status == "current"])
RETIRED = sorted(_TABLES.district_status.index[_TABLES.district_status == "retired"])
QUICK = settings(max_examples=40, deadline=None)  # batches: ~10 NIKs per example


def nik_of(district: str, born: dt.date, female: bool, serial: int) -> str:
    return f"{district}{born.day + 40 * female:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def parse_one(value: str | None, **kw) -> dict:
    return parse_nik(as_text([value]), **kw).iloc[0].to_dict()


def possible_ddmmyy(dd: int, mm: int, yy: int) -> bool:
    """Oracle: a real date in 19yy or 20yy, women's days shifted by 40."""
    if not (1 <= dd <= 31 or 41 <= dd <= 71):
        return False
    day = dd - 40 if dd > 40 else dd
    for year in (1900 + yy, 2000 + yy):
        try:
            dt.date(year, mm, day)
            return True
        except ValueError:
            pass
    return False


people = st.tuples(
    st.sampled_from(CURRENT),
    st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2025, 12, 31)),
    st.booleans(),
    st.integers(1, 9999),
)
# Batches stay under 20 values: from 20 on, a column mostly ending in 0 reads as Excel-damaged.
batches = st.lists(people, min_size=1, max_size=19)


@QUICK
@given(batches)
def test_generated_niks_decode_exactly(batch):
    niks = [nik_of(*p) for p in batch]
    got = parse_nik(as_text(niks))
    assert got["nik_status"].tolist() == ["valid"] * len(batch)
    assert got["nik"].tolist() == niks
    assert got["nik_region"].tolist() == [p[0] for p in batch]
    assert set(got["nik_region_status"]) == {"current"}
    assert got["nik_day"].tolist() == [p[1].day for p in batch]
    assert got["nik_month"].tolist() == [p[1].month for p in batch]
    assert got["nik_yy"].tolist() == [p[1].year % 100 for p in batch]
    assert got["nik_sex"].tolist() == ["P" if p[2] else "L" for p in batch]
    assert got["nik_serial"].tolist() == [f"{p[3]:04d}" for p in batch]
    assert got["nik_known_digits"].isna().all()


@QUICK
@given(st.lists(st.tuples(people, st.integers(6, 9), st.integers(0, 9)), min_size=1, max_size=19))
def test_single_digit_corruption_of_day_or_month(cases):
    bad = []
    for person, position, digit in cases:
        nik = nik_of(*person)
        bad.append(nik[:position] + str(digit) + nik[position + 1 :])
    got = parse_nik(as_text(bad))
    for value, (_, row) in zip(bad, got.iterrows()):
        if possible_ddmmyy(int(value[6:8]), int(value[8:10]), int(value[10:12])):
            assert row["nik_status"] == "valid"
            assert row["nik_month"] == int(value[8:10])
        else:
            assert row["nik_status"] == "invalid_date", value
            assert pd.isna(row["nik_day"]) and pd.isna(row["nik_sex"])
            # Still a 16-digit identifier, its region still read.
            assert row["nik"] == value and row["nik_region"] == value[:6]


def test_impossible_days_and_months():
    bad = ["0008", "3208", "4008", "7208", "9908", "0500", "0513", "4513", "3002", "7002", "3104", "7104"]
    got = parse_nik(as_text([f"320101{ddmm}700001" for ddmm in bad] + ["3201012902000001", "3201016902010001"]))
    # ... and 29 Feb: possible in 2000 (yy 00), not in 1901/2001.
    assert got["nik_status"].tolist() == ["invalid_date"] * len(bad) + ["valid", "invalid_date"]


@QUICK
@given(batches)
def test_serial_zero(batch):
    niks = [nik_of(d, b, f, 0) for d, b, f, _ in batch]
    got = parse_nik(as_text(niks))
    assert set(got["nik_status"]) == {"serial_zero"}
    assert got["nik"].isna().all() and got["nik_serial"].isna().all()  # not a usable NIK
    # Most often 000x with the last digit lost: the first 15 digits stay evidence.
    assert got["nik_known_digits"].tolist() == [n[:15] for n in niks]


@given(st.sampled_from("0123456789"))
def test_all_same_digit_is_dummy(d):
    got = parse_one(d * 16)
    assert got["nik_status"] == "dummy" and pd.isna(got["nik"]) and pd.isna(got["nik_region"])


@pytest.mark.parametrize("value", ["1234567890123456", "0123456789012345"])
def test_sequence_dummies(value):
    assert parse_one(value)["nik_status"] == "dummy"


@QUICK
@given(st.lists(st.text("0123456789", min_size=1, max_size=24).filter(lambda s: len(s) != 16), min_size=1, max_size=30))
def test_wrong_length_is_malformed(values):
    got = parse_nik(as_text(values))
    assert set(got["nik_status"]) == {"malformed"}
    assert got["nik"].isna().all() and got["nik_region"].isna().all() and got["nik_day"].isna().all()


@QUICK
@given(st.lists(people, min_size=1, max_size=40))
def test_number_cell_16_digits_is_precision_lost(batch):
    stored = [nik_of(*p)[:15] + "0" for p in batch]  # what Excel keeps of a typed NIK
    got = parse_nik(as_text(stored), numeric_cell=pd.Series([True] * len(batch)))
    assert set(got["nik_status"]) == {"precision_lost"} and got["nik"].isna().all()
    assert got["nik_known_digits"].tolist() == [v[:15] for v in stored]
    # Region and birth date survive in the first 12 digits.
    assert got["nik_region"].tolist() == [p[0] for p in batch]
    assert got["nik_day"].tolist() == [p[1].day for p in batch]
    assert got["nik_serial"].isna().all()


@QUICK
@given(st.integers(1, 9), st.text("0123456789", min_size=0, max_size=14), st.sampled_from([".", ","]), st.sampled_from(["E+15", "E15", "e+15"]))
def test_scientific_notation_keeps_the_shown_digits(first, rest, dot, exp):
    shown = f"{first}{dot}{rest}{exp}" if rest else f"{first}{exp}"
    got = parse_one(shown)
    assert got["nik_status"] == "precision_lost" and pd.isna(got["nik"])
    assert got["nik_known_digits"] == f"{first}{rest}"
    if len(rest) < 11:  # fewer than 12 reliable digits: no birth date read from it
        assert pd.isna(got["nik_day"])


def test_the_issue_example_3_27301E15():
    got = parse_one("3.27301E+15")
    assert (got["nik_status"], got["nik_known_digits"]) == ("precision_lost", "327301")
    assert len(got["nik_known_digits"]) == 6


def test_text_forms_of_a_valid_nik():
    values = ["3201014508700001", " 3201 0145 0870 0001 ", "'3201014508700001", "3201014508700001.0", "3201-0145-0870-0001"]
    got = parse_nik(as_text(values))
    assert got["nik"].tolist() == ["3201014508700001"] * 5
    assert set(got["nik_status"]) == {"valid"}


def test_missing_values():
    got = parse_nik(as_text([None, "", "   ", "-"]))
    assert got["nik_status"].tolist() == ["missing"] * 4


def test_kk_pasted_into_nik():
    nik = ["3201011203650002", "3201014508700001"]
    kk = ["3201011203650002", "3201010101200009"]
    got = parse_nik(as_text(nik), kk_raw=as_text(kk))
    assert got["nik_status"].tolist() == ["kk_as_nik", "valid"]
    assert pd.isna(got["nik"].iloc[0]) and got["nik"].iloc[1] == nik[1]


@QUICK
@given(st.lists(st.tuples(st.sampled_from(RETIRED), st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2020, 12, 31)), st.integers(1, 9999)), min_size=1, max_size=19))
def test_retired_district_codes_are_valid_but_retired(batch):
    got = parse_nik(as_text([nik_of(d, b, False, s) for d, b, s in batch]))
    assert set(got["nik_status"]) == {"valid"} and set(got["nik_region_status"]) == {"retired"}


def test_kota_sorong_before_2022():
    got = parse_one("9271011203650002")
    assert (got["nik_status"], got["nik_region"], got["nik_region_status"]) == ("valid", "927101", "retired")
    assert parse_one("9671011203650002")["nik_region_status"] == "current"


def test_unknown_district_of_a_known_regency_is_a_warning_not_a_reject():
    # Kabupaten Bogor (32.01) exists; its district 99 is in no table: the tables start in 2016.
    got = parse_one("3201991203650002")
    assert (got["nik_status"], got["nik_region_status"]) == ("valid", "unknown")
    assert got["nik"] == "3201991203650002"


@pytest.mark.parametrize(
    "nik",
    [
        "9999991203650002",  # province 99: no such province, ever
        "2001011203650002",  # province 20: none either
        "3299011203650002",  # Jawa Barat exists, its regency 99 was never created
        "3200011203650002",  # regency 00 is the province itself, never a NIK region
    ],
)
def test_a_region_that_never_existed_makes_the_nik_invalid(nik):
    got = parse_one(nik)
    assert (got["nik_status"], got["nik_region_status"]) == ("region_never_existed", "never_existed")
    # still evidence for linkage (a typo in the region digits), like an impossible date
    assert got["nik"] == nik and got["nik_serial"] == "0002"


@given(st.lists(st.sampled_from(sorted(_TABLES.known_regencies)), min_size=1, max_size=20))
@QUICK
def test_every_regency_in_the_tables_is_a_possible_nik_region(regencies):
    got = parse_nik(as_text([f"{r}991203650002" for r in regencies]))
    assert set(got["nik_status"]) == {"valid"} and set(got["nik_region_status"]) <= {"unknown", "current", "retired"}


def test_a_column_of_zero_ending_niks_went_through_excel():
    # Most 16-digit values end in 0 (one in ten would by chance): the column lost its last digit.
    niks = [f"32010145087{i:04d}0" for i in range(1, 25)]
    got = parse_nik(as_text(niks))
    assert set(got["nik_status"]) == {"precision_lost"}
    assert got["nik_known_digits"].tolist() == [n[:15] for n in niks]


def test_kk_statuses():
    got = parse_kk(as_text(["3201010101200009", "320101010120000", "3.20101E+15", None, "1111111111111111"]))
    assert got["kk_status"].tolist() == ["valid", "malformed", "precision_lost", "missing", "malformed"]
    assert got["kk"].tolist()[0] == "3201010101200009"
    assert got["kk_known_digits"].tolist()[2] == "320101"
