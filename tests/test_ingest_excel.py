"""Excel workbooks (.xlsx and .xls) as villages send them: title blocks with merged cells,
several sheets, date cells beside text dates, NIKs stored as numbers, totals rows; and
workbooks that cannot be read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import ingest, make_source, record, rejects_by_row, write_xls, write_xlsx

from bansos_merge.config import MergeConfig
from bansos_merge.errors import InputError
from bansos_merge.ingest.source import preflight, read_source

HEADER = ["NO", "NIK", "NAMA KEPALA KELUARGA", "JENIS KELAMIN", "TANGGAL LAHIR", "ALAMAT", "RT", "RW"]
COLUMNS = {
    "nik": "NIK",
    "name": "NAMA KEPALA KELUARGA",
    "sex": "JENIS KELAMIN",
    "birth_date": "TANGGAL LAHIR",
    "address": "ALAMAT",
    "rt": "RT",
    "rw": "RW",
}
BLT = [
    ["DAFTAR PENERIMA BLT DANA DESA TAHUN 2024"],
    ["DESA SUKAMAJU KECAMATAN CIBINONG"],
    [],
    HEADER,
    # A NIK typed as a number: Excel kept 15 significant digits (3201014508700001 became ...0).
    [1, 3201014508700000, "SITI AMINAH", "P", dt.date(1970, 8, 5), "JL. MAWAR", 3, 5],
    # A NIK stored as text, a text date, RT/RW inside the address.
    [2, "3201011203650002", "H. SOEPARMAN", "LAKI-LAKI", "12-03-1965", "KP. BARU RT 003 RW 005", "", ""],
    # A NIK shown in scientific notation, a date as a plain serial number.
    [3, "3.20101E+15", "ANI", "Perempuan", 25785, "GG. XXV", "003", "005"],
    [4, "3201015112800003", "BUDI", "L", "5 Agustus 1970", "", "", ""],
    ["JUMLAH", None, None, None, None, None, None, None],
]


@pytest.fixture(params=["xlsx", "xls"])
def writer(request):
    return (write_xlsx, ".xlsx") if request.param == "xlsx" else (write_xls, ".xls")


def test_title_block_header_dates_numbers_and_totals(tmp_path, writer):
    write, suffix = writer
    path = write(tmp_path / f"blt{suffix}", {"Penerima": BLT}, merge_title={"Penerima": len(HEADER)})
    read, norm = ingest(make_source(path, COLUMNS))
    table = read.tables[0]
    assert (table.sheet, table.header_row) == ("Penerima", 4)
    assert norm.records["row_number"].tolist() == [1, 2, 3, 4]
    assert rejects_by_row(norm) == {5: "totals_row"}

    siti = record(norm, 1)
    assert siti["nik_status"] == "precision_lost" and pd.isna(siti["nik"])
    assert siti["nik_known_digits"] == "320101450870000"
    assert siti["nik_raw"] == "3201014508700000"
    assert "nik_precision_lost" in list(siti["flags"])
    # Number cells for RT/RW lost their leading zeros: padded back.
    assert (siti["rt"], siti["rw"]) == ("003", "005")
    assert str(siti["birth_date"].date()) == "1970-08-05"

    soeparman = record(norm, 2)
    assert soeparman["nik"] == "3201011203650002" and soeparman["nik_status"] == "valid"
    assert str(soeparman["birth_date"].date()) == "1965-03-12"
    assert (soeparman["rt"], soeparman["rw"], soeparman["address"]) == ("003", "005", "KP BARU")
    assert soeparman["name"] == "SOEPARMAN" and soeparman["name_titles"] == "H."

    ani = record(norm, 3)
    assert ani["nik_status"] == "precision_lost" and ani["nik_known_digits"] == "320101"
    assert str(ani["birth_date"].date()) == "1970-08-05"  # Excel serial 25785
    assert ani["sex"] == "P"

    budi = record(norm, 4)
    assert str(budi["birth_date"].date()) == "1970-08-05"
    assert budi["nik_status"] == "valid"


def test_every_sheet_with_the_header_is_read_and_the_others_listed(tmp_path, writer):
    write, suffix = writer
    sheets = {
        "Rekap": [["REKAPITULASI"], ["JUMLAH KK", 2]],
        "RT 01": [["DAFTAR RT 01"], [], ["NIK", "NAMA"], ["3201014508700001", "SITI"], ["3201011203650002", "BUDI"]],
        "Catatan": [],
        "RT 02": [["NIK", "NAMA"], ["3201015112800003", "ANI"]],
    }
    path = write(tmp_path / f"desa{suffix}", sheets)
    read, norm = ingest(make_source(path))
    assert read.files[0]["sheets_read"] == ["RT 01", "RT 02"]
    assert read.files[0]["sheets_skipped"] == ["Rekap", "Catatan"]
    assert norm.records["source_sheet"].tolist() == ["RT 01", "RT 01", "RT 02"]
    # Row-number ids carry the sheet: unique across sheets of one file.
    assert norm.records["record_id"].tolist() == ["RT 01/1", "RT 01/2", "RT 02/1"]
    assert [t.header_row for t in read.tables] == [3, 1]


def test_sheet_by_name_and_by_index(tmp_path, writer):
    write, suffix = writer
    sheets = {"A": [["NIK", "NAMA"], ["3201014508700001", "SITI"]], "B": [["NIK", "NAMA"], ["3201011203650002", "BUDI"]]}
    path = write(tmp_path / f"desa{suffix}", sheets)
    _, by_name = ingest(make_source(path, sheet="B"))
    _, by_index = ingest(make_source(path, sheet=1))
    _, first = ingest(make_source(path, sheet=0))
    assert by_name.records["name"].tolist() == by_index.records["name"].tolist() == ["BUDI"]
    assert first.records["name"].tolist() == ["SITI"]
    assert by_name.records["record_id"].tolist() == ["1"]  # one sheet read: no prefix


@pytest.mark.parametrize(
    "sheet, message",
    [("Z", "no sheet named 'Z'; sheets are \\['A', 'B'\\]"), (5, "sheet index 5 out of range")],
)
def test_bad_sheet_is_a_clear_error(tmp_path, writer, sheet, message):
    write, suffix = writer
    path = write(tmp_path / f"desa{suffix}", {"A": [["NIK", "NAMA"]], "B": [["NIK", "NAMA"]]})
    src = make_source(path, sheet=sheet)
    with pytest.raises(InputError, match=message) as err:
        read_source(src)
    assert err.value.source == "desa" and err.value.file == str(path)
    with pytest.raises(InputError, match=message):
        preflight(MergeConfig(output_dir=str(tmp_path / "out"), sources=[src]))


def test_no_sheet_has_the_header_names_the_closest_sheet(tmp_path, writer):
    write, suffix = writer
    sheets = {"Rekap": [["X"]], "Data": [["JUDUL"], ["NIK", "NAMA LENGKAP"], ["1", "A"]]}
    path = write(tmp_path / f"desa{suffix}", sheets)
    with pytest.raises(InputError) as err:
        read_source(make_source(path))
    e = err.value
    assert "[sheet 'Data']" in e.file and e.field == "NAMA"
    assert "did you mean 'NAMA LENGKAP'?" in str(e) and "(row 2)" in str(e)


def test_configured_header_row_below_the_scanned_rows(tmp_path, writer):
    write, suffix = writer
    rows = [[f"CATATAN {i}"] for i in range(34)] + [["NIK", "NAMA"], ["3201011203650002", "BUDI"]]
    path = write(tmp_path / f"panjang{suffix}", {"Data": rows})
    with pytest.raises(InputError, match="no mapped column .* is in the first 30 rows"):
        read_source(make_source(path))
    read, norm = ingest(make_source(path, header_row=35))
    assert read.tables[0].header_row == 35 and norm.records["name"].tolist() == ["BUDI"]


def test_header_only_workbook_has_zero_rows(tmp_path, writer):
    write, suffix = writer
    path = write(tmp_path / f"kosong{suffix}", {"Data": [["JUDUL"], ["NIK", "NAMA"]]})
    read, norm = ingest(make_source(path))
    assert read.rows_read == 0 and len(norm.records) == 0 and len(norm.rejects) == 0


def test_empty_workbook_is_a_clear_error(tmp_path, writer):
    write, suffix = writer
    path = write(tmp_path / f"kosong{suffix}", {"Sheet1": []})
    with pytest.raises(InputError, match="the workbook is empty") as err:
        read_source(make_source(path))
    assert err.value.file == str(path)
    with pytest.raises(InputError, match="sheet 'Sheet1' is empty"):
        read_source(make_source(path, sheet="Sheet1"))


@pytest.mark.parametrize(
    "content",
    [
        b"",  # empty file named .xlsx
        b"PK\x03\x04" + b"\x00" * 100,  # a zip header and nothing else
        b"this is not a workbook at all, just text" * 10,
        b"NIK,NAMA\n3201014508700001,SITI\n",  # a CSV named .xlsx
    ],
)
def test_corrupted_workbook_is_a_clear_error(tmp_path, content):
    path = tmp_path / "rusak.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError, match="cannot open as an Excel workbook") as err:
        read_source(make_source(path))
    assert err.value.source == "desa" and err.value.file == str(path)


def test_truncated_workbook_is_a_clear_error(tmp_path):
    whole = write_xlsx(tmp_path / "whole.xlsx", {"Data": [["NIK", "NAMA"]] + [[str(i), "A"] for i in range(500)]})
    path = tmp_path / "rusak.xlsx"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for step in (lambda: read_source(make_source(path)), lambda: preflight(MergeConfig(output_dir=str(tmp_path), sources=[make_source(path)]))):
        with pytest.raises(InputError, match="cannot open as an Excel workbook"):
            step()


def test_garbage_xls_is_a_clear_error(tmp_path):
    path = tmp_path / "rusak.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600)  # an OLE signature and nothing valid
    with pytest.raises(InputError, match="cannot open as an Excel workbook") as err:
        read_source(make_source(path))
    assert err.value.file == str(path)


def test_papua_nik_stored_as_number_keeps_15_digits(tmp_path):
    # Typed into Excel, 9171011203650019 is stored as 9171011203650010 (15 significant digits;
    # above 2^53 not even a float64 could hold the 16th).
    path = write_xlsx(tmp_path / "papua.xlsx", {"Data": [["NIK", "NAMA"], [9171011203650010, "YOHANES"]]})
    _, norm = ingest(make_source(path))
    r = record(norm, 1)
    assert r["nik_status"] == "precision_lost" and pd.isna(r["nik"])
    assert r["nik_known_digits"] == "917101120365001"
    assert r["nik_region"] == "917101"


def test_mixed_date_cells_and_text_dates_in_one_column(tmp_path):
    rows = [
        ["NIK", "NAMA", "TGL LAHIR"],
        ["3201014508700001", "SITI", dt.date(1970, 8, 5)],
        ["3201011203650002", "BUDI", "12/03/1965"],
        ["3201015112800003", "ANI", "1980-12-11"],
        ["3201010101900004", "EKO", "tidak tahu"],
    ]
    path = write_xlsx(tmp_path / "tgl.xlsx", {"Data": rows})
    _, norm = ingest(make_source(path, {"nik": "NIK", "name": "NAMA", "birth_date": "TGL LAHIR"}))
    dates = [None if pd.isna(d) else str(d.date()) for d in norm.records["birth_date"]]
    assert dates == ["1970-08-05", "1965-03-12", "1980-12-11", None]
    assert norm.records["birth_date_raw"].tolist()[0] == "1970-08-05"
    assert "birth_date_unparsed" in list(record(norm, 4)["flags"])
