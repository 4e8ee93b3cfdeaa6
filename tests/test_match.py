"""`bansos-merge match` against a real run (review_fixtures' sample): every row answered, the
known answers found, the outputs masked and written where asked, the user's mistakes one
clear error; and the candidate lookup finds what blocking finds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from bansos_merge.cli import main
from bansos_merge.link.blocking import candidate_pairs
from bansos_merge.link.features import build_link_frame
from bansos_merge.match.index import CandidateIndex
from bansos_merge.match.latest import LINK_COLUMNS, load_latest
from match_fixtures import COLUMNS, NEW_NIK, proposals
from review_fixtures import built_run, copy_output


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return built_run(tmp_path_factory)


@pytest.fixture(scope="module")
def asked(run, tmp_path_factory):
    """The proposal list, matched once through the real CLI into its own folder."""
    folder = tmp_path_factory.mktemp("proposals")
    expected = proposals(run.output_dir / "latest", run.household, folder / "usulan.xlsx")
    out = folder / "answers"
    done = subprocess.run(
        [sys.executable, "-m", "bansos_merge.cli", "match", "--output", str(run.output_dir), "--input", str(folder / "usulan.xlsx"),
         "--columns", COLUMNS, "--to", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return {"expected": expected, "out": out, "stdout": done.stdout, "input": folder / "usulan.xlsx",
            "rows": pd.read_parquet(out / "match_results.parquet")}  # fmt: skip


def test_every_row_is_answered_in_the_lists_order(asked):
    rows = asked["rows"]
    assert rows["row_number"].tolist() == sorted(asked["expected"])
    assert rows["sheet"].eq("USULAN").all()
    assert "9 rows" in asked["stdout"] and "4 matched, 1 ambiguous, 1 not_found, 3 rejected" in asked["stdout"]


def test_the_known_answers(asked, run):
    rows = asked["rows"].set_index("row_number")
    for number, want in asked["expected"].items():
        got = rows.loc[number]
        assert got["status"] == want.status, (number, got["status"], got["decision"])
        assert got["person_id"] == want.person_id, number
        if want.status == "matched":
            assert got["decision"] == "match" and got["match_weight"] >= 6.0, number
        if want.vital_status:
            assert got["vital_status"] == want.vital_status, number
        if want.status == "matched":
            assert set(got["conflicts"]) == want.conflicts, number
            assert got["in_civil_registry"] is not None and len(got["sources"]) >= 1
        if want.candidates:
            assert want.candidates <= set(got["candidates"]), number
        assert got["reason_code"] == want.reason_code, number
    # The ambiguous row names no person, and no person's facts.
    ambiguous = rows.loc[6]
    assert ambiguous["person_id"] is None and ambiguous["vital_status"] is None and len(ambiguous["candidates"]) >= 2
    # What the registry says of a matched person is what registry.parquet says.
    registry = pd.read_parquet(run.output_dir / "latest" / "registry.parquet").set_index("person_id")
    for number in (1, 3, 4):
        got = rows.loc[number]
        person = registry.loc[got["person_id"]]
        assert got["vital_status"] == person["status"] and bool(got["in_civil_registry"]) == bool(person["in_civil_registry"])
        assert list(got["programs"]) == list(person["programs"]) and list(got["sources"]) == list(person["sources"])
    assert "dukcapil" in rows.loc[1, "sources"]


def test_niks_are_masked_in_both_files(asked):
    rows = asked["rows"]
    assert rows["nik"].dropna().str.fullmatch(r"\d{4}\*{8}\d{4}").all()
    assert rows["person_nik"].dropna().str.fullmatch(r"\d{4}\*{8}\d{4}").all()
    sheet = CalamineWorkbook.from_path(str(asked["out"] / "match_results.xlsx")).get_sheet_by_name("results").to_python()
    cells = " ".join(str(c) for row in sheet for c in row)
    assert not re.search(r"\d{16}", cells) and NEW_NIK[:4] + "********" + NEW_NIK[-4:] in cells
    parquet = (asked["out"] / "match_results.parquet").read_bytes()
    assert NEW_NIK.encode() not in parquet
    assert sheet[0][: len(rows.columns)] == list(rows.columns) and len(sheet) == len(rows) + 1


def test_results_carry_their_contract_and_run(asked, run):
    import pyarrow.parquet as pq

    meta = pq.read_schema(asked["out"] / "match_results.parquet").metadata
    assert meta[b"bansos_merge.contract"] == b"MatchResultRow"
    assert meta[b"bansos_merge.run_id"].decode() == json.loads((run.output_dir / "latest" / "manifest.json").read_text())["run_id"]


def test_default_folder_is_the_inputs_and_the_run_is_not_changed(asked, run, tmp_path, capsys):
    listing = tmp_path / "usulan.xlsx"
    shutil.copy(asked["input"], listing)
    latest = run.output_dir / "latest"
    before = {p.name: p.stat().st_mtime_ns for p in latest.iterdir()}
    assert main(["match", "--config", str(run.config), "--output", str(run.output_dir), "--input", str(listing), "--columns", COLUMNS]) == 0
    assert (tmp_path / "match_results.xlsx").is_file() and (tmp_path / "match_results.parquet").is_file()
    assert not list(tmp_path.glob(".*.tmp"))
    assert {p.name: p.stat().st_mtime_ns for p in latest.iterdir()} == before
    out = capsys.readouterr().out
    assert "ZEFANYA" not in out and NEW_NIK not in out
    again = pd.read_parquet(tmp_path / "match_results.parquet")
    pd.testing.assert_frame_equal(again, asked["rows"])


def test_a_source_config_maps_the_list(asked, run, tmp_path):
    yaml_path = tmp_path / "usulan.yaml"
    mapping = dict(part.split("=") for part in COLUMNS.split(","))
    yaml_path.write_text("sheet: USULAN\nid_column: \"NO\"\ncolumns:\n" + "".join(f"  {f}: {h}\n" for f, h in mapping.items()))
    assert main(["match", "--output", str(run.output_dir), "--input", str(asked["input"]), "--source-config", str(yaml_path),
                 "--to", str(tmp_path)]) == 0  # fmt: skip
    rows = pd.read_parquet(tmp_path / "match_results.parquet")
    assert rows["status"].tolist() == asked["rows"]["status"].tolist()
    assert rows.loc[rows["row_number"] == 1, "record_id"].item() == "1"  # the NO column


def test_what_the_reader_noted_is_said_and_every_row_still_answered(run, tmp_path, capsys):
    """A quote typed into a name (`"JOHN` ... `DOE"`): the rows are read line by line, as in a
    run, the console says which rows (never their values), and each row has its answer."""
    listing = tmp_path / "usulan.csv"
    listing.write_text('NIK,NAMA\n3201010101900001,"JOHN\n3201010101900002,BUDI\n3201010101900003,DOE"\n3201010101900004,SITI\n')
    assert main(["match", "--output", str(run.output_dir), "--input", str(listing), "--columns", "nik=NIK,name=NAMA"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "rows 1, 2, 3" in err and "JOHN" not in err and "3201010101900001" not in err
    rows = pd.read_parquet(tmp_path / "match_results.parquet")
    assert rows["row_number"].tolist() == [1, 2, 3, 4] and rows["status"].eq("not_found").all()


# ----------------------------------------------------------------------------- errors


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("bansos-merge: error: ") and "Traceback" not in err
    return err


def test_an_unknown_column_names_the_file_row_and_field(asked, run, tmp_path, capsys):
    err = _error(["match", "--output", str(run.output_dir), "--input", str(asked["input"]), "--columns", "nik=NIK,name=NAMA LENGKAP",
                  "--to", str(tmp_path)], capsys)  # fmt: skip
    assert "usulan.xlsx" in err and "field 'NAMA LENGKAP'" in err and "row 3" in err
    err = _error(["match", "--output", str(run.output_dir), "--input", str(asked["input"]), "--columns", "nik=NIK,nama=NAMA"], capsys)
    assert "unknown canonical field 'nama'" in err
    assert not list(tmp_path.iterdir())


def test_an_empty_file_and_a_header_without_rows(run, tmp_path, capsys):
    empty = tmp_path / "kosong.csv"
    empty.write_bytes(b"")
    err = _error(["match", "--output", str(run.output_dir), "--input", str(empty), "--columns", "nik=NIK,name=NAMA"], capsys)
    assert "kosong.csv" in err
    header_only = tmp_path / "header.csv"
    header_only.write_text("NIK,NAMA\n")
    err = _error(["match", "--output", str(run.output_dir), "--input", str(header_only), "--columns", "nik=NIK,name=NAMA"], capsys)
    assert "header.csv" in err and "row 1" in err and "no data rows" in err
    assert not list(tmp_path.glob("match_results.*"))


def test_an_absent_or_incompatible_registry(asked, run, tmp_path, capsys):
    argv = ["--input", str(asked["input"]), "--columns", COLUMNS, "--to", str(tmp_path / "answers")]
    err = _error(["match", "--output", str(tmp_path / "nothing"), *argv], capsys)
    assert "no published run" in err
    old = copy_output(run, tmp_path / "old")
    manifest = old / "latest" / "manifest.json"
    doc = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**doc, "schema_version": "0.9.0"}))
    err = _error(["match", "--output", str(old), *argv], capsys)
    assert "manifest.json" in err and "field 'schema_version'" in err and "'0.9.0'" in err
    manifest.write_text(json.dumps(doc))
    (old / "latest" / "registry.parquet").unlink()
    err = _error(["match", "--output", str(old), *argv], capsys)
    assert "registry.parquet" in err
    assert not (tmp_path / "answers").exists()


def test_neither_mapping_is_refused(asked, run, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["match", "--output", str(run.output_dir), "--input", str(asked["input"])])
    assert stop.value.code == 2 and "--source-config" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the lookup


def test_the_lookup_finds_what_blocking_finds(run):
    """Blocking the run's records together with new rows (the same sample's aid records,
    changed: no NIK, or a NIK one digit off) pairs each new row with the run records that
    the index finds for it, pass for pass."""
    records = pd.read_parquet(run.output_dir / "latest" / "records.parquet", columns=list(LINK_COLUMNS), dtype_backend="pyarrow")
    rng = np.random.default_rng(5)
    new = records[records["source_kind"] == "aid_list"].sample(40, random_state=3).reset_index(drop=True)
    nik = new["nik"].astype(object).to_numpy()
    off = nik[20:].copy()
    for i, v in enumerate(off):  # one digit changed in the serial or the date
        if isinstance(v, str):
            pos = int(rng.integers(6, 16))
            off[i] = v[:pos] + str((int(v[pos]) + 1) % 10) + v[pos + 1 :]
    new["nik"] = pd.Series(np.r_[[None] * 20, off], dtype=new["nik"].dtype)
    both = pd.concat([records, new], ignore_index=True)
    pairs, _ = candidate_pairs(build_link_frame(both), max_block=200)
    n = len(records)
    cross = pairs[(pairs["left"] < n) & (pairs["right"] >= n)]
    expected = set(zip(cross["right"] - n, cross["left"]))
    rows, found = CandidateIndex(build_link_frame(records)).lookup(build_link_frame(new), max_block=200)
    assert set(zip(rows.tolist(), found.tolist())) == expected
    assert len(expected) > 40


def test_the_loaded_run_is_the_published_one(run):
    loaded = load_latest(run.output_dir)
    records = pd.read_parquet(run.output_dir / "latest" / "records.parquet", columns=["person_id"])
    registry_ids = loaded.registry.column("person_id").to_numpy(zero_copy_only=False)
    assert (registry_ids[loaded.person] == records["person_id"].to_numpy()).all()
    manifest = json.loads((run.output_dir / "latest" / "manifest.json").read_text())
    assert loaded.thresholds.match == manifest["linkage_config"]["match_threshold"]
    assert loaded.thresholds.max_block == manifest["linkage_config"]["max_block"]
