"""Dates as agencies write them, the DD/MM vs MM/DD ambiguity, and what is not a date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ingest, make_source, record

from bansos_merge.normalize.dates import parse_dates
from bansos_merge.textcol import as_text

TODAY = np.datetime64("2026-01-15")


def parse(values, **kw) -> pd.DataFrame:
    return parse_dates(as_text(values), today=TODAY, **kw)


def iso(dates: pd.Series) -> list[str | None]:
    return [None if pd.isna(d) else str(d.date()) for d in dates]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1970-08-05", "1970-08-05"),  # ISO (and how Excel date cells arrive)
        ("1970/08/05", "1970-08-05"),
        ("1970-08-05 00:00:00", "1970-08-05"),
        ("05-08-1970", "1970-08-05"),  # DD-MM-YYYY
        ("5-8-1970", "1970-08-05"),
        ("05.08.1970", "1970-08-05"),
        ("05/08/70", "1970-08-05"),  # DD/MM/YY: a 19xx year
        ("05/08/21", "2021-08-05"),  # ... or 20xx when that is not in the future
        ("5 Agustus 1970", "1970-08-05"),  # Indonesian month names and abbreviations
        ("5 AGT 1970", "1970-08-05"),
        ("05-Agu-1970", "1970-08-05"),
        ("17 Pebruari 1945", "1945-02-17"),
        ("1 Nopember 1980", "1980-11-01"),
        ("12 DESEMBER 2001", "2001-12-12"),
        ("5 Mei 70", "1970-05-05"),
        ("5 August 1970", "1970-08-05"),
        ("19700805", "1970-08-05"),  # YYYYMMDD
        ("25785", "1970-08-05"),  # Excel serial
        ("25785.0", "1970-08-05"),
        ("  05 - 08 - 1970 ", "1970-08-05"),
        ("13/04/1970", "1970-04-13"),  # only DMY is possible
        ("04/13/1970", "1970-04-13"),  # only MDY is possible
    ],
)
def test_formats(raw, expected):
    got = parse([raw])
    assert iso(got["date"]) == [expected]
    assert not got["unparsed"].iloc[0] and not got["ambiguous"].iloc[0]


@pytest.mark.parametrize(
    "raw",
    ["31-02-1970", "32/01/1970", "00-00-0000", "29-02-1970", "abc", "0", "1970", "2027-01-01", "01-01-2099", "05/13/14/1970"],
)
def test_impossible_future_or_garbage_is_unparsed(raw):
    got = parse([raw])
    assert iso(got["date"]) == [None]
    assert got["unparsed"].iloc[0]


def test_empty_is_missing_not_unparsed():
    got = parse([None, "", "   "])
    assert got["date"].isna().all() and not got["unparsed"].any()


def test_leap_day():
    assert iso(parse(["29-02-2000", "29-02-1900", "29-02-1996"])["date"]) == ["2000-02-29", None, "1996-02-29"]


def test_ambiguous_date_resolved_by_the_nik():
    # 03/04/1970: the NIK says day 4, month 3 -> MM/DD here; day 3 month 4 -> DD/MM there.
    got = parse(
        ["03/04/1970", "03/04/1970", "03/04/1970"],
        nik_day=pd.Series([4, 3, None], dtype="Int8"),
        nik_month=pd.Series([3, 4, None], dtype="Int8"),
    )
    assert iso(got["date"]) == ["1970-03-04", "1970-04-03", "1970-04-03"]  # the last: the DMY hint


def test_mixed_column_flags_what_only_the_hint_settled():
    values = ["03/04/1970", "13/04/1970", "04/13/1970", "05/06/1971", "03/04/1970"]
    got = parse(values, nik_day=pd.Series([4, None, None, None, None], dtype="Int8"),
                nik_month=pd.Series([3, None, None, None, None], dtype="Int8"))
    assert iso(got["date"]) == ["1970-03-04", "1970-04-13", "1970-04-13", "1971-06-05", "1970-04-03"]
    # Settled by the NIK (0) or unambiguous (1, 2): not flagged; settled by the hint: flagged.
    assert got["ambiguous"].tolist() == [False, False, False, True, True]


def test_a_column_in_one_order_is_not_ambiguous():
    got = parse(["03/04/1970", "13/04/1970", "25/12/1980"])
    assert not got["ambiguous"].any()
    assert iso(got["date"]) == ["1970-04-03", "1970-04-13", "1980-12-25"]


def test_mdy_hint():
    got = parse(["03/04/1970", "04/13/1970"], order="MDY")
    assert iso(got["date"]) == ["1970-03-04", "1970-04-13"]


def test_end_to_end_ambiguity_uses_the_rows_nik(csv_file):
    text = (
        "NIK,NAMA,TGL LAHIR\n"
        "3201010403700001,A,03/04/1970\n"  # NIK: 4 March -> MM/DD
        "3201010304700002,B,03/04/1970\n"  # NIK: 3 April -> DD/MM
        "3201011304700003,C,13/04/1970\n"
        "3201011304700004,D,04/13/1970\n"
        ",E,05/06/1971\n"  # no NIK: the hint, flagged
    )
    src = make_source(csv_file(text), {"nik": "NIK", "name": "NAMA", "birth_date": "TGL LAHIR"})
    _, norm = ingest(src)
    assert iso(norm.records["birth_date"]) == ["1970-03-04", "1970-04-03", "1970-04-13", "1970-04-13", "1971-06-05"]
    flagged = ["birth_date_ambiguous" in list(f) for f in norm.records["flags"]]
    assert flagged == [False, False, False, False, True]
    assert "nik_birth_date_mismatch" not in list(record(norm, 1)["flags"])


def test_nik_birth_date_and_mismatch_flag(csv_file):
    text = (
        "NIK,NAMA,TGL LAHIR,JK\n"
        "3201014508700001,SITI,05-08-1970,P\n"
        "3201014508700002,ANI,06-08-1970,P\n"  # the NIK says the 5th: a flag, not a reject
        "3201010508700003,IWAN,05-08-1970,P\n"  # the NIK says male
        "3201014107040004,DEWI,,P\n"  # 1 July default date, century from 'today'
    )
    src = make_source(csv_file(text), {"nik": "NIK", "name": "NAMA", "birth_date": "TGL LAHIR", "sex": "JK"})
    _, norm = ingest(src)
    assert iso(norm.records["nik_birth_date"]) == ["1970-08-05", "1970-08-05", "1970-08-05", "2004-07-01"]
    flags = [list(f) for f in norm.records["flags"]]
    assert "nik_birth_date_mismatch" not in flags[0] and "nik_sex_mismatch" not in flags[0]
    assert "nik_birth_date_mismatch" in flags[1]
    assert "nik_sex_mismatch" in flags[2]
    assert "birth_date_missing" in flags[3]
    assert len(norm.rejects) == 0
