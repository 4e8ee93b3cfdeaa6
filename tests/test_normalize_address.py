"""Addresses: RT/RW in every notation of DOMAIN.md, street tokens, padding; region names to
Kemendagri codes only where unambiguous."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import ingest, make_source, record

from bansos_merge.normalize.address import normalize_addresses, pad_rt_rw
from bansos_merge.normalize.region import resolve_regions
from bansos_merge.textcol import as_text


@pytest.mark.parametrize(
    "raw, street, rt, rw",
    [
        ("JL. MAWAR NO. 5 RT 003 RW 005", "JL MAWAR NO 5", "003", "005"),
        ("JLN MAWAR RT.03/RW.05", "JL MAWAR", "003", "005"),
        ("JALAN MAWAR RT/RW 003/005", "JL MAWAR", "003", "005"),
        ("GG. XXV 003/005", "GG XXV", "003", "005"),
        ("DSN. KRAJAN RT 3 RW 5", "DSN KRAJAN", "003", "005"),
        ("KP. BARU RT:003 RW:005", "KP BARU", "003", "005"),
        ("Jl Mawar rt 1/rw 2", "JL MAWAR", "001", "002"),
        ("RT. 003 / RW. 005", None, "003", "005"),
        ("RT003RW005", None, "003", "005"),
        ("GANG MELATI RT.001 RW.002 KEL. SUKAJADI", "GG MELATI KEL SUKAJADI", "001", "002"),
        ("DUSUN KRAJAN, DESA SUKAMAJU", "DSN KRAJAN DS SUKAMAJU", None, None),
        ("JL SUDIRMAN 12/14", "JL SUDIRMAN 12/14", None, None),  # a house number, not RT/RW
    ],
)
def test_rt_rw_notations_and_tokens(raw, street, rt, rw):
    got = normalize_addresses(as_text([raw])).iloc[0]
    na = lambda v: None if pd.isna(v) else v  # noqa: E731
    assert (na(got["address"]), na(got["rt"]), na(got["rw"])) == (street, rt, rw)


def test_pad_rt_rw():
    got = pad_rt_rw(as_text(["3", "03", "003", "3.0", "RT 3", "0", "", "abc", "1234", None]))
    assert [None if pd.isna(v) else v for v in got] == ["003", "003", "003", "003", "003", None, None, None, None, None]


def test_rt_rw_columns_win_over_the_address_text(csv_file):
    text = "NIK,NAMA,ALAMAT,RT,RW\n3201011203650002,BUDI,JL. MAWAR RT 001 RW 002,7,\n"
    cols = {"nik": "NIK", "name": "NAMA", "address": "ALAMAT", "rt": "RT", "rw": "RW"}
    _, norm = ingest(make_source(csv_file(text), cols))
    r = record(norm, 1)
    assert (r["rt"], r["rw"], r["address"], r["address_raw"]) == ("007", "002", "JL MAWAR", "JL. MAWAR RT 001 RW 002")


def regions(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["province", "regency", "district"]).astype("string[pyarrow]")
    return pd.concat([frame, resolve_regions(frame)], axis=1)


def test_regency_name_variants():
    got = regions(
        [
            ("JAWA BARAT", "KAB. BOGOR", None),
            ("JAWA BARAT", "KABUPATEN BOGOR", None),
            ("JAWA BARAT", "Kabupaten Bogor", None),
            ("JAWA BARAT", "KOTA BOGOR", None),
            ("JAWA BARAT", "BOGOR", None),  # the regency or the city: unresolved, not guessed
            (None, "KAB BOGOR", None),
        ]
    )
    assert got["regency_code"].tolist()[:4] == ["3201", "3201", "3201", "3271"]
    assert pd.isna(got["regency_code"].iloc[4]) and got["province_code"].iloc[4] == "32"
    assert got["regency_code"].iloc[5] == "3201" and got["province_code"].iloc[5] == "32"  # implied parent


def test_districts_resolve_inside_their_regency():
    got = regions([("JAWA BARAT", "KAB. BOGOR", "CIBINONG"), ("JAWA BARAT", "KOTA BOGOR", "BOGOR TENGAH"),
                   ("DKI JAKARTA", "KOTA ADM. JAKARTA SELATAN", "KEBAYORAN BARU")])
    assert got["district_code"].tolist() == ["320101", "327103", "317407"]
    assert got["regency_code"].tolist() == ["3201", "3271", "3174"]


def test_a_row_alone_resolves_as_among_others():
    """A query's one row gets the codes it gets in a merge's frame: ambiguous names, a name
    unique only inside its regency, a village under its district, absent and unknown levels."""
    rows = [("JAWA BARAT", "KAB. BOGOR", "CIBINONG", None), ("JAWA BARAT", "BOGOR", None, None),
            ("DKI JAKARTA", "KOTA ADM. JAKARTA SELATAN", "KEBAYORAN BARU", "GANDARIA UTARA"),
            (None, None, "CIBINONG", None), (None, "KOTA BOGOR", "BOGOR TENGAH", "PALEDANG"),
            ("JAWA TENGAH", "NOWHERE", "NOWHERE", "NOWHERE"), (None, None, None, None), ("JAWA BARAT", "KAB. BOGOR", "CIBINONG", None)]
    frame = pd.DataFrame(rows, columns=["province", "regency", "district", "village"]).astype("string[pyarrow]")
    together = resolve_regions(frame)
    alone = pd.concat([resolve_regions(frame.iloc[[i]]) for i in range(len(frame))])
    pd.testing.assert_frame_equal(alone, together)
    assert together["village_code"].iloc[2] is not pd.NA and together["district_code"].iloc[2] == "317407"
    assert together["district_code"].iloc[4] == "327103" and together.iloc[6].isna().all()
    assert resolve_regions(frame.iloc[:0]).empty


def test_region_flags_in_a_file(csv_file):
    text = (
        "NIK,NAMA,PROVINSI,KABUPATEN\n"
        "3201011203650002,BUDI,JAWA BARAT,KAB. BOGOR\n"
        "3201011203650003,EKO,JAWA BARAT,BOGOR\n"
    )
    cols = {"nik": "NIK", "name": "NAMA", "province": "PROVINSI", "regency": "KABUPATEN"}
    _, norm = ingest(make_source(csv_file(text), cols))
    assert norm.records["regency_code"].tolist()[0] == "3201"
    assert norm.records["regency"].tolist() == ["KAB. BOGOR", "BOGOR"]
    assert ["region_unresolved" in list(f) for f in norm.records["flags"]] == [False, True]


def test_defaults_fill_a_missing_regency(csv_file):
    text = "NIK,NAMA\n3271011203650002,BUDI\n"
    src = make_source(csv_file(text), defaults={"regency": "KOTA BOGOR", "province": "JAWA BARAT"})
    _, norm = ingest(src)
    r = record(norm, 1)
    assert (r["regency"], r["regency_code"], r["province_code"]) == ("KOTA BOGOR", "3271", "32")
