"""Render extracts in the shapes agencies send: Dukcapil CSV, Kemensos xlsx and pipe CSV,
regional BNBA workbooks and Latin-1 semicolon CSVs.

Writers add no rows: each writes exactly the rows of its extract, in order, directly below
the header, so `row_number` in the truth is the extract's row position. They return the
1-based header row (sheet row or CSV record) for the summary.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from ..regions import load_regions
from .corrupt import excel_number
from .extracts import Extract
from .draw import date_parts
from .population import Population

CREATED = dt.datetime(2025, 10, 1, 8, 0, 0)  # fixed document date: byte-identical workbooks

DUKCAPIL_HEADER = [
    "NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "AGAMA", "STATUS_KAWIN", "STAT_HBKEL",
    "NAMA_LGKP_IBU", "ALAMAT", "NO_RT", "NO_RW", "NO_PROP", "PROP_NAME", "NO_KAB", "KAB_NAME", "NO_KEC", "KEC_NAME",
    "NO_KEL", "KEL_NAME", "STAT_HIDUP", "TGL_MATI",
]
DTKS_HEADER = [
    "IDDTKS", "PROVINSI", "KABUPATEN_KOTA", "KECAMATAN", "DESA_KELURAHAN", "ALAMAT", "RT", "RW", "NOMOR_KK",
    "NOMOR_NIK", "NAMA", "TANGGAL_LAHIR", "TEMPAT_LAHIR", "JENIS_KELAMIN", "NAMA_IBU_KANDUNG", "PROGRAM",
]
BPNT_HEADER = ["NOMOR_KARTU", "NAMA_PENERIMA", "NIK_KTP", "NOKK_DTKS", "NMPROP", "NMKAB", "NMKEC", "NMKEL"]
BNBA_HEADER = [
    "NO", "NIK", "NO KK", "NAMA KEPALA KELUARGA", "JENIS KELAMIN", "TANGGAL LAHIR", "JUMLAH ANGGOTA KELUARGA",
    "ALAMAT", "RT", "RW", "DESA", "KECAMATAN",
]
LATIN1_HEADER = ["NO", "NIK", "NO KK", "NAMA", "JK", "TEMPAT/TGL LAHIR", "ALAMAT", "KELURAHAN", "KECAMATAN", "NO HP"]
EXCLUSION_HEADER = ["NO", "NIK", "NAMA", "TEMPAT_LAHIR", "TANGGAL_LAHIR", "JENIS_KELAMIN", "INSTANSI"]  # sample/oversight.py

HEADERS = {
    "dukcapil_csv": DUKCAPIL_HEADER,
    "dtks_xlsx": DTKS_HEADER,
    "bpnt_csv": BPNT_HEADER,
    "bnba_xlsx": BNBA_HEADER,
    "latin1_csv": LATIN1_HEADER,
    "exclusion_csv": EXCLUSION_HEADER,
}


# ------------------------------------------------------------------------------ helpers


@cache
def region_names() -> pd.Series:
    """Region code (digits) -> upper-case name, every level."""
    r = load_regions().regions
    return pd.Series(r["name"].str.upper().to_numpy(), index=r["code"].to_numpy())


def regency_label(names: pd.Series, style: np.ndarray) -> np.ndarray:
    """'KABUPATEN BOGOR' written as KAB. BOGOR (style 0), KABUPATEN BOGOR (1) or BOGOR (2); KOTA kept."""
    s = names.fillna("").astype(str)
    kab = s.str.startswith("KABUPATEN ")
    bare = s.str.replace(r"^KABUPATEN ", "", regex=True)
    out = np.where(kab & (style == 0), "KAB. " + bare, np.where(kab & (style == 2), bare, s))
    return out.astype(object)


def fmt_dates(dates: np.ndarray, order: str = "DMY", sep: str = "-") -> np.ndarray:
    """datetime64 -> 'DD-MM-YYYY' (or MDY/YMD), '' for NaT (vectorised)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    nat = np.isnat(d)
    y, m, day = date_parts(np.where(nat, np.datetime64("2000-01-01"), d))
    ys = pd.Series(y).astype(str).str.zfill(4)
    ms = pd.Series(m).astype(str).str.zfill(2)
    ds = pd.Series(day).astype(str).str.zfill(2)
    parts = {"DMY": (ds, ms, ys), "MDY": (ms, ds, ys), "YMD": (ys, ms, ds)}[order]
    out = (parts[0] + sep + parts[1] + sep + parts[2]).to_numpy(dtype=object)
    out[nat] = ""
    return out


