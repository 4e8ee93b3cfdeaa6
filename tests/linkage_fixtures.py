"""Helpers for the linkage, clustering and person-ID tests.

Hand-made agency extracts are written as real files (a Dukcapil CSV, a pipe-delimited DTKS
CSV, a BPNT CSV, a BNBA workbook whose NIKs are Excel numbers) in the column shapes of the
sample generator, next to a merge.yaml, and run through the library path a merge run takes:
load_config -> read_source -> normalize_source -> combine -> link_records -> resolve.

EM needs data, so the hand-made rows are embedded in a synthetic background population
(`generate_sample`): trap rows are appended to its civil-registry file and its lists become
extra sources. Records are named as `SOURCE:RECORD_ID`, as `bansos-merge explain` does.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bansos_merge.cluster.resolve import Resolution, resolve
from bansos_merge.config import MergeConfig, load_config
from bansos_merge.ingest.source import read_source
from bansos_merge.link.comparisons import COMPARISONS
from bansos_merge.link.linker import Links, link_records
from bansos_merge.link.model import FSModel
from bansos_merge.normalize.source import normalize_source
from bansos_merge.publish.outputs import combine
from bansos_merge.sample.generate import COLUMNS, generate_sample
from bansos_merge.sample.writers import BNBA_HEADER, BPNT_HEADER, DTKS_HEADER, DUKCAPIL_HEADER

BACKGROUND_PEOPLE = 3000
BACKGROUND_SEED = 1  # pinned: its two villages (TITISAN in Sukabumi, SADANGKULON in Kebumen) host the traps


# ----------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Place:
    prop_code: str
    prop: str
    kab_code: str
    kab: str
    kec_code: str
    kec: str
    kel_code: str
    kel: str
    birth_place: str

    @property
    def prefix(self) -> str:
        """PPRRDD of a NIK or KK first registered here."""
        return self.prop_code + self.kab_code + self.kec_code


SUKABUMI = Place("32", "JAWA BARAT", "02", "KAB. SUKABUMI", "36", "SUKALARANG", "2004", "TITISAN", "SUKABUMI")
KEBUMEN = Place("33", "JAWA TENGAH", "05", "KAB. KEBUMEN", "22", "SADANG", "2004", "SADANGKULON", "KEBUMEN")


def make_nik(place: Place, born: str, sex: str, serial: int) -> str:
    """PPRRDD + DDMMYY (women: day + 40) + serial, from a 'DD-MM-YYYY' birth date."""
    d, m, y = born.split("-")
    day = int(d) + (40 if sex == "P" else 0)
    return f"{place.prefix}{day:02d}{m}{y[2:]}{serial:04d}"


def make_kk(place: Place, issued: str, serial: int) -> str:
    d, m, y = issued.split("-")
    return f"{place.prefix}{d}{m}{y[2:]}{serial:04d}"


@dataclass(frozen=True)
class Person:
    name: str
    sex: str  # L / P
    born: str  # DD-MM-YYYY
    place: Place
    nik: str
    kk: str
    mother: str = ""
    address: str = ""
    rt: str = "001"
    rw: str = "001"
    relation: str = "KEPALA KELUARGA"
    deceased_on: str = ""  # DD-MM-YYYY: the registry says MATI

    def but(self, **changes) -> Person:
        return replace(self, **changes)


def registry_row(p: Person) -> dict:
    pl = p.place
    return {
        "NIK": p.nik, "NO_KK": p.kk, "NAMA_LGKP": p.name, "JENIS_KLMIN": "LAKI-LAKI" if p.sex == "L" else "PEREMPUAN",
        "TMPT_LHR": pl.birth_place, "TGL_LHR": p.born, "AGAMA": "ISLAM", "STATUS_KAWIN": "KAWIN",
        "STAT_HBKEL": p.relation, "NAMA_LGKP_IBU": p.mother, "ALAMAT": p.address, "NO_RT": p.rt, "NO_RW": p.rw,
        "NO_PROP": pl.prop_code, "PROP_NAME": pl.prop, "NO_KAB": pl.kab_code, "KAB_NAME": pl.kab,
        "NO_KEC": pl.kec_code, "KEC_NAME": pl.kec, "NO_KEL": pl.kel_code, "KEL_NAME": pl.kel,
        "STAT_HIDUP": "MATI" if p.deceased_on else "HIDUP", "TGL_MATI": p.deceased_on,
    }


def dtks_row(record_id: str, p: Person, **blank_or_override) -> dict:
    """A DTKS row of person `p`; keyword overrides by DTKS header (None or '' blanks the cell)."""
    pl = p.place
    row = {
        "IDDTKS": record_id, "PROVINSI": pl.prop, "KABUPATEN_KOTA": pl.kab, "KECAMATAN": pl.kec,
        "DESA_KELURAHAN": pl.kel, "ALAMAT": p.address, "RT": p.rt, "RW": p.rw, "NOMOR_KK": p.kk,
        "NOMOR_NIK": p.nik, "NAMA": p.name, "TANGGAL_LAHIR": p.born, "TEMPAT_LAHIR": pl.birth_place,
        "JENIS_KELAMIN": p.sex, "NAMA_IBU_KANDUNG": p.mother, "PROGRAM": "PKH",
    }
    return _override(row, blank_or_override)


def bpnt_row(record_id: str, p: Person, **blank_or_override) -> dict:
    """A BPNT (food aid) row: card number, name, NIK, KK and region names only."""
    pl = p.place
    row = {
        "NOMOR_KARTU": record_id, "NAMA_PENERIMA": p.name, "NIK_KTP": p.nik, "NOKK_DTKS": p.kk,
        "NMPROP": pl.prop, "NMKAB": pl.kab, "NMKEC": pl.kec, "NMKEL": pl.kel,
    }
    return _override(row, blank_or_override)


def bnba_row(p: Person, nik_number: int, **blank_or_override) -> dict:
    """A village BNBA row whose NIK cell is an Excel number (15 significant digits)."""
    pl = p.place
    row = {
        "NO": None, "NIK": nik_number, "NO KK": p.kk, "NAMA KEPALA KELUARGA": p.name,
        "JENIS KELAMIN": "L" if p.sex == "L" else "P", "TANGGAL LAHIR": p.born, "JUMLAH ANGGOTA KELUARGA": "1",
        "ALAMAT": f"{p.address} RT {p.rt} RW {p.rw}", "RT": p.rt, "RW": p.rw, "DESA": pl.kel, "KECAMATAN": pl.kec,
    }
    return _override(row, blank_or_override)


def _override(row: dict, changes: dict) -> dict:
    for k, v in changes.items():
        assert k in row, f"unknown column {k}"
        row[k] = "" if v is None else v
    return row


def excel_number(nik: str) -> int:
    """What Excel stores for a 16-digit number typed into a General cell: 15 digits, then 0."""
    return int(nik[:15] + "0")


# ----------------------------------------------------------------------------- files


def write_csv(path: Path, header: list[str], rows: list[dict], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return path


def append_registry(path: Path, people: list[Person]) -> dict[str, str]:
    """Append registry rows to a Dukcapil CSV; returns NIK -> record id (the data row number)."""
    text = path.read_text(encoding="utf-8")
    data_rows = sum(1 for _ in csv.reader(text.splitlines())) - 1
    if not text.endswith("\n"):
        text += "\n"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        w = csv.DictWriter(fh, fieldnames=DUKCAPIL_HEADER, lineterminator="\n")
        for p in people:
            w.writerow(registry_row(p))
    return {p.nik: str(data_rows + i + 1) for i, p in enumerate(people)}


def write_bnba_xlsx(path: Path, rows: list[dict]) -> Path:
    """A BNBA workbook: two title rows, the header, rows numbered 1..n; NIK cells are numbers."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("BNBA")
    ws.write_string(0, 0, "DAFTAR PENERIMA BLT DESA")
    ws.write_row(2, 0, BNBA_HEADER)
    for i, r in enumerate(rows, start=1):
        for c, h in enumerate(BNBA_HEADER):
            v = i if h == "NO" else r.get(h, "")
            if isinstance(v, (int, float)):
                ws.write_number(2 + i, c, v)
            elif v:
                ws.write_string(2 + i, c, v)
    wb.close()
    return path


