"""One table to records and rejects: record ids, the combined place/date column, original values
kept beside the normalised ones, flags instead of rejects for damaged identifiers."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import ingest, make_source, record, rejects_by_row

from bansos_merge.normalize.address import normalize_addresses, pad_rt_rw
from bansos_merge.normalize.dates import parse_dates
from bansos_merge.normalize.names import normalize_names
from bansos_merge.normalize.sex import normalize_sex
from bansos_merge.normalize.status import normalize_phone, normalize_status
from bansos_merge.normalize.text import TEXT, blank_to_null


def flags(norm, row: int) -> list[str]:
    return list(record(norm, row)["flags"])


def test_record_ids_from_the_id_column(csv_file):
    text = (
        "ID;NIK;NAMA\n"
        "A1;3201014508700001;SITI\n"
        "A1;3201011203650002;BUDI\n"  # repeated id
        ";3201015112800003;ANI\n"  # missing id
        "A4;;\n"  # reject keeps its id
        "A5;3201010101900004;EKO\n"
    )
    _, norm = ingest(make_source(csv_file(text), {"nik": "NIK", "name": "NAMA"}, id_column="ID"))
    assert norm.records["record_id"].tolist() == ["A1", "A1#2", "3", "A5"]
    assert ["record_id_generated" in list(f) for f in norm.records["flags"]] == [False, True, True, False]
    assert norm.rejects["record_id"].tolist() == ["A4"]
    assert rejects_by_row(norm) == {4: "no_name_no_nik"}


def test_record_ids_are_row_numbers_as_strings(csv_file):
    text = "NIK,NAMA\n3201014508700001,SITI\n,,\n3201011203650002,BUDI\n"
    _, norm = ingest(make_source(csv_file(text)))
    assert norm.records["record_id"].tolist() == ["1", "3"]
    assert norm.rejects["record_id"].tolist() == ["2"]
    assert all(isinstance(v, str) for v in norm.records["record_id"])


def test_birth_place_and_date_in_one_column(csv_file):
    text = (
        "NIK;NAMA;TEMPAT/TGL LAHIR\n"
        "3201014508700001;SITI;BANDUNG, 05-08-1970\n"
        "3201011205650002;BUDI;BANDUNG 12 MEI 1965\n"
        "3201011203650003;ANI;KAB. BOGOR/12-03-1965\n"
        "3201011203650004;EKO;JAKARTA\n"
        "3201011203650005;DEDI;12-03-1965\n"
    )
    _, norm = ingest(make_source(csv_file(text), {"nik": "NIK", "name": "NAMA", "birth_place_date": "TEMPAT/TGL LAHIR"}))
    recs = norm.records
    assert [None if pd.isna(v) else v for v in recs["birth_place"]] == ["BANDUNG", "BANDUNG", "KAB. BOGOR", "JAKARTA", None]
    assert [None if pd.isna(d) else str(d.date()) for d in recs["birth_date"]] == [
        "1970-08-05", "1965-05-12", "1965-03-12", None, "1965-03-12"
    ]
    assert "birth_date_missing" in flags(norm, 4)


def test_damaged_identifiers_are_flags_not_rejects(csv_file):
    text = (
        "NIK,NO KK,NAMA\n"
        "3201011203650002,3201011203650002,KK PASTED\n"
        "2222222222222222,,DUMMY\n"
        "320101120365,,SHORT\n"
        "9999991203650002,,UNKNOWN REGION\n"
        "9271011203650002,,RETIRED REGION\n"
        "3201013203650002,,BAD DATE\n"
        "3201011203650000,,SERIAL ZERO\n"
        "3.20101E+15,,SCIENTIFIC\n"
        ",,NO NIK\n"
        "3201991203650002,,UNKNOWN DISTRICT\n"
    )
    _, norm = ingest(make_source(csv_file(text), {"nik": "NIK", "kk": "NO KK", "name": "NAMA"}))
    assert len(norm.rejects) == 0
    expect = {
        1: "nik_kk_pasted",
        2: "nik_dummy",
        3: "nik_malformed",
        4: "nik_region_never_existed",
        5: "nik_region_retired",
        6: "nik_invalid_date",
        7: "nik_serial_zero",
        8: "nik_precision_lost",
        9: "nik_missing",
        10: "nik_region_unknown",
    }
    for row, flag in expect.items():
        assert flag in flags(norm, row), (row, flags(norm, row))
    assert record(norm, 4)["nik"] == "9999991203650002" and record(norm, 4)["nik_status"] == "region_never_existed"
    assert record(norm, 10)["nik_status"] == "valid" and "nik_region_never_existed" not in flags(norm, 10)
    assert record(norm, 1)["kk"] == "3201011203650002" and pd.isna(record(norm, 1)["nik"])
    assert record(norm, 2)["nik_raw"] == "2222222222222222"


def test_a_precision_lost_nik_alone_is_still_a_person(csv_file):
    # No name, but 15 reliable digits: evidence enough to keep the row.
    text = "NIK,NAMA\n3201014508700000.0,\n3.20101E+15,\n"
    _, norm = ingest(make_source(csv_file(text)))
    assert norm.records["row_number"].tolist() == [1]
    assert rejects_by_row(norm) == {2: "no_name_no_nik"}


def test_status_death_date_phone_program(csv_file):
    text = (
        "NIK,NAMA,STATUS,TGL MATI,HP,PROGRAM\n"
        "3201014508700001,SITI,Meninggal,12-01-2024,+62 812-3456-7890,pkh\n"
        "3201011203650002,BUDI,HIDUP,,0812,bpnt\n"
        "3201015112800003,ANI,?,kemarin,,\n"
    )
    cols = {"nik": "NIK", "name": "NAMA", "status": "STATUS", "death_date": "TGL MATI", "phone": "HP", "program": "PROGRAM"}
    _, norm = ingest(make_source(csv_file(text), cols))
    recs = norm.records
    assert recs["status"].tolist()[:2] == ["deceased", "alive"] and pd.isna(recs["status"].iloc[2])
    assert str(recs["death_date"].iloc[0].date()) == "2024-01-12"
    assert recs["phone"].iloc[0] == "081234567890" and pd.isna(recs["phone"].iloc[1])
    assert recs["program"].tolist()[:2] == ["PKH", "BPNT"]
    assert {"status_unparsed", "death_date_unparsed"} <= set(flags(norm, 3))


def test_flags_only_for_fields_the_source_has(csv_file):
    _, norm = ingest(make_source(csv_file("NAMA\nSITI\n"), {"name": "NAMA"}))
    assert flags(norm, 1) == []  # no NIK column: no 'nik_missing' on every row



@pytest.mark.parametrize("normaliser", [normalize_names, normalize_addresses, pad_rt_rw, normalize_sex, normalize_status,
                                        normalize_phone, parse_dates, blank_to_null])  # fmt: skip
def test_a_column_of_nulls_normalises_as_each_null_would(normaliser):
    """A field a source or a query does not have is computed once per process (same_for_nulls):
    the same values, dtypes and index as the normaliser's own run, every time, at any length."""
    check = lambda a, b: (pd.testing.assert_frame_equal if isinstance(b, pd.DataFrame) else pd.testing.assert_series_equal)(a, b)  # noqa: E731
    for n in (4, 1, 4, 3):
        nulls = pd.Series([None] * n, index=[7, 3, 5, 9][:n], dtype=TEXT)
        check(normaliser(nulls), normaliser.__wrapped__(nulls))
    some = pd.Series(["3", None], dtype=TEXT)  # a value among the nulls: the normaliser runs
    check(normaliser(some), normaliser.__wrapped__(some))
