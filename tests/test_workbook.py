"""conflicts.xlsx and NIK masking: real workbooks written by xlsxwriter, read back with openpyxl.

The fixture run (`make_run`, also used by test_report.py) is synthetic but shaped like the
real thing: a civil-registry extract and two aid lists for Central Java regencies, NIKs
built from region + birth date (+40 for women) + serial, the usual NIK damage (missing,
malformed, digits lost in Excel, dummies), and conflicts of every kind with the columns of
the ConflictRow contract. No real person is in it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bansos_merge.contracts import ConflictRow, RecordRow, RejectRow
from bansos_merge.publish import i18n
from bansos_merge.publish.masking import mask_ids_in_text, mask_joined_tagged, mask_nik, mask_tagged
from bansos_merge.publish.workbook import write_conflicts_workbook
from bansos_merge.publish.workbook_content import COLUMNS, conflict_rows, summary_counts
from bansos_merge.regions import load_regions

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("BANSOS_UPDATE_SCREENSHOTS") == "1"

# ---------------------------------------------------------------------------------------
# A synthetic run
# ---------------------------------------------------------------------------------------

REGENCIES = [
    ("3374", "KOTA SEMARANG", 14), ("3321", "KABUPATEN DEMAK", 9), ("3324", "KABUPATEN KENDAL", 8),
    ("3322", "KABUPATEN SEMARANG", 8), ("3315", "KABUPATEN GROBOGAN", 7), ("3320", "KABUPATEN JEPARA", 6),
    ("3319", "KABUPATEN KUDUS", 6), ("3318", "KABUPATEN PATI", 6), ("3317", "KABUPATEN REMBANG", 4),
    ("3316", "KABUPATEN BLORA", 4), ("3325", "KABUPATEN BATANG", 4), ("3326", "KABUPATEN PEKALONGAN", 4),
    ("3375", "KOTA PEKALONGAN", 3), ("3327", "KABUPATEN PEMALANG", 3), ("3328", "KABUPATEN TEGAL", 3),
    ("3376", "KOTA TEGAL", 2), ("3329", "KABUPATEN BREBES", 3), ("3373", "KOTA SALATIGA", 2),
]
VILLAGES = ["SUKOREJO", "KARANGANYAR", "SIDOMULYO", "TAMBAKREJO", "WONOSARI", "PURWOSARI", "MANGUNHARJO",
            "KEDUNGMUNDU", "BANYUMANIK", "NGALIYAN", "SRIWULAN", "BUGANGAN"]
MALE = ["AGUS", "BUDI", "SLAMET", "SUPARMAN", "JOKO", "MUHAMMAD RIZKI", "AHMAD FAUZI", "BAMBANG", "HERU", "WAHYU", "SUGENG", "ROHMAT"]
FEMALE = ["SITI AMINAH", "SRI WAHYUNI", "DWI LESTARI", "NUR HIDAYAH", "RATNA SARI", "ENDANG", "SUMIATI", "TRI WULANDARI",
          "YULIANI", "KARTINI", "MURTINAH", "SUPRIHATIN"]
SURNAMES = ["", "SANTOSO", "PRASETYO", "SETIAWAN", "HANDAYANI", "RAHAYU", "WIBOWO", "KURNIAWAN", "SAPUTRA", "LESTARI"]
SOURCES = [("dukcapil_jateng", "civil_registry", 1.0), ("dtks_kemensos", "aid_list", 0.6), ("bnba_blt_dd", "aid_list", 0.3)]
SEVERITY = {"nik_shared": "high", "multiple_nik": "high", "invalid_nik": "medium", "attribute_mismatch": "medium",
            "deceased": "high", "ineligible": "high", "duplicate_in_source": "medium", "multi_region": "medium",
            "unmatched_civil_registry": "low", "review_needed": "low"}


@dataclass
class Run:
    manifest: dict
    records: pd.DataFrame
    rejects: pd.DataFrame
    conflicts: pd.DataFrame
    review_count: int


def _nik(rng, regency: str, birth: dt.date, sex: str) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{regency}{rng.integers(1, 20):02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.integers(1, 40):04d}"


def _frame(rows: list[dict], model) -> pd.DataFrame:
    cols = list(model.model_fields)
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)


def make_run(n_persons: int = 240, seed: int = 7) -> Run:
    rng = np.random.default_rng(seed)
    weights = np.array([w for _, _, w in REGENCIES], dtype=float)
    persons = []
    for i in range(n_persons):
        sex = "P" if rng.random() < 0.5 else "L"
        first = rng.choice(FEMALE if sex == "P" else MALE)
        last = rng.choice(SURNAMES)
        code, regency, _ = REGENCIES[rng.choice(len(REGENCIES), p=weights / weights.sum())]
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 62)))
        persons.append(
            {"person_id": f"P{i:05d}{rng.integers(16**4):04x}", "name": f"{first} {last}".strip(), "sex": sex, "birth_date": birth,
             "regency": regency, "regency_code": code, "village": rng.choice(VILLAGES), "nik": _nik(rng, code, birth, sex),
             "kk": f"{code}{rng.integers(1, 20):02d}{rng.integers(10**9, 10**10)}", "deceased": rng.random() < 0.02}
        )
    records = []
    for source, kind, share in SOURCES:
        serial = 0
        for p in persons:
            if rng.random() >= share:
                continue
            serial += 1
            status, nik, raw, known = "valid", p["nik"], p["nik"], None
            if kind == "aid_list":
                u = rng.random()
                if u < 0.07:
                    status, nik, raw = "missing", None, None
                elif u < 0.10:
                    status, nik, raw = "malformed", None, p["nik"][:-2]
                elif u < 0.13:
                    status, nik, raw, known = "precision_lost", None, p["nik"][:15] + "0", p["nik"][:15]
                elif u < 0.14:
                    status, nik, raw = "dummy", None, "3333333333333333"
            records.append(
                {**{f: None for f in RecordRow.model_fields}, "person_id": p["person_id"], "link_score": 14.2, "source": source,
                 "source_kind": kind, "source_file": f"{source}_2025.xlsx", "source_sheet": None,
                 "record_id": f"{source.split('_')[0].upper()}-{serial:06d}", "row_number": serial, "nik": nik, "nik_raw": raw,
                 "nik_status": status, "nik_known_digits": known, "kk": p["kk"], "kk_raw": p["kk"], "kk_status": "valid",
                 "name": p["name"], "name_raw": p["name"].title(), "name_key": p["name"], "birth_date": p["birth_date"],
                 "sex": p["sex"], "village": p["village"], "regency": p["regency"], "regency_code": p["regency_code"],
                 "province": "JAWA TENGAH", "province_code": "33", "status": "deceased" if p["deceased"] and kind == "civil_registry" else "alive",
                 "flags": [] if status == "valid" else [f"nik_{status}"]}
            )
    records = _frame(records, RecordRow)

    conflicts: list[dict] = []
    by_person = records.groupby("person_id")
    person = {p["person_id"]: p for p in persons}

    def add(kind: str, rows: pd.DataFrame, field: str | None, values: str, value_of=lambda r: None, regency=None) -> None:
        cid = f"{kind}:" + hashlib.sha1("|".join(rows["source"] + ":" + rows["record_id"]).encode()).hexdigest()[:10]
        for _, r in rows.iterrows():
            p = person[r["person_id"]]
            conflicts.append(
                {"conflict_id": cid, "kind": kind, "severity": SEVERITY[kind], "person_id": r["person_id"], "source": r["source"],
                 "record_id": r["record_id"], "field": field, "values": values, "value": value_of(r),
                 "regency_code": p["regency_code"], "regency": regency(r) if regency else p["regency"],
                 "explanation": f"{kind} (English text from the detector)"}
            )

    aid = records[records["source_kind"] == "aid_list"]
    for _, r in aid[aid["nik_status"].isin(["malformed", "precision_lost", "dummy"])].iterrows():
        add("invalid_nik", r.to_frame().T, "nik", r["nik_status"], lambda x: x["nik_raw"])
    pids = list(by_person.groups)
    for k, pid in enumerate(pids):
        recs = by_person.get_group(pid)
        p = person[pid]
        if k % 23 == 5 and len(recs) > 1:  # a second, valid-looking NIK in an aid list
            other = p["nik"][:-4] + f"{(int(p['nik'][-4:]) + 7) % 10000:04d}"
            add("multiple_nik", recs, "nik", f"{p['nik']}; {other}", lambda x, o=other: o if x["source_kind"] == "aid_list" else p["nik"])
        if k % 17 == 3 and len(recs) > 1:
            wrong = (p["birth_date"] + dt.timedelta(days=365)).isoformat()
            add("attribute_mismatch", recs, "birth_date", f"{p['birth_date'].isoformat()}; {wrong}",
                lambda x, w=wrong: w if x["source_kind"] == "aid_list" else p["birth_date"].isoformat())
        if p["deceased"] and (recs["source_kind"] == "aid_list").any():
            add("deceased", recs, "status", "deceased; alive", lambda x: "deceased" if x["source_kind"] == "civil_registry" else "alive")
        on_aid = recs[recs["source_kind"] == "aid_list"]
        if k % 31 == 9 and len(on_aid):  # on the civil servants' list of BKN
            add("ineligible", on_aid, "exclusion", "asn", lambda x: "PKH")
        if k % 29 == 11:
            dup = recs[recs["source"] == "dtks_kemensos"]
            if len(dup):
                add("duplicate_in_source", pd.concat([dup.head(1), dup.head(1).assign(record_id=dup["record_id"].iloc[0] + "B")]), None, "")
        if k % 19 == 7 and len(recs) > 1:
            there = REGENCIES[(k // 19) % len(REGENCIES)][1]
            add("multi_region", recs, "regency", f"{p['regency']}; {there}", lambda x, t=there: t if x["source_kind"] == "aid_list" else p["regency"],
                lambda x, t=there: t if x["source_kind"] == "aid_list" else p["regency"])
        if k % 37 == 13 and len(recs) > 1:
            add("review_needed", recs.head(2), None, "", regency=None)
    # two people sharing one NIK, across the aid lists
    for a, b in zip(pids[3::41], pids[4::41]):
        ra, rb = by_person.get_group(a), by_person.get_group(b)
        ra, rb = ra[ra["nik"].notna()].head(1), rb[rb["nik"].notna()].head(1)
        if len(ra) and len(rb):
            nik = ra["nik"].iloc[0]
            add("nik_shared", pd.concat([ra, rb]), "nik", nik, lambda x, n=nik: n)
    # aid recipients the civil registry does not know
    for _, r in aid.iloc[::53].iterrows():
        add("unmatched_civil_registry", r.to_frame().T, None, "")
    conflicts = _frame(conflicts, ConflictRow)

    rejects = []
    for source, kind, _ in SOURCES:
        for j, (code, reason) in enumerate([("blank_row", "blank row"), ("totals_row", "totals row"), ("header_repeat", "header repeated"),
                                            ("no_name_no_nik", "no name and no NIK")][: 1 + (len(source) % 4)]):
            for m in range(1 + j * 2):
                rejects.append(
                    {"source": source, "source_file": f"{source}_2025.xlsx", "source_sheet": None, "record_id": f"r{j}{m}",
                     "row_number": 1000 + j * 10 + m, "reason_code": code, "reason": reason, "field": None, "raw_values": "{}"}
                )
    rejects = _frame(rejects, RejectRow)
    summary = []
    for source, kind, _ in SOURCES:
        acc = int((records["source"] == source).sum())
        rj = rejects[rejects["source"] == source]["reason_code"].value_counts().sort_index()
        summary.append({"source": source, "kind": kind, "files": [], "rows_read": acc + int(rj.sum()), "accepted": acc,
                        "rejected": int(rj.sum()), "rejected_by_reason": {k: int(v) for k, v in rj.items()}})
    manifest = {
        "run_id": "20261129T081203Z-a1b2c3",
        "started_at": "2026-11-29T08:12:03+00:00",
        "finished_at": "2026-11-29T08:14:41+00:00",
        "config_sha256": "9f2c1e0b7a4d5f6e8c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f1e2d3c",
        "schema_version": "1.0.0",
        "sources": summary,
        "totals": {k: sum(s[k] for s in summary) for k in ("rows_read", "accepted", "rejected")},
        "accounting_ok": True,
        "linkage": {"persons": len(persons), "match_pairs": 321, "review_pairs": 12},
    }
    return Run(manifest, records, rejects, conflicts, review_count=12)


@pytest.fixture(scope="module")
def run() -> Run:
    return make_run()


def _book(tmp_path: Path, run: Run, name: str = "conflicts.xlsx", **kw) -> openpyxl.Workbook:
    path = tmp_path / name
    write_conflicts_workbook(run.conflicts, run.records, path, **kw)
    return openpyxl.load_workbook(path)


# ---------------------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------------------


def test_mask_nik_examples():
    s = pd.Series(["3374010101900003", " 3374410101900003 ", None, "317101170845000", "3.17101E+15", "12", np.nan, "SITI AMINAH"],
                  index=[5, 5, 6, 7, 8, 9, 10, 11])
    out = mask_nik(s)
    assert list(out.index) == list(s.index)
    assert out.tolist() == ["3374********0003", "3374********0003", None, "317*********000", "3.1*****+15", "**", None, "SI** ****AH"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(min_size=0, max_size=30), st.from_regex(r"[0-9]{10,20}", fullmatch=True)), max_size=20))
def test_mask_never_shows_more_than_8_digits_or_half(values):
    out = mask_nik(pd.Series(values, dtype=object))
    for before, after in zip(values, out):
        if before is None:
            assert after is None
            continue
        shown = [ch for ch in after if ch.isalnum()]
        assert len(re.findall(r"[0-9]", after)) <= 8
        assert len(shown) <= sum(ch.isalnum() for ch in before.strip()) / 2
        assert len(after) == len(before.strip())


def test_mask_ids_inside_text_leaves_dates_and_region_codes():
    text = "NIK 3374010101900003 dan 317101170845000; lahir 1990-01-01; desa 3374010001"
    assert mask_ids_in_text(text) == "NIK 3374********0003 dan 317*********000; lahir 1990-01-01; desa 3374010001"


def test_tags_tell_apart_niks_that_mask_alike_and_add_no_digit():
    key, other_key = b"k" * 16, b"o" * 16
    niks = pd.Series(["3305010101900001", "3305020101900001", "3305010101900001", None, "3305********0001"], index=[3, 3, 4, 5, 6])
    shown = mask_tagged(niks, key)
    assert list(shown.index) == list(niks.index)
    shown = shown.reset_index(drop=True)
    assert shown[0] == shown[2] and shown[0] != shown[1]
    assert shown[0].split(" #")[0] == shown[1].split(" #")[0] == "3305********0001"
    assert all(re.fullmatch(r"\d{4}\*{8}\d{4} #[A-Z]{4}", v) for v in shown[:3])
    assert shown[3] is None
    assert all(len(re.findall(r"[0-9]", v)) <= 8 for v in shown.dropna())
    assert mask_tagged(niks, other_key).iloc[0] != shown[0]  # the tag depends on the key, not on the NIK alone
    joined = mask_joined_tagged(pd.Series(["3305010101900001; 3305020101900001", None, "3305010101900001"]), key)
    assert joined.tolist() == [f"{shown[0]}; {shown[1]}", None, shown[0]]


def test_person_ids_in_text_are_not_masked():
    text = "persons P0812345678901234; PA1B2C3D4E5F60718 carry NIK 3305010101900001"
    assert mask_ids_in_text(text) == "persons P0812345678901234; PA1B2C3D4E5F60718 carry NIK 3305********0001"


def test_languages_have_the_same_strings():
    assert set(i18n.STRINGS["id"]) == set(i18n.STRINGS["en"])
    assert set(i18n.LABELS["id"]) == set(i18n.LABELS["en"])
    for group in i18n.LABELS["id"]:
        assert set(i18n.LABELS["id"][group]) == set(i18n.LABELS["en"][group])
    for kind in i18n.KINDS:
        for lang in i18n.LANGUAGES:
            assert len(i18n.sheet_title(kind, lang)) <= 31
            assert f"explain.{kind}" in i18n.STRINGS[lang]


# ---------------------------------------------------------------------------------------
# The workbook
# ---------------------------------------------------------------------------------------


def _kinds_present(run: Run) -> list[str]:
    return [k for k in i18n.KINDS if k in set(run.conflicts["kind"])]


def test_fixture_has_every_kind(run):
    assert _kinds_present(run) == list(i18n.KINDS)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_sheets_headers_frozen_panes_and_filters(tmp_path, run, lang):
    wb = _book(tmp_path, run, language=lang)
    summary = "Ringkasan" if lang == "id" else "Summary"
    assert wb.sheetnames == [summary] + [i18n.sheet_title(k, lang) for k in _kinds_present(run)]
    headers = [i18n.t(h, lang) for _, h, _ in COLUMNS]
    for kind in _kinds_present(run):
        ws = wb[i18n.sheet_title(kind, lang)]
        n = int((run.conflicts["kind"] == kind).sum())
        assert [c.value for c in ws[1]] == headers
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:P{n + 1}"
        assert ws.max_row == n + 1
        ids = [ws.cell(r, 1).value for r in range(2, n + 2)]
        assert sorted(ids) == sorted(run.conflicts.loc[run.conflicts["kind"] == kind, "conflict_id"])
        for col, (key, header_key, cap) in enumerate(COLUMNS, start=1):
            width = ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width
            assert 6 <= width <= cap + 1, (key, width)
        assert ws.column_dimensions["I"].width >= 40  # explanations are long enough to need room


def test_indonesian_and_english_text(tmp_path, run):
    id_wb = _book(tmp_path, run, "id.xlsx")
    en_wb = _book(tmp_path, run, "en.xlsx", language="en")
    assert "NIK dipakai bersama" in id_wb.sheetnames and "Shared NIK" in en_wb.sheetnames
    assert id_wb["Ringkasan"]["A1"].value.startswith("Ringkasan konflik")
    assert en_wb["Summary"]["A1"].value.startswith("Summary of conflicts")
    id_ws, en_ws = id_wb["Tercatat meninggal"], en_wb["Recorded as deceased"]
    assert id_ws["I2"].value.startswith("Tercatat meninggal") and "di catatan sipil" in id_ws["I2"].value
    assert en_ws["I2"].value.startswith("Recorded as deceased") and "in the civil registry" in en_ws["I2"].value
    assert id_ws["B2"].value == "tinggi" and en_ws["B2"].value == "high"
    mismatch = id_wb["Data diri tidak cocok"]
    assert mismatch["F2"].value == "tanggal lahir"
    assert "berbeda pada tanggal lahir" in mismatch["I2"].value


def _all_text(wb: openpyxl.Workbook) -> str:
    return "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)


def test_niks_masked_by_default(tmp_path, run):
    wb = _book(tmp_path, run)
    assert not re.search(r"\d{12,}", _all_text(wb)), "an identity number was written unmasked"
    ws = wb["NIK dipakai bersama"]
    niks = [ws.cell(r, 11).value for r in range(2, ws.max_row + 1)]
    assert niks and all(re.fullmatch(r"\d{4}\*{8}\d{4} #[A-Z]{4}", v) for v in niks)
    assert all(re.fullmatch(r"\d{4}\*{8}\d{4} #[A-Z]{4}", ws.cell(r, 7).value) for r in range(2, ws.max_row + 1))
    assert "*" * 8 in ws["I2"].value
    assert wb["Ringkasan"]["A2"].value.startswith("NIK dan No. KK disamarkan")


def test_full_niks_with_the_switch(tmp_path, run):
    wb = _book(tmp_path, run, show_full_nik=True)
    ws = wb["NIK dipakai bersama"]
    rec = run.records.set_index(["source", "record_id"])
    for r in range(2, ws.max_row + 1):
        source, record_id = ws.cell(r, 4).value, ws.cell(r, 5).value
        assert ws.cell(r, 11).value == rec.loc[(source, record_id), "nik"]
        assert re.fullmatch(r"\d{16}", ws.cell(r, 7).value)
    assert wb["Ringkasan"]["A2"].value.startswith("PERHATIAN")
    # the invalid NIK sheet shows the raw value the agency sent
    bad = wb["NIK tidak valid"]
    raws = {bad.cell(r, 11).value for r in range(2, bad.max_row + 1)}
    assert "3333333333333333" in raws or any(v and len(v) == 14 for v in raws)


def test_record_fields_joined_and_dates_are_dates(tmp_path, run):
    wb = _book(tmp_path, run)
    rec = run.records.set_index(["source", "record_id"])
    for title in ("Tercatat meninggal", "Data diri tidak cocok"):
        ws = wb[title]
        for r in range(2, ws.max_row + 1):
            key = (ws.cell(r, 4).value, ws.cell(r, 5).value)
            cell = ws.cell(r, 12)
            assert cell.is_date and cell.number_format == "dd/mm/yyyy"
            assert cell.value.date() == rec.loc[key, "birth_date"]
            assert ws.cell(r, 10).value == rec.loc[key, "name"]
            assert ws.cell(r, 13).value == rec.loc[key, "sex"]
            assert ws.cell(r, 14).value == rec.loc[key, "village"]
    en = _book(tmp_path, run, "en.xlsx", language="en")
    assert en["Recorded as deceased"].cell(2, 12).number_format == "yyyy-mm-dd"
    sexes = {en["Attribute mismatch"].cell(r, 13).value for r in range(2, en["Attribute mismatch"].max_row + 1)}
    assert sexes and sexes <= {"M", "F", None}  # L/P are Indonesian letters


def _summary_tables(ws) -> dict[str, dict[str, tuple[int, int, int]]]:
    """The three tables of the summary sheet: {section title: {label: (conflicts, records, persons)}}."""
    tables, current, rows = {}, None, list(ws.iter_rows(min_row=4, values_only=True))
    for i, row in enumerate(rows):
        if row[0] and row[1] is None and i + 1 < len(rows) and rows[i + 1][1] in ("Konflik", "Conflicts"):
            current = tables.setdefault(row[0], {})
        elif current is not None and isinstance(row[1], (int, float)):
            current[row[0]] = tuple(int(v) if v is not None else None for v in row[1:4])
    return tables


def test_summary_counts_equal_the_input(tmp_path, run):
    wb = _book(tmp_path, run)
    tables = _summary_tables(wb["Ringkasan"])
    c = run.conflicts
    kinds = tables["Menurut jenis konflik"]
    for kind in i18n.KINDS:
        sub = c[c["kind"] == kind]
        assert kinds[i18n.label("kind", kind, "id")] == (sub["conflict_id"].nunique(), len(sub), sub["person_id"].nunique())
    assert kinds["Jumlah"][:2] == (c["conflict_id"].nunique(), len(c))
    sources = tables["Menurut sumber data"]
    assert sources == {s: (g["conflict_id"].nunique(), len(g), g["person_id"].nunique()) for s, g in c.groupby("source")}
    regions = tables["Menurut wilayah (kabupaten/kota)"]
    names = load_regions().regions.set_index("code")["name"]
    assert regions == {
        f"{names[code]} ({code[:2]}.{code[2:]})": (g["conflict_id"].nunique(), len(g), g["person_id"].nunique())
        for code, g in c.groupby("regency_code")
    }
    assert "Kabupaten Demak (33.21)" in regions and "Kota Semarang (33.74)" in regions
    counts = list(regions.values())
    assert counts == sorted(counts, key=lambda v: (-v[0], -v[1]))
    # each kind links to its sheet
    link = next(c.hyperlink for c in wb["Ringkasan"]["A"] if c.value == "NIK dipakai bersama")
    assert link is not None and link.location == "'NIK dipakai bersama'!A1"


def test_summary_counts_function_matches_groupby(run):
    counts = summary_counts(run.conflicts)
    assert counts["kind"]["conflicts"].sum() == run.conflicts["conflict_id"].nunique()
    assert counts["kind"]["records"].sum() == len(run.conflicts)
    assert list(counts["kind"].index) == list(i18n.KINDS)


def test_text_stays_text(tmp_path, run):
    """Record ids with leading zeros, and names that look like formulas, are not reinterpreted;
    formula-like text gets a leading apostrophe, so that a CSV export of the sheet stays text."""
    recs = run.records.head(2).copy()
    recs["record_id"] = ["00012", "=1+1"]
    recs["name"] = ["=HYPERLINK(\"http://x\")", "+62 812"]
    conf = run.conflicts.head(2).copy()
    conf["kind"] = "review_needed"
    conf["source"], conf["record_id"] = recs["source"].to_numpy(), recs["record_id"].to_numpy()
    path = tmp_path / "c.xlsx"
    write_conflicts_workbook(conf, recs, path)
    ws = openpyxl.load_workbook(path)["Perlu ditinjau"]
    got = {ws.cell(r, 5).value: ws.cell(r, 10) for r in (2, 3)}
    assert set(got) == {"00012", "'=1+1"}
    assert all(cell.data_type == "s" for cell in got.values())
    assert got["00012"].value == "'=HYPERLINK(\"http://x\")"
    assert got["'=1+1"].value == "'+62 812"


def test_empty_conflicts_and_atomic_overwrite(tmp_path, run):
    path = tmp_path / "conflicts.xlsx"
    path.write_bytes(b"old")
    write_conflicts_workbook(run.conflicts.iloc[0:0], run.records, path, language="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary"]
    assert _summary_tables(wb["Summary"])["By conflict kind"]["Total"][:2] == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conflicts.xlsx"]


def test_failed_write_leaves_no_temp_file(tmp_path, run):
    path = tmp_path / "conflicts.xlsx"
    bad = run.conflicts.drop(columns=["person_id"])
    with pytest.raises(KeyError):
        write_conflicts_workbook(bad, run.records, path)
    with pytest.raises(ValueError):
        write_conflicts_workbook(run.conflicts, run.records, path, language="fr")
    assert list(tmp_path.iterdir()) == []


def test_conflict_rows_sorted_by_kind_then_severity(run):
    rows = conflict_rows(run.conflicts, run.records)
    assert list(dict.fromkeys(rows["kind"])) == list(i18n.KINDS)
    assert len(rows) == len(run.conflicts)


# ---------------------------------------------------------------------------------------
# LibreOffice opens it (and a picture of the summary for the docs)
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed: apt-get install libreoffice-calc-nogui")
def test_libreoffice_opens_the_workbook(tmp_path, run):
    path = tmp_path / "conflicts.xlsx"
    write_conflicts_workbook(run.conflicts, run.records, path)
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(
        ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180, env=env,
    )
    pdf = tmp_path / "conflicts.pdf"
    assert pdf.exists() and pdf.stat().st_size > 5000 and pdf.read_bytes().startswith(b"%PDF")
    if UPDATE_SCREENSHOTS and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "120", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(tmp_path / "summary")], check=True, timeout=120)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "summary.png", SCREENSHOTS / "workbook_summary.png")


def test_tables_as_read_from_the_published_parquet(tmp_path, run):
    """The flow hands over what the contract's parquet files hold: arrow-cast types, dates as date32."""
    import pyarrow.parquet as pq

    from bansos_merge.contracts import ConflictRow, RecordRow
    from bansos_merge.publish.parquet import write_parquet

    write_parquet(run.conflicts, ConflictRow, tmp_path / "conflicts.parquet")
    write_parquet(run.records, RecordRow, tmp_path / "records.parquet")
    conflicts = pq.read_table(tmp_path / "conflicts.parquet").to_pandas()
    records = pq.read_table(tmp_path / "records.parquet").to_pandas()
    out = tmp_path / "out"
    out.mkdir()
    wb = _book(out, type(run)(run.manifest, records, run.rejects, conflicts, 0))
    ws = wb["Tercatat meninggal"]
    assert ws.cell(2, 12).is_date
    assert _summary_tables(wb["Ringkasan"])["Menurut jenis konflik"]["Jumlah"][:2] == (run.conflicts["conflict_id"].nunique(), len(run.conflicts))


def test_conflicts_without_region_are_counted_as_unknown(tmp_path, run):
    conflicts = run.conflicts.copy()
    conflicts.loc[conflicts.index[:12], "regency_code"] = None
    conflicts.loc[conflicts.index[:10], "regency"] = None
    conflicts.loc[conflicts.index[10:12], "regency"] = ""
    conflicts.loc[conflicts.index[12:15], ["regency_code", "regency"]] = [None, "BOGOR"]  # a spelling that resolved to no code
    path = tmp_path / "c.xlsx"
    write_conflicts_workbook(conflicts, run.records, path, language="en")
    book = openpyxl.load_workbook(path)
    regions = _summary_tables(book["Summary"])["By region (regency/city)"]
    unknown = conflicts.iloc[:12]
    assert regions["(region unknown)"] == (unknown["conflict_id"].nunique(), len(unknown), unknown["person_id"].nunique())
    assert regions["BOGOR (as written, no Kemendagri code)"][1] == 3
    assert sum(v[1] for v in regions.values()) == len(conflicts)
