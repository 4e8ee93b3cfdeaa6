"""conflicts.xlsx and the report's regency chart as an officer gets them: the bundled sample merged
by the real CLI (once with publish.language id, once en), the workbook read back with openpyxl and
checked against the run's own Parquet files."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from bansos_merge.publish import i18n
from bansos_merge.regions import load_regions

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
TAGGED = r"\d{4}\*{8}\d{4} #[A-Z]{4}"
# The sheet's columns (1-based), as COLUMNS orders them.
C_PERSON, C_SOURCE, C_RECORD, C_FIELD, C_VALUE, C_VALUES, C_EXPLAIN, C_NIK, C_REGENCY, C_WRITTEN = 3, 4, 5, 6, 7, 8, 9, 11, 15, 16


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """lang -> the published run folder of the bundled sample merged in that language."""
    folder = tmp_path_factory.mktemp("wb") / "sample"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("out"))
    config = yaml.safe_load((folder / "merge.yaml").read_text())
    procs = {}
    for lang in ("id", "en"):
        path = folder / f"merge_{lang}.yaml"
        path.write_text(yaml.safe_dump({**config, "output_dir": f"out_{lang}", "publish": {**config.get("publish", {}), "language": lang}}))
        cmd = [sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(path)]
        procs[lang] = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for lang, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, out[-3000:] + err[-3000:]
    first = (folder / "out_id" / "latest").resolve()
    again = subprocess.run(procs["id"].args, env=ENV, capture_output=True, text=True, timeout=900)  # a second run, same output
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    return {"id": folder / "out_id" / "latest", "en": folder / "out_en" / "latest", "id_before": first}


@pytest.fixture(scope="module")
def books(runs) -> dict[str, openpyxl.Workbook]:
    return {lang: openpyxl.load_workbook(run / "conflicts.xlsx") for lang, run in runs.items()}


def test_tags_stay_from_run_to_run_of_one_output(books, runs):
    """The key is kept beside the runs: the next run tags each NIK as the last one did."""
    shown = [
        {(r[C_SOURCE], r[C_RECORD]): r[C_NIK] for r in sheet_rows(books[run], "multiple_nik", "id")} for run in ("id_before", "id")
    ]
    assert runs["id"].resolve() != runs["id_before"]
    assert shown[0] and shown[0] == shown[1]
    key = runs["id"].parent / "runs" / ".output.key"
    assert not (runs["id"].parent / "state").exists()  # the analysts' folder is theirs
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    en = {(r[C_SOURCE], r[C_RECORD]): r[C_NIK] for r in sheet_rows(books["en"], "multiple_nik", "en")}
    assert {k: v.split(" #")[0] for k, v in en.items()} == {k: v.split(" #")[0] for k, v in shown[1].items()}
    assert en != shown[1]  # another output folder, another key


@pytest.fixture(scope="module")
def records(runs) -> pd.DataFrame:
    return pd.read_parquet(runs["id"] / "records.parquet").set_index(["source", "record_id"])


def sheet_rows(book: openpyxl.Workbook, kind: str, lang: str) -> list[tuple]:
    ws = book[i18n.sheet_title(kind, lang)]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows, f"the sample has no {kind} conflict"
    return [(None, *r) for r in rows]  # 1-based like the column constants


@pytest.mark.parametrize("lang", ["id", "en"])
def test_invalid_nik_shows_the_reason_in_words(books, records, lang):
    rows = sheet_rows(books[lang], "invalid_nik", lang)
    labels = i18n.LABELS[lang]["nik_status"]
    for r in rows:
        status = records.loc[(r[C_SOURCE], r[C_RECORD]), "nik_status"]
        assert r[C_VALUES] == labels[status], (r[C_VALUES], status)
        assert "*" not in r[C_VALUES]
    shown = {r[C_VALUES] for r in rows}
    assert len(shown) >= 4  # the sample carries several reasons
    if lang == "id":
        assert {"kosong", "No. KK di kolom NIK", "kode wilayah tidak pernah ada", "digit hilang di Excel"} <= shown


def test_two_niks_of_one_person_stay_distinguishable(books, records):
    rows = sheet_rows(books["id"], "multiple_nik", "id")
    shown_of_nik: dict[str, str] = {}
    for r in rows:
        nik = records.loc[(r[C_SOURCE], r[C_RECORD]), "nik"]
        assert re.fullmatch(TAGGED, r[C_NIK]) and r[C_VALUE] == r[C_NIK]
        assert shown_of_nik.setdefault(nik, r[C_NIK]) == r[C_NIK], "one NIK shown two ways"
        assert r[C_NIK][:4] == nik[:4] and r[C_NIK][12:16] == nik[12:]  # the mask is not weakened
    assert len(set(shown_of_nik.values())) == len(shown_of_nik), "two NIKs shown alike"
    per_conflict = pd.DataFrame([(r[1], r[C_VALUES], records.loc[(r[C_SOURCE], r[C_RECORD]), "nik"]) for r in rows],
                                columns=["conflict", "values", "nik"])
    alike = 0
    for _, g in per_conflict.groupby("conflict"):
        listed = g["values"].iloc[0].split("; ")
        assert sorted(listed) == sorted(shown_of_nik[n] for n in g["nik"].unique())
        alike += len({v.split(" #")[0] for v in listed}) < len(listed)  # masked alike, told apart by the tag
    assert alike > 0, "the sample should hold a person whose NIKs mask alike"
    # no identity number unmasked (conflict, person and record IDs are IDs, not identity numbers)
    assert not re.search(r"\d{12,}", "\n".join(str(v) for r in rows for i, v in enumerate(r) if v is not None and i not in (1, C_PERSON, C_RECORD)))


def test_person_ids_whole_on_shared_nik(books):
    rows = sheet_rows(books["id"], "nik_shared", "id")
    persons = pd.DataFrame([(r[1], r[C_PERSON], r[C_VALUES]) for r in rows], columns=["conflict", "person", "values"])
    for _, g in persons.groupby("conflict"):
        listed = g["values"].iloc[0].split("; ")
        assert all(re.fullmatch(r"P[0-9A-F]{16}", p) for p in listed)
        assert sorted(listed) == sorted(g["person"].unique())
        assert all(p in g["values"].iloc[0] for p in g["person"])


def test_deceased_row_shows_the_status_not_the_program(books, records, runs):
    registry = pd.read_parquet(runs["id"] / "registry.parquet").set_index("person_id")
    rows = sheet_rows(books["id"], "deceased", "id")
    for r in rows:
        record = records.loc[(r[C_SOURCE], r[C_RECORD])]
        assert r[C_FIELD] == "status hidup"
        assert r[C_VALUE] != record["program"]
        assert r[C_VALUE] in {*i18n.LABELS["id"]["status"].values(), i18n.t("value.status_not_recorded", "id")}
        died = pd.Timestamp(registry.loc[r[C_PERSON], "death_date"])
        assert r[C_VALUES] == f"meninggal {died:%d/%m/%Y}"
        assert f"program catatan ini: {record['program']}" in r[C_EXPLAIN]


# Machine words that must not reach an Indonesian officer: codes of reasons, statuses, fields.
_MACHINE = re.compile(r"\b(?:weight|deceased|alive|unknown|record_id|review_band|names_differ|dates_differ|ambiguous_match|"
                      r"two_civil_registry_niks|region_never_existed|kk_as_nik|precision_lost|missing|malformed|dummy|asn)\b")


def test_no_english_machine_words_in_the_indonesian_workbook(books, runs):
    sources = set(pd.read_parquet(runs["id"] / "records.parquet", columns=["source"])["source"])
    text = []
    for ws in books["id"]:
        for row in ws.iter_rows(values_only=True):
            for i, v in enumerate(row, start=1):
                # the data's own words (names, villages, spellings, source names, ids) are not the tool's
                if isinstance(v, str) and not (ws.title != "Ringkasan" and i in (C_PERSON, C_SOURCE, C_RECORD, 10, 13, 14, C_WRITTEN)):
                    text.append(v)
    joined = "\n".join(text)
    for s in sources:
        joined = joined.replace(s, "")
    assert not _MACHINE.findall(joined)
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", joined)  # no snake_case code
    headers = [c.value for c in books["id"][i18n.sheet_title("duplicate_in_source", "id")][1]]
    assert "record_id" not in headers and "Kabupaten/kota (seperti tertulis)" in headers
    fields = {r[C_FIELD] for r in sheet_rows(books["id"], "duplicate_in_source", "id")}
    assert fields == {"ID catatan"}
    review = sheet_rows(books["id"], "review_needed", "id")
    assert all(re.fullmatch(r"bobot -?\d+,\d", r[C_VALUE]) for r in review)
    assert all(re.search(r" \(bobot -?\d+,\d\)$", r[C_VALUES]) for r in review)
    en_review = sheet_rows(books["en"], "review_needed", "en")
    assert all(re.search(r" \(weight -?\d+\.\d\)$", r[C_VALUES]) for r in en_review)


def _labels(codes: pd.Series) -> pd.Series:
    names = load_regions().regions.set_index("code")["name"]
    return codes.map(lambda c: f"{names[c]} ({c[:2]}.{c[2:]})")


def test_regencies_grouped_by_kemendagri_code(books, runs):
    conflicts = pd.read_parquet(runs["id"] / "conflicts.parquet")
    coded = conflicts[conflicts["regency_code"].notna()]
    spellings = coded.groupby("regency_code")["regency"].nunique()
    assert (spellings > 1).any(), "the sample should spell one regency several ways"
    expected = coded.groupby(_labels(coded["regency_code"]))["conflict_id"].nunique()
    summary = books["id"]["Ringkasan"]
    rows = [r for r in summary.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[0] == i18n.t("summary.by_region", "id")) + 2
    table = {r[0]: r[1] for r in rows[start:] if r[0] and r[1] is not None}
    assert {k: v for k, v in table.items() if k != i18n.t("summary.unknown_region", "id")} == expected.to_dict()
    # the sheets: the Kemendagri label, and the spelling as written in its own column
    for kind in ("invalid_nik", "multiple_nik", "multi_region"):
        for r in sheet_rows(books["id"], kind, "id"):
            if r[C_WRITTEN] is not None:
                assert r[C_REGENCY] in set(expected.index), r[C_REGENCY]
    written = {r[C_WRITTEN] for r in sheet_rows(books["id"], "invalid_nik", "id")}
    assert len(written - {None}) > 2
    for r in sheet_rows(books["id"], "multi_region", "id"):
        assert set(r[C_VALUES].split("; ")) <= {n.rsplit(" (", 1)[0] for n in expected.index}


def test_report_regency_chart_grouped_by_code(runs):
    conflicts = pd.read_parquet(runs["en"] / "conflicts.parquet")
    coded = conflicts[conflicts["regency_code"].notna()]
    expected = coded.groupby(_labels(coded["regency_code"]))["conflict_id"].nunique()
    page = (runs["en"] / "report.html").read_text()
    chart = re.search(r'<figure id="chart-region">(.*?)</figure>', page, re.S).group(1)
    bars = {html.unescape(label): int(n) for n, label in re.findall(r'<li data-value="(\d+)"><span class="bar-label">([^<]*)</span>', chart)}
    assert {k: v for k, v in bars.items() if not k.startswith("(")} == expected.to_dict()
    for spelling in set(coded["regency"]):
        assert f'<span class="bar-label">{spelling}</span>' not in chart
