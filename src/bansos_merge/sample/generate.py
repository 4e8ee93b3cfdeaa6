"""`generate_sample`: a synthetic population, the agency extracts, merge.yaml and the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from .doubles import add_double_registrations
from .extracts import Extract, build_aid_extracts, build_civil_registry, ensure_listed_conditions, plan_lists
from .oversight import EXCLUSION_COLUMNS, oversight_extracts, write_exclusion
from .population import build_population
from .rates import CorruptionRates
from .truth import CONDITION_KINDS, conditions, truth_rows, write_truth
from .writers import region_names, write_bnba, write_bpnt, write_dtks, write_dukcapil, write_latin1

COLUMNS = {
    "dukcapil_csv": {
        "nik": "NIK", "kk": "NO_KK", "name": "NAMA_LGKP", "sex": "JENIS_KLMIN", "birth_place": "TMPT_LHR",
        "birth_date": "TGL_LHR", "mother_name": "NAMA_LGKP_IBU", "address": "ALAMAT", "rt": "NO_RT", "rw": "NO_RW",
        "province": "PROP_NAME", "regency": "KAB_NAME", "district": "KEC_NAME", "village": "KEL_NAME",
        "status": "STAT_HIDUP", "death_date": "TGL_MATI",
    },
    "dtks_xlsx": {
        "nik": "NOMOR_NIK", "kk": "NOMOR_KK", "name": "NAMA", "sex": "JENIS_KELAMIN", "birth_place": "TEMPAT_LAHIR",
        "birth_date": "TANGGAL_LAHIR", "mother_name": "NAMA_IBU_KANDUNG", "address": "ALAMAT", "rt": "RT",
        "rw": "RW", "province": "PROVINSI", "regency": "KABUPATEN_KOTA", "district": "KECAMATAN",
        "village": "DESA_KELURAHAN", "program": "PROGRAM",
    },
    "bpnt_csv": {
        "nik": "NIK_KTP", "kk": "NOKK_DTKS", "name": "NAMA_PENERIMA", "province": "NMPROP", "regency": "NMKAB",
        "district": "NMKEC", "village": "NMKEL",
    },
    "bnba_xlsx": {
        "nik": "NIK", "kk": "NO KK", "name": "NAMA KEPALA KELUARGA", "sex": "JENIS KELAMIN",
        "birth_date": "TANGGAL LAHIR", "address": "ALAMAT", "rt": "RT", "rw": "RW", "village": "DESA",
        "district": "KECAMATAN",
    },
    "latin1_csv": {
        "nik": "NIK", "kk": "NO KK", "name": "NAMA", "sex": "JK", "birth_place_date": "TEMPAT/TGL LAHIR",
        "address": "ALAMAT", "village": "KELURAHAN", "district": "KECAMATAN", "phone": "NO HP",
    },
    "exclusion_csv": EXCLUSION_COLUMNS,
}
PROGRAM_DEFAULT = {"bnba_xlsx": "BLT", "latin1_csv": "BANSOS DAERAH"}


def generate_sample(people: int, seed: int, out_dir: Path, rates: CorruptionRates | None = None) -> dict:
    """Write a synthetic sample of `people` persons into `out_dir`; same (people, seed) -> same files.

    Writes dukcapil.csv, kemensos_dtks.xlsx, kemensos_bpnt.csv, one regional list per office
    (dinsos_*.xlsx / dinsos_*.csv), an exclusion list (bkn_asn.csv), merge.yaml and
    truth/{rows,conditions,people}.parquet.
    Returns a summary: files written, rows per source, conditions per kind.
    """
    rates = rates or CorruptionRates()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A fifth stream for the oversight extracts, a sixth for the registry's double registrations:
    # the first four are those of spawn(4), unchanged.
    streams = np.random.SeedSequence(seed).spawn(6)
    r_pop, r_plan, r_rows, r_write, r_oversight, r_doubles = (np.random.default_rng(s) for s in streams)

    pop = build_population(r_pop, people, rates)
    plans = plan_lists(r_plan, pop, rates)
    ensure_listed_conditions(r_plan, pop, plans, rates)
    registry = add_double_registrations(r_doubles, pop, build_civil_registry(pop), rates)
    extracts = [registry] + build_aid_extracts(r_rows, pop, plans, rates)
    extracts += oversight_extracts(r_oversight, pop, extracts, rates)

    header_rows = {}
    for ex, s in zip(extracts, r_write.spawn(len(extracts))):
        header_rows[ex.name] = _write(ex, pop, out_dir / ex.filename, s, rates)

    rows = truth_rows(extracts, pop)
    cond = conditions(extracts, pop)
    write_truth(out_dir / "truth", rows, cond, pop)
    (out_dir / "merge.yaml").write_text(merge_yaml(extracts, pop), encoding="utf-8")

    counts = cond["kind"].value_counts()
    return {
        "people": int(people),
        "seed": int(seed),
        "households": int(len(pop.households)),
        "regencies": pop.regencies["regency_code"].tolist(),
        "files": [ex.filename for ex in extracts] + ["merge.yaml", "truth/rows.parquet",
                                                     "truth/conditions.parquet", "truth/people.parquet"],
        "sources": {
            ex.name: {
                "file": ex.filename,
                "header_row": header_rows[ex.name],
                "rows": int(len(ex.rows)),
                "records": int((ex.rows["garbage"] == "").sum()),
                "garbage": {k: int(v) for k, v in ex.rows.loc[ex.rows["garbage"] != "", "garbage"].value_counts()
                            .sort_index().items()},
            }
            for ex in extracts
        },
        "conditions": {k: int(counts.get(k, 0)) for k in CONDITION_KINDS},
    }


def _write(ex: Extract, pop, path: Path, rng: np.random.Generator, rates: CorruptionRates) -> int:
    if ex.fmt == "dukcapil_csv":
        return write_dukcapil(ex, pop, path)
    if ex.fmt == "dtks_xlsx":
        return write_dtks(ex, pop, path, rng)
    if ex.fmt == "bpnt_csv":
        return write_bpnt(ex, pop, path, rng)
    if ex.fmt == "bnba_xlsx":
        return write_bnba(ex, pop, path, rng)
    if ex.fmt == "latin1_csv":
        return write_latin1(ex, pop, path, rng, rates.address_newline, 1 if rates.address_newline > 0 else 0)
    if ex.fmt == "exclusion_csv":
        return write_exclusion(ex, path, rng)
    raise ValueError(ex.fmt)


def merge_yaml(extracts: list[Extract], pop) -> str:
    names = region_names()
    sources = []
    for ex in extracts:
        src: dict = {"name": ex.name, "path": ex.filename, "kind": ex.kind}
        if ex.kind == "exclusion_list":
            src["reason"] = ex.options["reason"]
        if ex.id_column:
            src["id_column"] = ex.id_column
        src["columns"] = dict(COLUMNS[ex.fmt])
        if ex.regency_code:
            src["defaults"] = {
                "regency": names[ex.regency_code],
                "province": names[ex.regency_code[:2]],
                "program": PROGRAM_DEFAULT[ex.fmt],
            }
        if ex.fmt == "bpnt_csv":  # the card list is the BPNT programme's
            src["defaults"] = {"program": "BPNT"}
        if ex.fmt == "bnba_xlsx":
            src["sheet"] = "BNBA"
        if ex.fmt != "bpnt_csv":
            src["date_order"] = ex.options.get("date_order", "DMY")
        sources.append(src)
    doc = {"output_dir": "out", "sources": sources}
    head = (
        "# Synthetic sample written by `bansos-merge sample` (no real personal data).\n"
        "# header_row, delimiter and encoding are left to the ingest's detection.\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
