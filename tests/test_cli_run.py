"""`bansos-merge run` as a user runs it (a subprocess): a wrong config or an unreadable input
ends with exit code 2, one message naming source/file/column, no traceback and nothing
written; a good config runs the real Prefect flow end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import write_xlsx

from bansos_merge.contracts import SCHEMA_VERSION

ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
CLI = [sys.executable, "-m", "bansos_merge.cli", "run", "--config"]

DUKCAPIL_CSV = (
    "NIK;NO_KK;NAMA_LGKP;JENIS_KLMIN;TGL_LHR;ALAMAT;NO_RT;NO_RW;KAB_NAME\n"
    "3201014508700001;3201010101200009;SITI AMINAH;PEREMPUAN;05-08-1970;JL. MAWAR;3;5;KAB. BOGOR\n"
    "3201011203650002;3201010101200009;SOEPARMAN;LAKI-LAKI;12-03-1965;JL. MAWAR;3;5;KABUPATEN BOGOR\n"
    ";;;;;;;;\n"
    "3201015112800003;3201010202200001;ANI;P;11-12-1980;GG. XXV RT 001 RW 002;;;KAB. BOGOR\n"
)
DUKCAPIL_COLUMNS = {
    "nik": "NIK",
    "kk": "NO_KK",
    "name": "NAMA_LGKP",
    "sex": "JENIS_KLMIN",
    "birth_date": "TGL_LHR",
    "address": "ALAMAT",
    "rt": "NO_RT",
    "rw": "NO_RW",
    "regency": "KAB_NAME",
}


def _config(folder: Path, sources: list[dict], output_dir: str = "out") -> Path:
    import yaml

    path = folder / "merge.yaml"
    path.write_text(yaml.safe_dump({"output_dir": output_dir, "sources": sources}, sort_keys=False))
    return path


def _csv_source(folder: Path, **overrides) -> dict:
    (folder / "dukcapil.csv").write_text(DUKCAPIL_CSV, encoding="utf-8")
    return {"name": "dukcapil", "path": "dukcapil.csv", "kind": "civil_registry", "columns": dict(DUKCAPIL_COLUMNS), **overrides}


# name -> (build the case in a folder and return the config path, texts the message must contain)
def _unknown_field(d):
    src = _csv_source(d)
    src["columns"]["nama"] = "NAMA_LGKP"
    return _config(d, [src]), ["merge.yaml", "sources[0] (dukcapil).columns.nama", "unknown canonical field 'nama'"]


def _missing_file(d):
    return _config(d, [_csv_source(d, path="hilang.csv")]), ["source 'dukcapil'", "hilang.csv", "file not found"]


def _absent_column(d):
    src = _csv_source(d)
    src["columns"]["name"] = "NAMA_LENGKAP"
    expected = ["source 'dukcapil'", "dukcapil.csv", "field 'NAMA_LENGKAP'", "not found in the header",
                "(did you mean 'NAMA_LGKP'?)"]
    return _config(d, [src]), expected


def _invalid_yaml(d):
    path = d / "merge.yaml"
    path.write_text("output_dir: out\nsources:\n  - name: dukcapil\n    columns: {nik: NIK, name: NAMA\n")
    return path, ["merge.yaml", "not valid YAML"]


def _unknown_setting(d):
    return _config(d, [_csv_source(d, delimeter=";")]), ["merge.yaml", "sources[0] (dukcapil).delimeter", "unknown setting"]


def _unknown_encoding(d):
    return _config(d, [_csv_source(d, encoding="klingon")]), ["source 'dukcapil'", "dukcapil.csv", "unknown encoding"]


def _corrupt_workbook(d):
    (d / "desa.xlsx").write_bytes(b"PK\x03\x04 truncated")
    src = {"name": "desa", "path": "desa.xlsx", "kind": "aid_list", "columns": {"nik": "NIK", "name": "NAMA"}}
    return _config(d, [_csv_source(d), src]), ["source 'desa'", "desa.xlsx", "cannot open as an Excel workbook"]


def _exclusion_list_without_reason(d):
    src = {"name": "bkn", "path": "dukcapil.csv", "kind": "exclusion_list", "columns": {"nik": "NIK", "name": "NAMA_LGKP"}}
    return _config(d, [_csv_source(d), src]), ["merge.yaml", "sources[1] (bkn)", "reason: set it for an exclusion_list"]


def _reason_on_an_aid_list(d):
    src = {"name": "desa", "path": "dukcapil.csv", "kind": "aid_list", "reason": "asn", "columns": {"nik": "NIK"}}
    return _config(d, [_csv_source(d), src]), ["merge.yaml", "sources[1] (desa)", "and only for one"]


def _missing_config(d):
    return d / "tidak-ada.yaml", ["tidak-ada.yaml", "config file not found"]


CASES = {
    f.__name__.strip("_"): f
    for f in (
        _unknown_field,
        _missing_file,
        _absent_column,
        _invalid_yaml,
        _unknown_setting,
        _unknown_encoding,
        _corrupt_workbook,
        _exclusion_list_without_reason,
        _reason_on_an_aid_list,
        _missing_config,
    )
}


@pytest.fixture(scope="module")
def error_runs(tmp_path_factory):
    """Run every error case's CLI at once (they are independent): name -> (result, expected, folder)."""
    started = {}
    for name, build in CASES.items():
        folder = tmp_path_factory.mktemp(name)
        config, expected = build(folder)
        proc = subprocess.Popen(CLI + [str(config)], cwd=folder, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[name] = (proc, expected, folder)
    done = {}
    for name, (proc, expected, folder) in started.items():
        out, err = proc.communicate(timeout=120)
        done[name] = (proc.returncode, out, err, expected, folder)
    return done


@pytest.mark.parametrize("case", list(CASES))
def test_user_errors_exit_2_with_one_message(error_runs, case):
    code, out, err, expected, folder = error_runs[case]
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert err.startswith("bansos-merge: error: ") and err.count("bansos-merge: error:") == 1
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not (folder / "out").exists(), "nothing may be written on a user error"


def _aid_workbook(path: Path) -> None:
    rows = [
        ["DAFTAR PENERIMA BLT DANA DESA SUKAMAJU"],
        ["TAHUN ANGGARAN 2024"],
        [],
        ["NO", "NIK", "NAMA", "JENIS KELAMIN", "TANGGAL LAHIR", "ALAMAT"],
        [1, 3201014508700000, "Hj. Siti Aminah", "P", dt.date(1970, 8, 5), "JL. MAWAR RT.03/RW.05"],
        [2, "3201011203650002", "SUPARMAN", "L", "12/03/1965", "JL MAWAR 003/005"],
        [3, "", "", "", "", ""],
        [4, "3.20101E+15", "BUDI", "LAKI-LAKI", "01-01-1990", "KP. BARU"],
        ["JUMLAH", None, None, None, None, None],
    ]
    write_xlsx(path, {"BLT": rows, "Rekap": [["REKAP"], ["JUMLAH", 3]]}, merge_title={"BLT": 6})


def test_end_to_end_run_through_the_prefect_flow(tmp_path):
    csv_src = _csv_source(tmp_path)
    _aid_workbook(tmp_path / "blt.xlsx")
    aid_src = {
        "name": "blt",
        "path": "blt.xlsx",
        "kind": "aid_list",
        "columns": {"nik": "NIK", "name": "NAMA", "sex": "JENIS KELAMIN", "birth_date": "TANGGAL LAHIR", "address": "ALAMAT"},
        "defaults": {"regency": "KAB. BOGOR"},
    }
    config = _config(tmp_path, [csv_src, aid_src], output_dir="hasil")
    proc = subprocess.run(CLI + [str(config)], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr

    latest = tmp_path / "hasil" / "latest"
    assert latest.is_symlink() and latest.resolve().parent.name == "runs"
    manifest = json.loads((latest / "manifest.json").read_text())
    records = pd.read_parquet(latest / "records.parquet")
    rejects = pd.read_parquet(latest / "rejects.parquet")

    # Every row accounted for, per source, in the manifest and in the files.
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["accounting_ok"] is True
    by_source = {s["source"]: s for s in manifest["sources"]}
    assert set(by_source) == {"dukcapil", "blt"}
    for name, expect in {"dukcapil": (4, 3, 1), "blt": (5, 3, 2)}.items():
        s = by_source[name]
        assert (s["rows_read"], s["accepted"], s["rejected"]) == expect
        assert s["rows_read"] == s["accepted"] + s["rejected"]
        assert (records["source"] == name).sum() == s["accepted"]
        assert (rejects["source"] == name).sum() == s["rejected"]
    assert manifest["totals"] == {"rows_read": 9, "accepted": 6, "rejected": 3}
    for s, file in (("dukcapil", "dukcapil.csv"), ("blt", "blt.xlsx")):
        (entry,) = by_source[s]["files"]
        assert Path(entry["path"]) == tmp_path / file
        assert entry["sha256"] == hashlib.sha256((tmp_path / file).read_bytes()).hexdigest()
    assert by_source["blt"]["files"][0]["sheets_read"] == ["BLT"]
    assert by_source["blt"]["files"][0]["sheets_skipped"] == ["Rekap"]
    assert len(manifest["config_sha256"]) == 64 and manifest["run_id"] == latest.resolve().name

    # record_id: the data row number as a string (no id column configured), unique per source.
    ids = records.groupby("source")["record_id"].apply(list).to_dict()
    assert ids == {"blt": ["1", "2", "4"], "dukcapil": ["1", "2", "4"]}
    assert rejects.set_index(["source", "row_number"])["reason_code"].to_dict() == {
        ("dukcapil", 3): "blank_row",
        ("blt", 3): "no_name_no_nik",
        ("blt", 5): "totals_row",
    }
    blt = records[records["source"] == "blt"].set_index("record_id")
    assert blt.loc["1", "nik_status"] == "precision_lost" and blt.loc["1", "name"] == "SITI AMINAH"
    assert (blt.loc["1", "rt"], blt.loc["1", "rw"]) == ("003", "005")
    assert blt.loc["2", "regency_code"] == "3201"
    assert blt.loc["4", "nik_known_digits"] == "320101"

    # The Parquet files carry their contract version.
    for name in ("records", "rejects"):
        meta = pq.read_schema(latest / f"{name}.parquet").metadata
        assert meta[b"bansos_merge.schema_version"] == SCHEMA_VERSION.encode()