DTKS_SOURCE = {"name": "trap_dtks", "path": "trap_dtks.csv", "kind": "aid_list", "id_column": "IDDTKS",
               "delimiter": "|", "columns": dict(COLUMNS["dtks_xlsx"])}
BPNT_SOURCE = {"name": "trap_bpnt", "path": "trap_bpnt.csv", "kind": "aid_list", "id_column": "NOMOR_KARTU",
               "columns": dict(COLUMNS["bpnt_csv"])}
BNBA_SOURCE = {"name": "trap_bnba", "path": "trap_bnba.xlsx", "kind": "aid_list", "sheet": "BNBA",
               "columns": dict(COLUMNS["bnba_xlsx"]),
               "defaults": {"regency": KEBUMEN.kab, "province": KEBUMEN.prop, "program": "BLT"}}


def background(base: Path, people: int = BACKGROUND_PEOPLE, seed: int = BACKGROUND_SEED) -> Path:
    """A synthetic sample in `base/background-<people>-<seed>` (written once per base)."""
    folder = base / f"background-{people}-{seed}"
    if not (folder / "merge.yaml").exists():
        generate_sample(people, seed, folder)
    return folder


@dataclass
class Extracts:
    """Hand-made rows to embed into a background sample."""

    registry: list[Person] = field(default_factory=list)
    dtks: list[dict] = field(default_factory=list)
    bpnt: list[dict] = field(default_factory=list)
    bnba: list[dict] = field(default_factory=list)


