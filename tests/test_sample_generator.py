"""The synthetic-data generator: real files read back, truth checked against them.

One 2,000-person sample is generated per module (and a second one for determinism); every
check reads the written files with the csv module, pandas or python-calamine.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from python_calamine import CalamineWorkbook

from bansos_merge.config import load_config
from bansos_merge.link.comparisons import BIRTH_DATE, birth_date_levels
from bansos_merge.link.features import DAY0, days_to_ymd
from bansos_merge.regions import load_regions
from bansos_merge.sample import CorruptionRates, generate_sample
from bansos_merge.sample.corrupt import corrupt_birth_dates, nik_problem
from bansos_merge.sample.truth import CONDITION_KINDS
from bansos_merge.sample.writers import HEADERS

PEOPLE, SEED = 2000, 7


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate_sample(PEOPLE, SEED, out)


@pytest.fixture(scope="module")
def truth(sample) -> dict[str, pd.DataFrame]:
    out, _ = sample
    return {k: pd.read_parquet(out / "truth" / f"{k}.parquet") for k in ("rows", "conditions", "people")}


@pytest.fixture(scope="module")
def config(sample):
    out, _ = sample
    return load_config(out / "merge.yaml")


# ------------------------------------------------------------------------------ reading back


def _header_index(rows: list[list], header: list[str]) -> int:
    for i, r in enumerate(rows):
        cells = [str(c).strip() for c in r]
        if cells[: len(header)] == header:
            return i
    raise AssertionError(f"header {header[:3]}... not found")


def read_rows(path: Path, fmt: str, sheet: str | None) -> list[list[str]]:
    """Every row below the header (blank rows included), cells as text as far as possible."""
    header = HEADERS[fmt]
    if path.suffix == ".xlsx":
        wb = CalamineWorkbook.from_path(str(path))
        raw = wb.get_sheet_by_name(sheet or wb.sheet_names[0]).to_python(skip_empty_area=False)
    else:
        enc = "cp1252" if fmt == "latin1_csv" else "utf-8"
        delim = {"latin1_csv": ";", "bpnt_csv": "|"}.get(fmt, ",")
        with open(path, encoding=enc, newline="") as fh:
            raw = list(csv.reader(fh, delimiter=delim))
    h = _header_index(raw, header)
    return raw[h + 1 :]


def _fmt_of(name: str, path: str) -> str:
    if name == "dukcapil":
        return "dukcapil_csv"
    if name == "dtks":
        return "dtks_xlsx"
    if name == "bpnt":
        return "bpnt_csv"
    if name == "bkn_asn":
        return "exclusion_csv"
    return "bnba_xlsx" if path.endswith(".xlsx") else "latin1_csv"


def _cell(v) -> str:
    return "" if v is None else str(v).strip()


# ------------------------------------------------------------------------------ tests


def test_merge_yaml_validates(sample, config):
    out, summary = sample
    assert Path(config.output_dir) == (out / "out").resolve()
    names = [s.name for s in config.sources]
    assert names[:3] == ["dukcapil", "dtks", "bpnt"]
    assert [(s.name, s.kind, s.reason) for s in config.sources if s.kind == "exclusion_list"] == [("bkn_asn", "exclusion_list", "asn")]
    regional = [s for s in config.sources if s.name.startswith("dinsos_")]
    assert len(regional) >= 2
    assert {Path(s.path).suffix for s in regional} == {".xlsx", ".csv"}
    for s in config.sources:
        assert Path(s.path).is_file()
        if s in regional:
            assert s.defaults["regency"] and s.defaults["province"]
    assert [s.kind for s in config.sources].count("civil_registry") == 1
    assert set(summary["sources"]) == set(names)


def test_every_data_row_has_exactly_one_truth_row(sample, config, truth):
    rows = truth["rows"]
    assert not rows.duplicated(["source", "record_id"]).any()
    assert set(rows["source"]) == {s.name for s in config.sources}
    for src in config.sources:
        fmt = _fmt_of(src.name, src.path)
        data = read_rows(Path(src.path), fmt, src.sheet)
        t = rows[rows["source"] == src.name].sort_values("row_number")
        assert t["row_number"].tolist() == list(range(1, len(data) + 1)), src.name
        header = HEADERS[fmt]
        for (_, tr), cells in zip(t.iterrows(), data):
            cells = [_cell(c) for c in cells] + [""] * (len(header) - len(cells))
            by = dict(zip(header, cells))
            if src.id_column and tr["expect"] == "record":
                assert by[src.id_column] == tr["record_id"]
            elif not src.id_column:
                assert tr["record_id"] == str(tr["row_number"])
            kind = tr["garbage_kind"]
            name_col, nik_col = src.columns["name"], src.columns["nik"]
            if kind is None:
                assert tr["expect"] == "record" and tr["person_id"]
                assert by[name_col], (src.name, tr["row_number"])
            else:
                assert tr["expect"] == "reject" and tr["person_id"] is None
                if kind == "blank":
                    assert not any(cells)
                elif kind == "header_repeat":
                    assert cells[: len(header)] == header
                elif kind == "totals":
                    assert "JUMLAH" in cells and any(c.replace(".0", "").isdigit() for c in cells)
                elif kind == "no_name_no_nik":
                    assert by[name_col] == "" and by[nik_col] == ""
                else:
                    raise AssertionError(kind)


def test_garbage_kinds_present(truth):
    kinds = set(truth["rows"]["garbage_kind"].dropna())
    assert kinds == {"blank", "header_repeat", "totals", "no_name_no_nik"}


def test_civil_registry_matches_people(sample, truth):
    out, _ = sample
    duk = pd.read_csv(out / "dukcapil.csv", dtype=str, keep_default_na=False)
    people = truth["people"].set_index("person_id")
    rows = truth["rows"][truth["rows"]["source"] == "dukcapil"].sort_values("row_number")
    assert len(duk) == len(rows)
    p = people.loc[rows["person_id"]]
    # A second registration of a person (data ganda) carries its own NIK and card, the rest is the person's.
    twice = rows["person_id"].duplicated().to_numpy()
    assert 0 < twice.sum() < 0.01 * len(rows)
    assert (duk["NIK"].to_numpy()[~twice] == p["nik"].to_numpy()[~twice]).all()
    assert (duk["NO_KK"].to_numpy()[~twice] == p["kk"].to_numpy()[~twice]).all()
    assert (duk["NIK"].to_numpy()[twice] != p["nik"].to_numpy()[twice]).all()
    assert (duk["NIK"].str.slice(6, 12).to_numpy() == p["nik"].str.slice(6, 12).to_numpy()).all()
    assert not duk["NIK"].duplicated().any()
    assert (duk["NAMA_LGKP"].to_numpy() == p["name"].to_numpy()).all()
    assert (duk["NO_RT"].str.len() == 3).all()
    dead = duk["STAT_HIDUP"] == "MATI"
    assert dead.sum() == (~p["alive"].to_numpy()).sum() > 0
    assert (duk.loc[dead, "TGL_MATI"] != "").all()
    # ~95% of the people are in the civil registry
    assert 0.9 < len(duk) / len(people) < 0.99


def test_people_niks_are_valid(truth):
    people = truth["people"]
    nik = people["nik"]
    assert nik.is_unique and nik.str.fullmatch(r"\d{16}").all()
    assert people["kk"].str.fullmatch(r"\d{16}").all()
    assert not set(nik) & set(people["kk"])
    problems = nik_problem(nik, pd.Series(False, index=nik.index), pd.Index([]))
    assert (problems == "").all()
    status = load_regions().district_status
    dist = nik.str[:6]
    assert dist.isin(status.index).all()
    retired = dist.map(status) == "retired"
    assert (retired == (people["nik_district_status"] == "retired")).all()
    # date and sex encoded in the NIK
    day = nik.str[6:8].astype(int)
    female = people["sex"] == "P"
    assert ((day > 40) == female).all()
    nbd = pd.to_datetime(people["nik_birth_date"])
    assert ((day - 40 * female) == nbd.dt.day).all()
    assert (nik.str[8:10].astype(int) == nbd.dt.month).all()
    assert (nik.str[10:12].astype(int) == nbd.dt.year % 100).all()
    assert (nik.str[12:] != "0000").all()
    # the recorded date differs from the NIK's for a few people only
    differs = (pd.to_datetime(people["birth_date"]) != nbd).mean()
    assert 0 < differs < 0.03
    # the household's KK starts with its district; serials are unique per district/date/sex
    assert (people["kk"].str[:6] == people["village_code"].str[:6]).all()


def test_population_shape(truth):
    people = truth["people"]
    sizes = people.groupby("household").size()
    assert sizes.between(1, 7).all() and 3 < sizes.mean() < 4.5
    assert people.groupby("household")["kk"].nunique().eq(1).all()
    assert people.groupby("household")["address"].nunique().eq(1).all()
    assert people["rt"].str.fullmatch(r"\d{3}").all() and people["rw"].str.fullmatch(r"\d{3}").all()
    villages = load_regions().regions.set_index("code")
    assert people["village_code"].isin(villages.index).all()
    assert (villages.loc[people["village_code"], "level"] == "village").all()
    # very common names repeat inside one village
    per_village = people.groupby(["village_code", "name"]).size()
    assert per_village.max() >= 5
    # twins: same household, same birth date, NIKs differing only in the serial
    twins = people[people["twin"]]
    assert len(twins) > 0
    # a few deceased with death dates after birth
    dead = people[~people["alive"]]
    assert len(dead) > 0 and (pd.to_datetime(dead["death_date"]) > pd.to_datetime(dead["birth_date"])).all()
    assert people["mother_name"].ne("").all()
    # default birth dates are present
    bd = pd.to_datetime(people["nik_birth_date"])
    assert ((bd.dt.month == 7) & (bd.dt.day == 1)).sum() + ((bd.dt.month == 12) & (bd.dt.day == 31)).sum() > 5


def test_numeric_nik_cells_in_regional_xlsx(config, truth):
    src = next(s for s in config.sources if s.path.endswith(".xlsx") and s.name.startswith("dinsos_"))
    data = read_rows(Path(src.path), "bnba_xlsx", src.sheet)
    numbers = [r[1] for r in data if isinstance(r[1], float)]
    assert len(numbers) > 0.5 * len(data)
    long = [n for n in numbers if n >= 1e15]  # 16 digits (15-digit typos and zero dummies exist too)
    assert len(long) > 0.9 * len(numbers)
    assert all(n % 10 == 0 and n < 1e17 for n in long)  # the 16th digit is gone
    # RT/RW lost their leading zeros: numbers too
    assert any(isinstance(r[8], float) for r in data)
    cond = truth["conditions"]
    lost = cond[(cond["kind"] == "invalid_nik") & (cond["source"] == src.name) & (cond["detail"] == "lost_precision")]
    assert len(lost) == len(long)
    # the workbook also has a summary sheet without the header
    assert CalamineWorkbook.from_path(src.path).sheet_names == ["BNBA", "REKAP"]


def test_dtks_dates_mix_cells_and_text(config):
    src = next(s for s in config.sources if s.name == "dtks")
    data = read_rows(Path(src.path), "dtks_xlsx", None)
    col = HEADERS["dtks_xlsx"].index("TANGGAL_LAHIR")
    kinds = {type(r[col]) for r in data if r[col] != ""}
    assert dt.date in kinds or dt.datetime in kinds
    assert str in kinds
    nik_col = HEADERS["dtks_xlsx"].index("NOMOR_NIK")
    assert all(isinstance(r[nik_col], str) for r in data)


def test_latin1_csv(config):
    src = next(s for s in config.sources if s.path.endswith(".csv") and s.name.startswith("dinsos_"))
    raw = Path(src.path).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "TEMPAT/TGL LAHIR" in text and ";" in text.splitlines()[3]
    df = pd.read_csv(src.path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False, skiprows=3)
    assert df["ALAMAT"].str.contains(r"RT|/\d", regex=True).mean() > 0.5
    assert df["ALAMAT"].str.contains("\n").any()  # a quoted field spanning lines
    assert df["TEMPAT/TGL LAHIR"].str.fullmatch(r"[A-Z .]+, ?\d\d[-/]\d\d[-/]\d{4}").mean() > 0.8
    assert "regency" in src.defaults and "regency" not in src.columns


def test_conditions_present_for_every_kind(sample, truth):
    _, summary = sample
    cond = truth["conditions"]
    assert set(cond["kind"]) == set(CONDITION_KINDS)
    assert list(cond.columns) == ["kind", "source", "record_id", "person_id", "detail"]
    assert summary["conditions"] == cond["kind"].value_counts().reindex(list(CONDITION_KINDS)).to_dict()
    rows = truth["rows"]
    keys = set(zip(rows["source"], rows["record_id"]))
    assert set(zip(cond["source"], cond["record_id"])) <= keys
    real = rows[rows["expect"] == "record"].set_index(["source", "record_id"])["person_id"]
    assert (real.loc[list(zip(cond["source"], cond["record_id"]))].to_numpy() == cond["person_id"].to_numpy()).all()
    # duplicate_in_source: every listed row of a person listed twice
    dup = cond[cond["kind"] == "duplicate_in_source"]
    assert (dup.groupby(["source", "person_id"]).size() >= 2).all()
    # nik_shared groups span at least two persons
    shared = cond[cond["kind"] == "nik_shared"]
    assert shared["detail"].str.extract(r"^(\d+) persons")[0].astype(int).ge(2).all()
    assert shared["person_id"].nunique() >= 2
    people = truth["people"]
    assert (cond[cond["kind"] == "deceased"]["person_id"].map(people.set_index("person_id")["alive"]) == False).all()  # noqa: E712


def test_rates_are_configurable(tmp_path):
    with pytest.raises(ValidationError):
        CorruptionRates(name_typo=1.5)
    with pytest.raises(ValidationError):
        CorruptionRates(no_such_rate=0.1)
    clean = CorruptionRates(**{k: 0.0 for k, f in CorruptionRates.model_fields.items() if f.annotation is float},
                            min_planted=0)
    summary = generate_sample(300, 1, tmp_path, clean)
    assert summary["conditions"]["duplicate_in_source"] == 0
    assert summary["conditions"]["attribute_mismatch"] == 0
    assert summary["conditions"]["invalid_nik"] == 0


def test_deterministic(sample, tmp_path):
    out, summary = sample
    again = generate_sample(PEOPLE, SEED, tmp_path)
    assert again == summary
    for f in sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()):
        if f.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(out / f), pd.read_parquet(tmp_path / f))
        else:
            assert (out / f).read_bytes() == (tmp_path / f).read_bytes(), f
    other = generate_sample(PEOPLE, SEED + 1, tmp_path / "other")
    assert (tmp_path / "other" / "dukcapil.csv").read_bytes() != (out / "dukcapil.csv").read_bytes()
    assert other["people"] == PEOPLE


def test_never_existing_regions_and_the_exclusion_list_are_planted(sample, config, truth):
    out, summary = sample
    cond, rows = truth["conditions"], truth["rows"]
    invalid = cond[(cond["kind"] == "invalid_nik") & (cond["detail"] == "region_never_existed")]
    assert set(invalid["source"]) >= {s.name for s in config.sources if s.kind == "aid_list"}  # min_planted in each list
    bpnt = pd.read_csv(out / "kemensos_bpnt.csv", sep="|", dtype=str, keep_default_na=False).set_index("NOMOR_KARTU")
    known = load_regions().known_regencies
    for nik in bpnt.loc[invalid.loc[invalid["source"] == "bpnt", "record_id"], "NIK_KTP"]:
        assert len(nik) == 16 and nik[:4] not in known
    # the exclusion list: civil servants, some of whom receive aid (the ineligible rows), most not
    listed = pd.read_csv(out / "bkn_asn.csv", dtype=str, keep_default_na=False)
    assert list(listed.columns) == HEADERS["exclusion_csv"] and len(listed) == summary["sources"]["bkn_asn"]["rows"]
    excluded = set(rows.loc[rows["source"] == "bkn_asn", "person_id"])
    ineligible = cond[cond["kind"] == "ineligible"]
    assert len(ineligible) >= 2 and set(ineligible["person_id"]) <= excluded and set(ineligible["detail"]) == {"asn"}
    recipients = set(rows.loc[rows["source"].isin([s.name for s in config.sources if s.kind == "aid_list"]), "person_id"])
    assert set(ineligible["person_id"]) == excluded & recipients
    assert len(excluded - recipients) > len(excluded & recipients)
    people = truth["people"].set_index("person_id")
    assert people.loc[list(excluded), "alive"].all() and people.loc[list(excluded), "in_civil_registry"].all()


def test_the_oversight_plantings_leave_the_rest_of_the_sample_as_it_was(sample, tmp_path):
    out, _ = sample
    none = CorruptionRates(nik_region_never_existed=0.0, excluded_recipients=0.0, exclusion_employees=0.0)
    summary = generate_sample(PEOPLE, SEED, tmp_path, none)
    assert "bkn_asn" not in summary["sources"] and summary["conditions"]["ineligible"] == 0
    assert (tmp_path / "dukcapil.csv").read_bytes() == (out / "dukcapil.csv").read_bytes()
    planted = pd.read_parquet(out / "truth" / "conditions.parquet").query("detail == 'region_never_existed'")
    before = pd.read_csv(out / "kemensos_bpnt.csv", sep="|", dtype=str, keep_default_na=False)
    after = pd.read_csv(tmp_path / "kemensos_bpnt.csv", sep="|", dtype=str, keep_default_na=False)
    changed = (before != after).any(axis=1)
    # only planted rows differ (a typo can also land on a region that never existed: those stay)
    assert set(before.loc[changed, "NOMOR_KARTU"]) <= set(planted.loc[planted["source"] == "bpnt", "record_id"])
    assert changed.sum() >= 2


def test_a_birth_date_typo_is_one_part_one_off():
    """What the generator calls a typo in a birth date the comparator reads as one, also where the
    obvious change gives no date (31 Jan + 1 month, 29 Feb - 1 year) or a future one."""
    ref = np.datetime64("2025-06-30")
    dates = np.array(["1980-01-31", "1984-02-29", "1990-12-31", "2025-05-31", "1975-03-31", "2000-02-29"] * 500, dtype="datetime64[D]")
    rates = CorruptionRates(mismatch_birth_date=0.0, birth_date_swap=0.0, birth_date_digit=1.0, birth_date_missing=0.0)
    written, label = corrupt_birth_dates(np.random.default_rng(3), dates, rates, ref)
    typo = label == "digit"
    assert typo.sum() > 2500 and (written[typo] < ref).all()
    none = np.full(int(typo.sum()), -1)
    level = birth_date_levels(
        days_to_ymd((written[typo] - DAY0).astype(np.int64)), days_to_ymd((dates[typo] - DAY0).astype(np.int64)), none, none
    )
    assert (level == BIRTH_DATE.levels.index("swap_or_one_digit_or_nik_date")).all()


def test_a_card_the_person_has_left_changes_nothing_else(sample, tmp_path):
    """About kk_stale of the listed rows carry a family card the person has left: a number of the
    same district that no register holds. Nothing else in the sample moves (its own stream)."""
    out, _ = sample
    generate_sample(PEOPLE, SEED, tmp_path, CorruptionRates(kk_stale=0.0))
    assert (tmp_path / "dukcapil.csv").read_bytes() == (out / "dukcapil.csv").read_bytes()
    read = lambda folder: pd.read_csv(folder / "kemensos_bpnt.csv", sep="|", dtype=str, keep_default_na=False)  # noqa: E731
    stale, fresh = read(out), read(tmp_path)
    changed = (stale != fresh).any(axis=1)
    assert ((stale != fresh).sum() > 0).to_dict() == {c: c == "NOKK_DTKS" for c in stale.columns}
    assert 0.015 < changed.mean() < 0.05
    registry = pd.read_csv(out / "dukcapil.csv", sep=None, engine="python", dtype=str, keep_default_na=False)
    kk_column = next(c for c in registry.columns if "KK" in c.upper())
    left = stale.loc[changed, "NOKK_DTKS"]
    assert not left.isin(set(registry[kk_column])).any()
    assert (left.str[:6] == fresh.loc[changed, "NOKK_DTKS"].str[:6]).all()
