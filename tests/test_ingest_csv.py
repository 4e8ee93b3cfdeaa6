"""CSV extracts as agencies send them: every trap gets clean records, clean rejects at their
exact row numbers, or one clear InputError naming source, file and (where known) row/field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import pytest
from conftest import NIK_NAME, ingest, make_source, record, rejects_by_row, write_xlsx

from bansos_merge.errors import InputError
from bansos_merge.ingest.source import preflight, read_source
from bansos_merge.config import MergeConfig

SITI, BUDI, ANI = "3201014508700001", "3201011203650002", "3201015112800003"


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_every_delimiter_is_detected(csv_file, delimiter):
    d = delimiter
    path = csv_file(f"NIK{d}NAMA{d}ALAMAT\n{SITI}{d}SITI AMINAH{d}JL. MAWAR\n{BUDI}{d}BUDI{d}GG. XXV\n")
    read, norm = ingest(make_source(path, {**NIK_NAME, "address": "ALAMAT"}))
    assert norm.records["nik"].tolist() == [SITI, BUDI]
    assert norm.records["address"].tolist() == ["JL MAWAR", "GG XXV"]
    assert len(norm.rejects) == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_encodings_are_detected(csv_file, encoding):
    path = csv_file(f"NIK;NAMA;TEMPAT LAHIR\n{SITI};SITI ÄMINAH;PONTIANAK\n{BUDI};ANDRÉ;MÉDAN\n", encoding=encoding)
    _, norm = ingest(make_source(path, {**NIK_NAME, "birth_place": "TEMPAT LAHIR"}))
    # The BOM is not part of the first header (NIK was found) and accents decode right.
    assert norm.records["name_raw"].tolist() == ["SITI ÄMINAH", "ANDRÉ"]
    assert norm.records["name"].tolist() == ["SITI AMINAH", "ANDRE"]
    assert norm.records["nik"].tolist() == [SITI, BUDI]


@pytest.mark.parametrize("file_encoding, configured", [("utf-8-sig", "utf-8"), ("utf-8-sig", "UTF8"), ("utf-8", "utf-8-sig"), ("cp1252", "cp1252"), ("latin-1", "ISO-8859-1")])
def test_configured_encodings(csv_file, file_encoding, configured):
    path = csv_file(f"NIK,NAMA\n{SITI},SITI ÄMINAH\n", encoding=file_encoding)
    _, norm = ingest(make_source(path, encoding=configured))
    assert norm.records["name_raw"].tolist() == ["SITI ÄMINAH"] and norm.records["nik"].tolist() == [SITI]


def test_cp1252_curly_quotes_decode(csv_file):
    path = csv_file(f"NIK,NAMA\n{SITI},SITI “UMI” AMINAH\n", encoding="cp1252")
    _, norm = ingest(make_source(path))
    assert norm.records["name_raw"].tolist() == ["SITI “UMI” AMINAH"]


def test_wrong_configured_encoding_is_one_clear_error(csv_file):
    path = csv_file(f"NIK,NAMA\n{SITI},SITI\n{BUDI},ANDRÉ\n", encoding="cp1252")
    src = make_source(path, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_source(src)
    msg = str(err.value)
    assert "source 'desa'" in msg and str(path) in msg
    assert "line 3" in msg and "0xc9" in msg and "not valid utf-8" in msg
    # The preflight (before any work) says the same.
    with pytest.raises(InputError, match="line 3"):
        preflight(MergeConfig(output_dir="/tmp/unused", sources=[src]))


def test_unknown_encoding_is_a_clear_error_also_in_preflight(csv_file):
    src = make_source(csv_file(f"NIK,NAMA\n{SITI},SITI\n"), encoding="klingon")
    for step in (lambda: read_source(src), lambda: preflight(MergeConfig(output_dir="/tmp/unused", sources=[src]))):
        with pytest.raises(InputError, match="unknown encoding 'klingon'"):
            step()


def test_quoted_delimiters_and_newlines_keep_row_numbers(csv_file):
    text = (
        "NO,NIK,NAMA,ALAMAT\n"
        f'1,{SITI},"AMINAH, SITI","JL. MAWAR NO. 5,\nRT 003 RW 005"\n'
        f'2,{BUDI},BUDI,"KP. BARU\n\nDESA X"\n'
        "3,,,\n"
        f'4,{ANI},"ANI ""UMI"" YANI",GG. XXV\n'
    )
    _, norm = ingest(make_source(csv_file(text), {**NIK_NAME, "address": "ALAMAT"}))
    assert norm.records["row_number"].tolist() == [1, 2, 4]
    assert record(norm, 1)["name_raw"] == "AMINAH, SITI"
    assert (record(norm, 1)["rt"], record(norm, 1)["rw"]) == ("003", "005")
    assert record(norm, 4)["name_raw"] == 'ANI "UMI" YANI'
    assert rejects_by_row(norm) == {3: "no_name_no_nik"}


def test_title_rows_above_the_header_even_with_quoted_newlines(csv_file):
    text = (
        '"DAFTAR PENERIMA BLT DANA DESA\nDESA SUKAMAJU"\n'
        "TAHUN ANGGARAN 2024\n"
        "\n"
        "NIK;NAMA\n"
        f"{SITI};SITI\n"
        f"{BUDI};BUDI\n"
    )
    read, norm = ingest(make_source(csv_file(text)))
    assert read.tables[0].header_row == 4
    assert norm.records["row_number"].tolist() == [1, 2]
    assert norm.records["nik"].tolist() == [SITI, BUDI]
    assert len(norm.rejects) == 0


def test_configured_header_row(csv_file):
    # Row 1 also carries the mapped names (a legend), but the configured header is row 3.
    text = f"NIK,NAMA\n---,---\nNIK,NAMA\n{SITI},SITI\n"
    read, norm = ingest(make_source(csv_file(text), header_row=3))
    assert read.tables[0].header_row == 3
    assert norm.records["nik"].tolist() == [SITI]
    # A header below the rows that detection scans (30) is found when configured.
    long_title = "".join(f"CATATAN {i}\n" for i in range(39)) + f"NIK,NAMA\n{BUDI},BUDI\n"
    read, norm = ingest(make_source(csv_file(long_title, name="long.csv"), header_row=40))
    assert read.tables[0].header_row == 40 and norm.records["nik"].tolist() == [BUDI]


def test_header_not_found_lists_missing_column_and_close_match(csv_file):
    path = csv_file(f"NO,N I K,NAMA LENGKAP\n1,{SITI},SITI\n")
    with pytest.raises(InputError) as err:
        read_source(make_source(path, {"nik": "NIK", "name": "NAMA LGKP"}))
    e = err.value
    assert e.source == "desa" and e.file == str(path)
    assert e.field == "NIK, NAMA LGKP"
    assert "did you mean 'NAMA LENGKAP'?" in str(e)
    assert "the file has: NO, N I K, NAMA LENGKAP" in str(e)


def test_duplicated_header_is_an_error_naming_row_and_column(csv_file):
    path = csv_file(f"TITLE\nNIK,NAMA,NAMA\n{SITI},SITI,AMINAH\n")
    with pytest.raises(InputError) as err:
        read_source(make_source(path))
    assert (err.value.row, err.value.field) == (2, "NAMA")
    assert "appears 2 times" in str(err.value)


def test_duplicated_unmapped_header_is_fine(csv_file):
    path = csv_file(f"NIK,NAMA,KET,KET\n{SITI},SITI,a,b\n")
    _, norm = ingest(make_source(path))
    assert norm.records["nik"].tolist() == [SITI]


def test_rows_with_too_many_or_too_few_fields_are_rejected_at_their_rows(csv_file):
    text = (
        "NIK,NAMA,ALAMAT\n"
        f"{SITI},SITI,JL. MAWAR\n"  # 1
        f"{BUDI},BUDI,JL. MAWAR,EXTRA\n"  # 2: too many
        f'{ANI},"ANI\nYANI",GG. XXV\n'  # 3: two lines, fine
        f"{SITI}\n"  # 4: too few
        f'{BUDI},X,Y,"BUDI,\nSANTOSO"\n'  # 5: two lines (neither a row alone) and too many
        f"{ANI},ANI,GG. XXV\n"  # 6
    )
    _, norm = ingest(make_source(csv_file(text), {**NIK_NAME, "address": "ALAMAT"}))
    assert norm.records["row_number"].tolist() == [1, 3, 6]
    assert rejects_by_row(norm) == {2: "field_count", 4: "field_count", 5: "field_count"}
    bad = norm.rejects.set_index("row_number")
    assert bad.loc[2, "reason"] == "row splits into 4 fields, the header has 3"
    assert bad.loc[4, "reason"] == "row splits into 1 fields, the header has 3"
    assert bad.loc[5, "reason"] == "row splits into 4 fields, the header has 3"
    assert json.loads(bad.loc[5, "raw_values"]) == {"row_text": f'{BUDI},X,Y,"BUDI,\nSANTOSO"'}
    assert bad.loc[2, "record_id"] == "2"


def test_garbage_rows_are_rejected_with_reasons(csv_file):
    text = (
        "DAFTAR PENERIMA\n"
        "NO;NIK;NAMA;JK\n"
        f"1;{SITI};SITI;P\n"  # 1
        ";;;\n"  # 2 blank
        "\n"  # 3 empty line
        "NO;NIK;NAMA;JK\n"  # 4 header again (next page)
        f"2;{BUDI};BUDI;L\n"  # 5
        "3;;;L\n"  # 6 neither name nor NIK
        "4;-;  ;P\n"  # 7 a dash is no NIK, spaces no name
        "5;2222222222222222;;L\n"  # 8 a dummy NIK is no NIK
        f"6;;ANI;P\n"  # 9 a name without NIK is a person
        "JUMLAH;;;\n"  # 10
        "   Total Penerima: 6;;;\n"  # 11
        " ; ;\xa0; \n"  # 12 blank with spaces and a no-break space
    )
    _, norm = ingest(make_source(csv_file(text), {**NIK_NAME, "sex": "JK"}))
    assert norm.records["row_number"].tolist() == [1, 5, 9]
    assert rejects_by_row(norm) == {
        2: "blank_row",
        3: "blank_row",
        4: "header_repeat",
        6: "no_name_no_nik",
        7: "no_name_no_nik",
        8: "no_name_no_nik",
        10: "totals_row",
        11: "totals_row",
        12: "blank_row",
    }
    rej = norm.rejects.set_index("row_number")
    assert rej.loc[6, "field"] == "name,nik"
    assert json.loads(rej.loc[10, "raw_values"]) == {"NO": "JUMLAH", "NIK": "", "NAMA": "", "JK": ""}
    assert set(rej["reason"]) >= {"the row is empty", "the row repeats the header"}


def test_header_only_file_has_zero_rows(csv_file):
    for text in ("NIK,NAMA\n", "NIK,NAMA", "TITLE\r\nNIK,NAMA\r\n"):
        read, norm = ingest(make_source(csv_file(text)))
        assert read.rows_read == 0 and len(norm.records) == 0 and len(norm.rejects) == 0


def test_crlf_line_endings(csv_file):
    text = f"JUDUL\r\nNIK,NAMA\r\n{SITI},SITI\r\n\r\n{BUDI},BUDI\r\n"
    _, norm = ingest(make_source(csv_file(text)))
    assert norm.records["row_number"].tolist() == [1, 3]
    assert norm.records["name"].tolist() == ["SITI", "BUDI"]
    assert rejects_by_row(norm) == {2: "blank_row"}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (b"  \r\n\n", "the file is empty"),
        (bytes(range(256)) * 4, "binary file"),
    ],
)
def test_unreadable_csv_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        read_source(make_source(path))
    assert err.value.source == "desa" and err.value.file == str(path)
    with pytest.raises(InputError, match=message):
        preflight(MergeConfig(output_dir=str(tmp_path / "out"), sources=[make_source(path)]))


def test_xlsx_renamed_csv(tmp_path):
    real = write_xlsx(tmp_path / "real.xlsx", {"Data": [["NIK", "NAMA"], [SITI, "SITI"]]})
    path = tmp_path / "list.csv"
    path.write_bytes(real.read_bytes())
    with pytest.raises(InputError, match="Excel workbook with a .csv name") as err:
        read_source(make_source(path))
    assert err.value.file == str(path)


def test_unclosed_quote_is_read_line_by_line_not_a_giant_reject(csv_file):
    rows = [f"{3201010101700000 + i},NAMA {i}" for i in range(1, 3001)]
    rows[1499] = f'{3201010101701500},"NAMA 1500'  # the quote never closes
    read, norm = ingest(make_source(csv_file("NIK,NAMA\n" + "\n".join(rows) + "\n")))
    assert norm.records["row_number"].tolist() == list(range(1, 3001))
    assert record(norm, 1500)["name_raw"] == '"NAMA 1500' and record(norm, 3000)["name_raw"] == "NAMA 3000"
    check = read.files[0]["check"]
    assert check["stray_quote_rows"]["count"] == 1501 and check["stray_quote_rows"]["rows"][0] == 1500
    assert (check["data_lines"], check["rows_read"], check["agrees"]) == (3000, 3000, True)


def test_identifiers_stay_text(csv_file):
    # Papua NIKs exceed 2^53: read as a float they would lose the last digit.
    text = f"NIK,NO_KK,NAMA,RT,RW,HP\n9171011203650019,9171010101200009,YOHANES,003,010,081234567890\n"
    _, norm = ingest(make_source(csv_file(text), {**NIK_NAME, "kk": "NO_KK", "rt": "RT", "rw": "RW", "phone": "HP"}))
    r = record(norm, 1)
    assert (r["nik"], r["kk"], r["rt"], r["rw"], r["phone"]) == (
        "9171011203650019",
        "9171010101200009",
        "003",
        "010",
        "081234567890",
    )


def test_glob_sources_prefix_row_ids_with_the_file(tmp_path):
    for i, nik in enumerate((SITI, BUDI)):
        (tmp_path / f"desa{i}.csv").write_text(f"NIK,NAMA\n{nik},ORANG {i}\n")
    src = make_source(tmp_path / "desa*.csv")
    read, norm = ingest(src)
    assert [f["rows_read"] for f in read.files] == [1, 1]
    assert all(len(f["sha256"]) == 64 for f in read.files)
    assert norm.records["record_id"].tolist() == ["desa0.csv/1", "desa1.csv/1"]


def test_missing_file_and_empty_glob(tmp_path):
    with pytest.raises(InputError, match="file not found") as err:
        read_source(make_source(tmp_path / "nope.csv"))
    assert err.value.file == str(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no file matches"):
        read_source(make_source(tmp_path / "*.csv"))


@pytest.mark.parametrize("rows, block_bytes", [(None, 1 << 24), (64, 1 << 24), (64, 1024), (1, 300), (500, 700)])
def test_streamed_slices_number_every_row_exactly_around_bad_rows(csv_file, rows, block_bytes):
    """A large extract is read a slice at a time; rows that do not split into the header's
    columns (found mid-stream, after slices were given out) keep their exact row numbers,
    and every good row keeps its own, whatever the slice and block sizes."""
    import csv as csv_module
    import io

    from bansos_merge.ingest.csv_reader import csv_slices

    bad_at = {3, 150, 151, 420, 501}
    lines = []
    for i in range(1, 502):
        if i in bad_at:
            lines.append(f"{i},x,y,z")
        elif i % 97 == 0:
            lines.append(f'{i},"NAME {i}\nWITH A NEWLINE"')  # a quoted newline: one row, two lines
        else:
            lines.append(f"{i},NAME {i}")
    path = csv_file("JUDUL LAPORAN\nNO,NAMA\n" + "\n".join(lines) + "\n")
    src = make_source(path, {"name": "NAMA"})
    tables = list(csv_slices(path, src, rows, block_bytes))

    assert all(len(t.cells) <= (rows or 10**9) for t in tables)
    numbers = np.concatenate([t.row_number for t in tables])
    bad = np.concatenate([t.bad_rows["row_number"].to_numpy(dtype=np.int64) for t in tables])
    assert sorted(bad.tolist()) == sorted(bad_at)
    assert numbers.tolist() == [i for i in range(1, 502) if i not in bad_at]
    expected = [r for r in csv_module.reader(io.StringIO("\n".join(lines))) if len(r) == 2]
    got = [list(r) for t in tables for r in t.cells.itertuples(index=False)]
    assert got == expected
    # Each bad row travels with the slice whose rows surround it.
    for t in tables:
        if len(t.cells) and len(t.bad_rows):
            assert (t.bad_rows["row_number"] < t.row_number[-1]).all() or t is tables[-1]


@pytest.mark.parametrize("rows, block_bytes", [(None, 1 << 24), (64, 1024), (7, 700)])
def test_streamed_slices_around_stray_quotes_and_multiline_values_found_mid_stream(csv_file, rows, block_bytes):
    """Slices already given out when a stray quote (or a value spanning lines with a row's worth
    of delimiters) turns up stay as they were; the rest is read exactly, every row at its number."""
    from bansos_merge.ingest.check import FileCheck
    from bansos_merge.ingest.csv_reader import csv_slices

    lines = [f"{3201010101700000 + i},NAMA {i},JL {i}" for i in range(1, 401)]
    lines[99] = f'{3201010101700100},NAMA 100,"JL 100, RT 1,\nRW 2, DESA X"'  # legit: one of its lines is a row
    lines[249] = f'{3201010101700250},"NAMA 250,JL 250'  # a stray quote ...
    lines[254] = f'{3201010101700255},NAMA 255",JL 255'  # ... closed five rows later
    path = csv_file("NIK,NAMA,ALAMAT\n" + "\n".join(lines) + "\n")
    check = FileCheck("csv")
    tables = list(csv_slices(path, make_source(path, {"nik": "NIK", "name": "NAMA", "address": "ALAMAT"}), rows, block_bytes, check=check))
    numbers = np.concatenate([t.row_number for t in tables])
    assert numbers.tolist() == list(range(1, 401)) and not any(len(t.bad_rows) for t in tables)
    cells = pd.concat([t.cells for t in tables], ignore_index=True)
    assert cells.loc[99, "c2"] == "JL 100, RT 1,\nRW 2, DESA X"
    assert (cells.loc[249, "c1"], cells.loc[250, "c0"], cells.loc[254, "c1"]) == ('"NAMA 250', "3201010101700251", 'NAMA 255"')
    assert (check.data_lines, check.lines_in_values, check.stray_quote_rows) == (401, 1, [250, 251, 252, 253, 254, 255])