def build_world(folder: Path, bg: Path, extracts: Extracts, drop_background_lists: bool = False) -> tuple[Path, dict]:
    """Copy the background sample into `folder`, append the registry rows, write the lists and
    merge.yaml. Returns the config path and NIK -> Dukcapil record id of the appended rows."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((bg / "merge.yaml").read_text(encoding="utf-8"))
    sources = [s for s in doc["sources"] if not drop_background_lists or s["kind"] == "civil_registry"]
    for s in sources:
        shutil.copy(bg / s["path"], folder / s["path"])
    registry = next(s for s in sources if s["kind"] == "civil_registry")
    reg_ids = append_registry(folder / registry["path"], extracts.registry) if extracts.registry else {}
    if extracts.dtks:
        write_csv(folder / DTKS_SOURCE["path"], DTKS_HEADER, extracts.dtks, "|")
        sources.append(DTKS_SOURCE)
    if extracts.bpnt:
        write_csv(folder / BPNT_SOURCE["path"], BPNT_HEADER, extracts.bpnt)
        sources.append(BPNT_SOURCE)
    if extracts.bnba:
        write_bnba_xlsx(folder / BNBA_SOURCE["path"], extracts.bnba)
        sources.append(BNBA_SOURCE)
    doc["sources"] = sources
    config = folder / "merge.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config, reg_ids


# ----------------------------------------------------------------------------- running


def load_records(config_path: Path) -> tuple[MergeConfig, pd.DataFrame]:
    cfg = load_config(config_path)
    records, _ = combine([normalize_source(read_source(s)) for s in cfg.sources])
    return cfg, records


@dataclass
class World:
    """One library run: the records, scored pairs and the persons, addressable by SOURCE:RECORD_ID."""

    config: MergeConfig
    records: pd.DataFrame
    links: Links
    resolution: Resolution
    registry_ids: dict[str, str] = field(default_factory=dict)  # NIK -> record id of appended registry rows

    def __post_init__(self) -> None:
        keys = self.records["source"].astype(str) + ":" + self.records["record_id"].astype(str)
        assert not keys.duplicated().any()
        self.keys = keys.to_numpy()
        self.position = pd.Series(np.arange(len(keys)), index=keys.to_numpy())
        self.person_ids = pd.Series(self.resolution.person_id, index=keys.to_numpy())

    def reg(self, nik: str) -> str:
        """The key of the appended registry row of this NIK."""
        return f"{self.registry_source}:{self.registry_ids[nik]}"

    @property
    def registry_source(self) -> str:
        return next(s.name for s in self.config.sources if s.kind == "civil_registry")

    def record(self, key: str) -> pd.Series:
        return self.records.iloc[int(self.position[key])]

    def person(self, key: str) -> str:
        return self.person_ids[key]

    def cluster(self, key: str) -> set[str]:
        """Every record that shares `key`'s person_id."""
        return set(self.person_ids.index[self.person_ids.to_numpy() == self.person(key)])

    def partition(self, keys: list[str]) -> list[set[str]]:
        """The full clusters of `keys` (each cluster once)."""
        out: list[set[str]] = []
        for k in keys:
            c = self.cluster(k)
            if c not in out:
                out.append(c)
        return out

    def evidence(self, x: str, y: str) -> dict | None:
        """Levels and weights of the candidate pair (x, y), or None when blocking did not pair them."""
        a, b = sorted((int(self.position[x]), int(self.position[y])))
        pairs = self.links.pairs
        hit = pairs[(pairs["left"] == a) & (pairs["right"] == b)]
        if hit.empty:
            return None
        row = hit.iloc[0]
        out = {"weight": round(float(row["weight"]), 2), "pass": int(row["pass"])}
        for c in COMPARISONS:
            level = int(row[c.name])
            out[c.name] = (c.levels[level] if level >= 0 else "missing", round(float(row[f"w_{c.name}"]), 2))
        return out

    def explain(self, keys: list[str]) -> str:
        """Every pair's evidence among `keys`, for assertion messages."""
        lines = []
        for i, x in enumerate(keys):
            lines.append(f"{x} -> {self.person(x)} name={self.record(x)['name']!r}")
            for y in keys[i + 1 :]:
                lines.append(f"  {x} ~ {y}: {self.evidence(x, y)}")
        return "\n".join(lines)