def sex_forms(rng: np.random.Generator, sex: np.ndarray, forms: list[tuple[str, str, float]]) -> np.ndarray:
    """'L'/'P'/'' written in a mix of forms: [(male, female, weight)]."""
    w = np.array([f[2] for f in forms], dtype=float)
    pick = rng.choice(len(forms), size=len(sex), p=w / w.sum())
    male = np.array([f[0] for f in forms], dtype=object)[pick]
    female = np.array([f[1] for f in forms], dtype=object)[pick]
    return np.where(sex == "L", male, np.where(sex == "P", female, "")).astype(object)


def _workbook(path: Path) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
         "strings_to_urls": False},
    )
    wb.set_properties({"created": CREATED, "author": "bansos-merge sample", "title": path.stem})
    return wb


def _title_block(wb, ws, lines: list[str], ncols: int) -> int:
    """Merged title rows; returns the 0-based header row (one blank row may follow the titles)."""
    fmt = wb.add_format({"bold": True, "align": "center"})
    for i, text in enumerate(lines):
        if text:
            ws.merge_range(i, 0, i, ncols - 1, text, fmt)
    return len(lines)


# ------------------------------------------------------------------------------ civil registry


# A registry row's own values, where it has them, instead of its person's (a second registration).
REGISTRY_OVERRIDES = {"nik": "NIK", "kk": "NO_KK", "address": "ALAMAT", "rt": "NO_RT", "rw": "NO_RW"}


def write_dukcapil(ex: Extract, pop: Population, path: Path, chunk: int = 200_000) -> int:
    names = region_names()
    p = pop.people
    persons = ex.rows["person"].to_numpy()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(DUKCAPIL_HEADER) + "\n")
        for lo in range(0, len(persons), chunk):
            sel = p.iloc[persons[lo : lo + chunk]]
            v = sel["village_code"]
            kab = pd.Series(regency_label(sel["regency_code"].map(names), np.zeros(len(sel))), index=sel.index)
            out = pd.DataFrame(
                {
                    "NIK": sel["nik"],
                    "NO_KK": sel["kk"],
                    "NAMA_LGKP": sel["name"],
                    "JENIS_KLMIN": np.where(sel["sex"] == "L", "LAKI-LAKI", "PEREMPUAN"),
                    "TMPT_LHR": sel["birth_place"],
                    "TGL_LHR": fmt_dates(sel["birth_date"].to_numpy()),
                    "AGAMA": sel["religion"],
                    "STATUS_KAWIN": sel["marital"],
                    "STAT_HBKEL": sel["relation"],
                    "NAMA_LGKP_IBU": sel["mother_name"],
                    "ALAMAT": sel["address"],
                    "NO_RT": sel["rt"],
                    "NO_RW": sel["rw"],
                    "NO_PROP": v.str[:2],
                    "PROP_NAME": sel["province_code"].map(names),
                    "NO_KAB": v.str[2:4],
                    "KAB_NAME": kab,
                    "NO_KEC": v.str[4:6],
                    "KEC_NAME": sel["district_code"].map(names),
                    "NO_KEL": v.str[6:10],
                    "KEL_NAME": v.map(names),
                    "STAT_HIDUP": np.where(sel["alive"], "HIDUP", "MATI"),
                    "TGL_MATI": fmt_dates(sel["death_date"].to_numpy()),
                }
            )
            for field, column in REGISTRY_OVERRIDES.items():  # a second registration's own NIK, card, address
                if field in ex.rows:
                    own = ex.rows[field].iloc[lo : lo + chunk].to_numpy(dtype=object)
                    out[column] = np.where(pd.notna(own), own, out[column].to_numpy(dtype=object))
            out.to_csv(fh, header=False, index=False, lineterminator="\n")
    return 1


