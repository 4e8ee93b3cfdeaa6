"""Names: titles split off, aliases and BIN/BINTI, the comparison key that folds old spelling
and MUHAMMAD forms without rewriting the stored name. Sex codes."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import ingest, make_source, record

from bansos_merge.normalize.names import normalize_names
from bansos_merge.normalize.sex import normalize_sex
from bansos_merge.textcol import as_text


def names(values) -> pd.DataFrame:
    return normalize_names(as_text(values))


def one(value: str) -> dict:
    return names([value]).iloc[0].to_dict()


@pytest.mark.parametrize(
    "raw, name, titles",
    [
        ("H. SOEPARMAN", "SOEPARMAN", "H."),
        ("Hj. Siti Aminah, S.Pd", "SITI AMINAH", "HJ. S.PD"),
        ("DRS. H. MOCH. DJOKO SANTOSO, M.M.", "MOCH DJOKO SANTOSO", "DRS. H. M.M."),
        ("PROF. DR. IR. H. BUDI, M.SI", "BUDI", "PROF. DR. IR. H. M.SI"),
        ("IR. BUDI S.T.", "BUDI", "IR. S.T."),
        ("BUDI S.KOM", "BUDI", "S.KOM"),
        ("BUDI SANTOSO, SE, MM", "BUDI SANTOSO", "SE MM"),
        ("HAJI ABDUL ROZAK", "ABDUL ROZAK", "HAJI"),
        ("  siti   aminah  ", "SITI AMINAH", None),
    ],
)
def test_titles_are_split_off(raw, name, titles):
    got = one(raw)
    assert got["name"] == name
    assert (None if pd.isna(got["name_titles"]) else got["name_titles"]) == titles


def test_a_comma_before_a_name_is_not_a_degree():
    got = one("SITI, AMINAH")
    assert got["name"] == "SITI AMINAH" and pd.isna(got["name_titles"])


def test_muhammad_variants_share_one_key_and_keep_their_spelling():
    variants = ["MUHAMMAD RIZKI", "MUHAMAD RIZKI", "M. RIZKI", "MOH. RIZKI", "MOCH. RIZKI", "MOCHAMAD RIZKI",
                "MOCHAMMAD RIZKI", "MUH. RIZKI", "MHD. RIZKI", "MOHD. RIZKI", "Mohammad Rizki"]
    got = names(variants)
    assert got["name_key"].nunique() == 1
    assert got["name_key"].iloc[0] == one("MUHAMMAD RIZKI")["name_key"]
    assert got["name"].tolist()[2] == "M RIZKI"  # the stored name is not rewritten


@pytest.mark.parametrize(
    "old, new",
    [("SOEPARMAN", "SUPARMAN"), ("DJOKO", "JOKO"), ("TJIPTO", "CIPTO"), ("NJOMAN", "NYOMAN"), ("SJAHRIR", "SYAHRIR"),
     ("CHAIRUL", "KHAIRUL"), ("SOEMARNI", "SUMARNI"), ("ST. AMINAH", "SITI AMINAH")],
)
def test_old_spelling_folds_in_the_key_only(old, new):
    a, b = one(old), one(new)
    assert a["name_key"] == b["name_key"]
    assert a["name"] != b["name"]  # SOEPARMAN stays SOEPARMAN


def test_aliases():
    got = names(["TAN HOK LIANG / BUDI SANTOSO", "BUDI ALIAS ABENG", "SITI ALS UMI", "A/B"])
    assert got["name"].tolist() == ["TAN HOK LIANG", "BUDI", "SITI", "A"]
    assert got["name_alias"].tolist() == ["BUDI SANTOSO", "ABENG", "UMI", "B"]


def test_bin_binti():
    got = names(["AHMAD BIN ABDULLAH", "SITI BINTI SALEH", "NUR BT. HASAN"])
    assert got["name"].tolist() == ["AHMAD BIN ABDULLAH", "SITI BINTI SALEH", "NUR BT HASAN"]
    assert got["name_patronym"].tolist() == ["ABDULLAH", "SALEH", "HASAN"]
    assert got["name_key"].tolist() == ["AHMAD", "SITI", "NUR"]


def test_fathers_initial_with_a_dot():
    got = one("MAWARDI.Z")
    assert got["name"] == "MAWARDI Z" and got["name_key"] == "MAWARDI Z"


def test_accents_apostrophes_and_empty_names():
    got = names(["SUSANTÍ", "MA’RUF", "", None, "123", "---"])
    assert got["name"].tolist()[:2] == ["SUSANTI", "MA'RUF"]
    assert got["name_key"].tolist()[1] == "MARUF"
    assert got["name"].iloc[2:].isna().all()


def test_names_in_a_file(csv_file):
    text = "NIK,NAMA,NAMA IBU\n3201011203650002,\"DRS. H. SOEPARMAN, M.M.\",Hj. Siti\n"
    _, norm = ingest(make_source(csv_file(text), {"nik": "NIK", "name": "NAMA", "mother_name": "NAMA IBU"}))
    r = record(norm, 1)
    assert (r["name"], r["name_titles"], r["name_key"], r["name_raw"]) == (
        "SOEPARMAN",
        "DRS. H. M.M.",
        "SUPARMAN",
        "DRS. H. SOEPARMAN, M.M.",
    )
    assert r["mother_name"] == "SITI"


@pytest.mark.parametrize(
    "raw, sex",
    [("L", "L"), ("l", "L"), ("LAKI-LAKI", "L"), ("Laki-laki", "L"), ("LAKI - LAKI", "L"), ("LK", "L"), ("PRIA", "L"),
     ("1", "L"), ("1.0", "L"), ("P", "P"), ("p", "P"), ("PEREMPUAN", "P"), ("Perempuan", "P"), ("WANITA", "P"),
     ("2", "P"), (" P ", "P")],
)
def test_sex_codes(raw, sex):
    got = normalize_sex(as_text([raw]))
    assert got["sex"].iloc[0] == sex and not got["unparsed"].iloc[0]


def test_sex_unparsed_and_missing():
    got = normalize_sex(as_text(["X", "3", "", None]))
    assert got["sex"].isna().all()
    assert got["unparsed"].tolist() == [True, True, False, False]


def test_muhammad_in_the_old_spelling_shares_the_key():
    # TJ is the old C: MOTJHAMAD is MOCHAMAD, found only once the spelling is folded.
    got = names(["MOTJHAMAD FAUZI", "MOTJH. FAUZI", "MOCHAMAD FAUZI", "MUHAMMAD FAUZI"])
    assert got["name_key"].nunique() == 1
    assert one("MOCHTAR FAUZI")["name_key"] != one("MOCHAMAD FAUZI")["name_key"]
