"""Issue 16 through the real CLI on small real files: a NIK whose region never existed is an
invalid NIK (a retired one only a warning), an exclusion list flags the aid recipients it names
(and no one else), and every output keeps "no NIK" apart from "a wrong NIK"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
CLI = [sys.executable, "-m", "bansos_merge.cli"]

DUKCAPIL = (
    "NIK;NO_KK;NAMA_LGKP;JENIS_KLMIN;TGL_LHR;ALAMAT;KAB_NAME\n"
    "3201014508700001;3201010101200009;SITI AMINAH;P;05-08-1970;JL. MAWAR 3;KAB. BOGOR\n"  # A: aid, and a civil servant
    "3201011203750002;3201010101200010;BUDI SANTOSO;L;12-03-1975;JL. MELATI 5;KAB. BOGOR\n"  # B: a civil servant only
    "3201010102600003;3201010101200011;AGUS SALIM;L;01-02-1960;JL. KENANGA 7;KAB. BOGOR\n"  # C: aid
    "3201016006800004;3201010101200012;DEWI LESTARI;P;20-06-1980;JL. ANGGREK 9;KAB. BOGOR\n"  # D: aid, NIK typo
    "9271011509850001;9271010101200001;YOHANES KAMBU;L;15-09-1985;JL. SORONG 1;KOTA SORONG\n"  # E: Kota Sorong before 2022
    "3201015505550006;3201010101200013;RINA WATI;P;15-05-1955;JL. MAWAR 4;KAB. BOGOR\n"  # F: on no list
)
AID = (
    "NO,NIK,NAMA,TGL_LAHIR,JK\n"
    "1,3201014508700001,SITI AMINAH,05-08-1970,P\n"
    "2,3201010102600003,AGUS SALIM,01-02-1960,L\n"
    "3,3901016006800004,DEWI LESTARI,20-06-1980,P\n"  # province 39 never existed
    "4,9271011509850001,YOHANES KAMBU,15-09-1985,L\n"  # retired region: valid
    "5,,UJANG SUPRIATNA,10-10-1990,L\n"  # no NIK
)
BKN = (
    "NIK,NAMA,TANGGAL_LAHIR,INSTANSI\n"
    "3201014508700001,\"HJ. SITI AMINAH, S.PD\",05-08-1970,DINAS PENDIDIKAN KAB. BOGOR\n"
    "3201011203750002,BUDI SANTOSO,12-03-1975,PEMERINTAH KAB. BOGOR\n"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("oversight")
    (folder / "dukcapil.csv").write_text(DUKCAPIL, encoding="utf-8")
    (folder / "desa.csv").write_text(AID, encoding="utf-8")
    (folder / "bkn.csv").write_text(BKN, encoding="utf-8")
    config = {
        "output_dir": "out",
        "sources": [
            {"name": "dukcapil", "path": "dukcapil.csv", "kind": "civil_registry",
             "columns": {"nik": "NIK", "kk": "NO_KK", "name": "NAMA_LGKP", "sex": "JENIS_KLMIN", "birth_date": "TGL_LHR",
                         "address": "ALAMAT", "regency": "KAB_NAME"}},
            {"name": "desa", "path": "desa.csv", "kind": "aid_list", "id_column": "NO",
             "columns": {"nik": "NIK", "name": "NAMA", "birth_date": "TGL_LAHIR", "sex": "JK"},
             "defaults": {"regency": "KABUPATEN BOGOR", "program": "BLT"}},
            {"name": "bkn", "path": "bkn.csv", "kind": "exclusion_list", "reason": "asn",
             "columns": {"nik": "NIK", "name": "NAMA", "birth_date": "TANGGAL_LAHIR"}},
        ],
    }
    (folder / "merge.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    done = subprocess.run(CLI + ["run", "--config", str(folder / "merge.yaml")], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "out" / "latest"


def _read(run: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / f"{name}.parquet")


def _record(records: pd.DataFrame, source: str, record_id: str) -> pd.Series:
    hit = records[(records["source"] == source) & (records["record_id"] == record_id)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_a_region_that_never_existed_is_an_invalid_nik_and_a_retired_one_a_warning(run):
    records, conflicts = _read(run, "records"), _read(run, "conflicts")
    never = _record(records, "desa", "3")
    assert never["nik_status"] == "region_never_existed" and never["nik_region_status"] == "never_existed"
    assert "nik_region_never_existed" in list(never["flags"])
    retired = _record(records, "desa", "4")
    assert retired["nik_status"] == "valid" and "nik_region_retired" in list(retired["flags"])
    invalid = conflicts[conflicts["kind"] == "invalid_nik"].set_index("record_id")
    assert set(invalid.index) == {"3", "5"}  # neither the retired region nor anything else
    assert (invalid.loc["3", "values"], invalid.loc["3", "severity"]) == ("region_never_existed", "high")
    assert (invalid.loc["5", "values"], invalid.loc["5", "severity"]) == ("missing", "medium")
    assert "never existed" in invalid.loc["3", "explanation"]
    # the damaged NIK is still evidence: DEWI LESTARI's list record is tied to her registry record
    assert never["person_id"] == _record(records, "dukcapil", "4")["person_id"]


def test_no_nik_and_a_wrong_nik_are_counted_apart(run):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["invalid_nik_by_reason"] == {"missing": 1, "region_never_existed": 1}
    assert manifest["conflicts"]["invalid_nik"] == 2
    wrong = pd.read_csv(run / "public" / "aggregates.csv", dtype=str)
    assert {"invalid_nik_missing", "invalid_nik_wrong"} <= set(wrong.columns) and "invalid_nik" not in wrong.columns
    report = ET.fromstring((run / "report.html").read_text(encoding="utf-8").split("\n", 1)[1])
    row = report.find(".//*[@id='table-quality']/tbody/tr[@data-source='desa']")
    cells = {td.get("data-key"): int(td.get("data-value")) for td in row.findall("td") if td.get("data-key")}
    assert (cells["nik_missing"], cells["nik_invalid"], cells["nik_valid"]) == (1, 1, 3)


def test_an_aid_recipient_on_an_exclusion_list_is_ineligible(run):
    records, conflicts, registry = _read(run, "records"), _read(run, "conflicts"), _read(run, "registry")
    ineligible = conflicts[conflicts["kind"] == "ineligible"]
    assert ineligible[["source", "record_id", "severity", "values", "value"]].values.tolist() == [["desa", "1", "high", "asn", "BLT"]]
    assert "asn (bkn:1)" in ineligible["explanation"].iloc[0]
    siti = _record(records, "desa", "1")["person_id"]
    assert _record(records, "bkn", "1")["person_id"] == siti and ineligible["person_id"].iloc[0] == siti
    assert set(records.loc[records["source"] == "bkn", "exclusion_reason"]) == {"asn"}
    assert records.loc[records["source"] != "bkn", "exclusion_reason"].isna().all()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["conflicts"]["ineligible"] == 1


def test_an_excluded_person_who_receives_no_aid_is_no_conflict_and_no_recipient(run):
    records, conflicts, registry = _read(run, "records"), _read(run, "conflicts"), _read(run, "registry")
    budi = _record(records, "bkn", "2")["person_id"]
    assert budi == _record(records, "dukcapil", "2")["person_id"]  # linked like any source
    assert not (conflicts["person_id"] == budi).any()
    person = registry.set_index("person_id").loc[budi]
    assert list(person["programs"]) == [] and sorted(person["sources"]) == ["bkn", "dukcapil"]
    public = pd.read_csv(run / "public" / "aggregates.csv", dtype=str)
    assert len(public) == 1 and public["program"].tolist() == ["BLT"]  # the list's five entries, nothing of bkn


def test_the_workbook_and_the_report_show_the_ineligible(run):
    sheets = pd.read_excel(run / "conflicts.xlsx", sheet_name=None)
    assert "Tidak berhak (dikecualikan)" in sheets
    sheet = sheets["Tidak berhak (dikecualikan)"]
    assert sheet["ID catatan"].astype(str).tolist() == ["1"] and "daftar pengecualian" in sheet["Penjelasan"].iloc[0]
    report = ET.fromstring((run / "report.html").read_text(encoding="utf-8").split("\n", 1)[1])
    row = report.find(".//*[@id='table-kinds']/tbody/tr[@data-kind='ineligible']")
    cells = {td.get("data-key"): int(td.get("data-value")) for td in row.findall("td") if td.get("data-key")}
    assert (cells["conflicts"], cells["high"], cells["records"]) == (1, 1, 1)