# ------------------------------------------------------------------------------ Kemensos


def write_dtks(ex: Extract, pop: Population, path: Path, rng: np.random.Generator) -> int:
    names = region_names()
    df = ex.rows
    n = len(df)
    real = (df["garbage"] == "").to_numpy()
    kab = regency_label(df["regency_code"].map(names), rng.choice(3, size=n, p=[0.75, 0.15, 0.1]))
    sex = sex_forms(rng, df["sex"].to_numpy(), [("L", "P", 5), ("LAKI-LAKI", "PEREMPUAN", 3),
                                                 ("Laki-laki", "Perempuan", 1), ("l", "p", 0.3)])
    text_date = fmt_dates(df["birth_date"].to_numpy(), "DMY", "-")
    date_cell = (rng.random(n) < 0.6) & ~np.isnat(df["birth_date"].to_numpy())
    cols = {
        "IDDTKS": df["record_id"].to_numpy(),
        "PROVINSI": df["province_code"].map(names).fillna("").to_numpy(),
        "KABUPATEN_KOTA": kab,
        "KECAMATAN": df["district_code"].map(names).fillna("").to_numpy(),
        "DESA_KELURAHAN": df["village_code"].map(names).fillna("").to_numpy(),
        "ALAMAT": df["address"].to_numpy(),
        "RT": df["rt"].to_numpy(),
        "RW": df["rw"].to_numpy(),
        "NOMOR_KK": df["kk"].to_numpy(),
        "NOMOR_NIK": df["nik"].to_numpy(),
        "NAMA": df["name"].to_numpy(),
        "TANGGAL_LAHIR": np.where(date_cell, "", text_date),
        "TEMPAT_LAHIR": df["birth_place"].to_numpy(),
        "JENIS_KELAMIN": sex,
        "NAMA_IBU_KANDUNG": df["mother_name"].to_numpy(),
        "PROGRAM": df["program"].to_numpy(),
    }
    for c in ("KABUPATEN_KOTA", "KECAMATAN", "DESA_KELURAHAN", "JENIS_KELAMIN"):
        cols[c] = np.where(real | (df["garbage"] == "no_name_no_nik").to_numpy(), cols[c], "")
    matrix = pd.DataFrame(cols)[DTKS_HEADER].fillna("").astype(str).to_numpy()
    wb = _workbook(path)
    ws = wb.add_worksheet("DTKS")
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    n_titles = int(rng.integers(2, 5))
    titles = ["DATA TERPADU KESEJAHTERAAN SOSIAL (DTKS)", "DAFTAR PENERIMA BANTUAN SOSIAL PKH DAN BPNT",
              "KONDISI DATA: SEPTEMBER 2025", ""][:n_titles]
    header = _title_block(wb, ws, titles, len(DTKS_HEADER))
    ws.write_row(header, 0, DTKS_HEADER)
    dcol = DTKS_HEADER.index("TANGGAL_LAHIR")
    bdates = df["birth_date"].to_numpy()
    for i in range(n):
        r = header + 1 + i
        ws.write_row(r, 0, matrix[i].tolist())
        if date_cell[i]:
            ws.write_datetime(r, dcol, bdates[i].astype("datetime64[D]").item(), datefmt)
    wb.close()
    return header + 1


def write_bpnt(ex: Extract, pop: Population, path: Path, rng: np.random.Generator) -> int:
    names = region_names()
    df = ex.rows
    kab = regency_label(df["regency_code"].map(names), np.zeros(len(df)))
    out = pd.DataFrame(
        {
            "NOMOR_KARTU": df["record_id"].to_numpy(),
            "NAMA_PENERIMA": df["name"].to_numpy(),
            "NIK_KTP": df["nik"].to_numpy(),
            "NOKK_DTKS": df["kk"].to_numpy(),
            "NMPROP": df["province_code"].map(names).fillna("").to_numpy(),
            "NMKAB": kab,
            "NMKEC": df["district_code"].map(names).fillna("").to_numpy(),
            "NMKEL": df["village_code"].map(names).fillna("").to_numpy(),
        }
    )
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="|", lineterminator="\n")
        w.writerow(BPNT_HEADER)
        w.writerows(out.fillna("").astype(str).itertuples(index=False, name=None))
    return 1