def run_library(
    config_path: Path,
    registry_ids: dict[str, str] | None = None,
    previous: pd.DataFrame | None = None,
    run_id: str = "run-1",
    known_ids: set[str] | None = None,
    model: FSModel | None = None,
) -> World:
    cfg, records = load_records(config_path)
    lk = cfg.linkage
    links = link_records(records, lk.seed, model, lk.max_block)
    res = resolve(
        records, links, lk.match_threshold, lk.review_threshold, lk.cannot_link_threshold,
        previous, run_id, set(known_ids or ()),
        sources_with_ids={s.name for s in cfg.sources if s.id_column} if previous is not None and "nik" in previous else None,
    )
    return World(cfg, records, links, res, dict(registry_ids or {}))


def assert_clusters(world: World, expected: list[set[str]]) -> None:
    """The full clusters of the listed records are exactly `expected` (nothing more joins them)."""
    keys = [k for group in expected for k in sorted(group)]
    missing = [k for k in keys if k not in world.position.index]
    assert not missing, f"records not found (rejected?): {missing}"
    got = world.partition(keys)
    assert sorted(map(sorted, got)) == sorted(map(sorted, expected)), (
        f"clusters differ\nexpected: {expected}\ngot: {got}\n{world.explain(keys)}"
    )


# ----------------------------------------------------------------------------- small frames

SMALL_COLUMNS = {
    "nik": "NIK", "kk": "NO_KK", "name": "NAMA", "sex": "JK", "birth_date": "TGL_LAHIR", "address": "ALAMAT",
    "rt": "RT", "rw": "RW", "village": "DESA", "district": "KECAMATAN", "regency": "KABUPATEN", "province": "PROVINSI",
    "mother_name": "IBU",
}


def small_row(nik: str = "", name: str = "", born: str = "", place: Place | None = None, kk: str = "", **more) -> dict:
    """One row of a small hand-made list (header names of SMALL_COLUMNS)."""
    row = {"NIK": nik, "NAMA": name, "TGL_LAHIR": born, "NO_KK": kk}
    if place is not None:
        row.update(DESA=place.kel, KECAMATAN=place.kec, KABUPATEN=place.kab, PROVINSI=place.prop)
    row.update(more)
    return row


def small_records(folder: Path, rows: list[dict], kind: str = "aid_list", name: str = "list") -> pd.DataFrame:
    """Normalised records of a small CSV written from `rows` (record i = rows[i])."""
    from bansos_merge.config import SourceConfig

    folder.mkdir(parents=True, exist_ok=True)
    path = write_csv(folder / f"{name}.csv", list(SMALL_COLUMNS.values()), rows, ";")
    src = SourceConfig(name=name, path=str(path), kind=kind, columns=SMALL_COLUMNS, delimiter=";")
    records = normalize_source(read_source(src)).records
    assert len(records) == len(rows), "a hand-made row was rejected"
    return records