# ------------------------------------------------------------------------------ regional offices


def write_bnba(ex: Extract, pop: Population, path: Path, rng: np.random.Generator) -> int:
    names = region_names()
    df = ex.rows
    n = len(df)
    g = df["garbage"].to_numpy()
    real = g == ""
    order = ex.options.get("date_order", "DMY")
    other = "DMY" if order == "MDY" else "MDY"
    sex = sex_forms(rng, df["sex"].to_numpy(), [("LAKI-LAKI", "PEREMPUAN", 4), ("L", "P", 3),
                                                 ("Laki-laki", "Perempuan", 2)])
    bd = df["birth_date"].to_numpy()
    u = rng.random(n)
    date_cell = (u < 0.5) & ~np.isnat(bd)
    text = np.where(u < 0.9, fmt_dates(bd, order, "/"), fmt_dates(bd, other, "/"))
    size = df["hh_size"].to_numpy().astype(np.int64)
    size = np.where(rng.random(n) < 0.05, np.maximum(1, size + rng.choice([-1, 1], n)), size)
    numeric = df["nik_numeric"].to_numpy()
    kk_numeric = numeric | (rng.random(n) < 0.5) & ex.options.get("numeric_nik", False)
    desa = df["village_code"].map(names).fillna("").to_numpy()
    kec = df["district_code"].map(names).fillna("").to_numpy()
    rname = names.get(ex.regency_code, "")
    niks, kks, nm = df["nik"].to_numpy(), df["kk"].to_numpy(), df["name"].to_numpy()
    addr, rt, rw = df["address"].to_numpy(), df["rt"].to_numpy(), df["rw"].to_numpy()

    wb = _workbook(path)
    ws = wb.add_worksheet("BNBA")
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    idfmt = wb.add_format({"num_format": "0"})
    n_titles = int(rng.integers(2, 5))
    titles = ["DAFTAR PENERIMA BANTUAN LANGSUNG TUNAI (BLT)", f"DINAS SOSIAL {rname}", "TAHUN ANGGARAN 2025",
              ""][:n_titles]
    header = _title_block(wb, ws, titles, len(BNBA_HEADER))
    ws.write_row(header, 0, BNBA_HEADER)
    no = 0
    for i in range(n):
        r = header + 1 + i
        if g[i] == "blank":
            continue
        if g[i] == "totals":
            ws.write_string(r, 0, "JUMLAH")
            ws.write_number(r, 6, int(size[real].sum()))
            continue
        no += 1
        ws.write_number(r, 0, no)
        if g[i] == "no_name_no_nik":  # a pre-numbered row left empty
            ws.write_string(r, 10, desa[i])
            continue
        nik, kk = niks[i], kks[i]
        if numeric[i]:
            ws.write_number(r, 1, excel_number(nik), idfmt)
        elif nik:
            ws.write_string(r, 1, nik)
        if kk and kk.isdigit() and kk_numeric[i]:
            ws.write_number(r, 2, excel_number(kk), idfmt)
        elif kk:
            ws.write_string(r, 2, kk)
        ws.write_string(r, 3, nm[i])
        if sex[i]:
            ws.write_string(r, 4, sex[i])
        if date_cell[i]:
            ws.write_datetime(r, 5, bd[i].astype("datetime64[D]").item(), datefmt)
        elif text[i]:
            ws.write_string(r, 5, text[i])
        ws.write_number(r, 6, int(size[i]))
        if addr[i]:
            ws.write_string(r, 7, addr[i])
        if rt[i]:
            ws.write_number(r, 8, int(rt[i]))  # Excel drops the leading zeros
        if rw[i]:
            ws.write_number(r, 9, int(rw[i]))
        ws.write_string(r, 10, desa[i])
        ws.write_string(r, 11, kec[i])
    # a summary sheet without the data header (an office's usual second sheet)
    rk = wb.add_worksheet("REKAP")
    rk.write_row(0, 0, ["REKAPITULASI PER DESA"])
    rk.write_row(2, 0, ["DESA", "JUMLAH KK"])
    counts = pd.Series(desa[real]).value_counts().sort_index()
    for j, (d, c) in enumerate(counts.items()):
        rk.write_string(3 + j, 0, d)
        rk.write_number(3 + j, 1, int(c))
    wb.close()
    return header + 1


RTRW_NOTATIONS = (
    lambda rt, rw: f"RT {rt} RW {rw}",
    lambda rt, rw: f"RT.{rt[1:]}/RW.{rw[1:]}",
    lambda rt, rw: f"RT/RW {rt}/{rw}",
    lambda rt, rw: f"{rt}/{rw}",
    lambda rt, rw: f"RT {int(rt)} RW {int(rw)}",
)


def write_latin1(ex: Extract, pop: Population, path: Path, rng: np.random.Generator, newline_rate: float,
                 min_newlines: int) -> int:
    names = region_names()
    df = ex.rows
    n = len(df)
    g = df["garbage"].to_numpy()
    real = g == ""
    sex = sex_forms(rng, df["sex"].to_numpy(), [("L", "P", 6), ("Laki-laki", "Perempuan", 2), ("LK", "PR", 1)])
    bd = df["birth_date"].to_numpy()
    u = rng.random(n)
    dates = np.where(u < 0.85, fmt_dates(bd, "DMY", "-"), fmt_dates(bd, "DMY", "/"))
    place = df["birth_place"].fillna("").to_numpy()
    sep = np.where(rng.random(n) < 0.8, ", ", ",")
    tgl = np.where(dates == "", place, np.where(place == "", dates, place + sep + dates)).astype(object)
    notation = rng.integers(0, len(RTRW_NOTATIONS), n)
    addr = df["address"].to_numpy().copy()
    rt, rw = df["rt"].to_numpy(), df["rw"].to_numpy()
    has_rt = (rt != "") & (rw != "")
    rtrw = np.array(
        [RTRW_NOTATIONS[k](a, b) if h else "" for k, a, b, h in zip(notation, rt, rw, has_rt)], dtype=object
    )
    joiner = np.where((addr != "") & (rtrw != ""), " ", "")
    # Alt+Enter inside the address cell: one CSV record spanning two lines
    k = max(min_newlines, rng.binomial(n, newline_rate)) if newline_rate > 0 else 0
    cand = np.flatnonzero(real & (addr != "") & (rtrw != ""))
    nl = rng.choice(cand, size=min(k, len(cand)), replace=False) if len(cand) else np.empty(0, dtype=int)
    joiner[nl] = "\n"
    addr = addr + joiner + rtrw
    phone = df["phone"].fillna("").to_numpy()
    ph = rng.random(n)
    phone = np.where((phone != "") & (ph < 0.2), "62" + pd.Series(phone).str[1:].to_numpy(dtype=object), phone)
    kel = df["village_code"].map(names).fillna("").to_numpy()
    kec = df["district_code"].map(names).fillna("").to_numpy()
    rname = names.get(ex.regency_code, "")
    empty = [""] * len(LATIN1_HEADER)
    with open(path, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(["DAFTAR PENERIMA BANTUAN SOSIAL DAERAH"] + empty[1:])
        w.writerow([f"DINAS SOSIAL {rname}"] + empty[1:])
        w.writerow(empty)
        header = 4
        w.writerow(LATIN1_HEADER)
        no = 0
        for i in range(n):
            if g[i] == "blank":
                w.writerow(empty)
            elif g[i] == "header_repeat":
                w.writerow(LATIN1_HEADER)
            elif g[i] == "totals":
                w.writerow([str(int(real.sum())), "", "", "JUMLAH"] + empty[4:])
            elif g[i] == "no_name_no_nik":
                no += 1
                w.writerow([str(no), "", "", "", "", "", "", kel[i], kec[i], ""])
            else:
                no += 1
                w.writerow([str(no), df["nik"].iat[i], df["kk"].iat[i], df["name"].iat[i], sex[i], tgl[i], addr[i],
                            kel[i], kec[i], phone[i]])
    return header
