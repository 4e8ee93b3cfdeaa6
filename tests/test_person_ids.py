"""Stable person IDs across runs: `assign_person_ids` semantics, a registry row removed between
two library runs, and the real CLI run three times into one output folder."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
import pyarrow.parquet as pq
import pytest
from linkage_fixtures import (
    Extracts,
    Person,
    Place,
    background,
    build_world,
    dtks_row,
    make_kk,
    make_nik,
    run_library,
)

from bansos_merge.cluster.ids import assign_person_ids

CLI_PEOPLE, CLI_SEED = 500, 5  # the small sample of the CLI runs and the removed-row test

# ----------------------------------------------------------------------------- assign_person_ids


def _records(keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"source": [k.split(":")[0] for k in keys], "record_id": [k.split(":")[1] for k in keys]})


def _assign(clusters: list[list[str]], previous: dict[str, str] | None = None, known: set[str] | None = None, run="r2", id_key=None):
    """clusters of keys -> ({key: person_id}, history rows as tuples sorted)."""
    keys = [k for c in clusters for k in c]
    label = np.array([i for i, c in enumerate(clusters) for _ in c])
    prev = None
    if previous is not None:
        prev = _records(list(previous)).assign(person_id=list(previous.values()))
    ids, history = assign_person_ids(_records(keys), label, prev, run, set(known or ()), id_key=id_key)
    assert (history["run_id"] == run).all()
    rows = sorted(
        (r.reason, r.old_id if isinstance(r.old_id, str) else None, r.new_id if isinstance(r.new_id, str) else None)
        for r in history.itertuples()
    )
    return dict(zip(keys, ids)), rows


RUN1 = [["reg:1", "dtks:A"], ["reg:2"], ["reg:3", "bpnt:X"], ["dtks:B"]]


@pytest.fixture
def run1():
    ids, history = _assign(RUN1, run="r1")
    return ids, history


def test_first_run_every_person_is_new_and_ids_are_deterministic(run1):
    ids, history = run1
    assert ids["reg:1"] == ids["dtks:A"] and ids["reg:3"] == ids["bpnt:X"]
    assert len({ids[c[0]] for c in RUN1}) == 4
    assert all(len(i) == 17 and i.startswith("P") and int(i[1:], 16) >= 0 for i in ids.values())
    assert history == sorted(("new", None, ids[c[0]]) for c in RUN1)
    # The same inputs in a fresh output folder give the same IDs, whatever the record order.
    again, _ = _assign([list(reversed(c)) for c in reversed(RUN1)], run="r1")
    assert again == ids


def test_unchanged_run_keeps_every_id_and_writes_no_history(run1):
    ids, _ = run1
    again, history = _assign(RUN1, previous=ids)
    assert again == ids and history == []


def test_new_person_gets_a_new_id(run1):
    ids, _ = run1
    got, history = _assign(RUN1 + [["reg:9"]], previous=ids)
    assert {k: got[k] for k in ids} == ids
    assert got["reg:9"] not in ids.values()
    assert history == [("new", None, got["reg:9"])]


def test_removed_row_keeps_the_id_and_a_person_with_no_record_left_is_removed(run1):
    ids, _ = run1
    # dtks:A (one of two records of person 1) and dtks:B (person 4's only record) are gone.
    got, history = _assign([["reg:1"], ["reg:2"], ["reg:3", "bpnt:X"]], previous=ids)
    assert got == {k: ids[k] for k in got}
    assert history == [("removed", ids["dtks:B"], None)]


def test_a_run_sharing_no_record_with_the_previous_one_removes_every_id(run1):
    """No record recurs (a run left with none, or only new ones): every old ID is removed."""
    ids, _ = run1
    got, history = _assign([], previous=ids)
    assert got == {} and history == sorted(("removed", i, None) for i in set(ids.values()))
    got, history = _assign([["reg:7"]], previous=ids)
    assert got["reg:7"] not in ids.values()
    assert history == sorted([("new", None, got["reg:7"])] + [("removed", i, None) for i in set(ids.values())])


def test_corrected_row_keeps_its_id(run1):
    """A corrected row is the same record (same source and record id) in the same cluster."""
    ids, _ = run1
    got, history = _assign(RUN1, previous=ids)
    assert got["dtks:A"] == ids["dtks:A"] and history == []


def test_merge_keeps_the_id_with_the_larger_overlap(run1):
    ids, _ = run1
    got, history = _assign([["reg:1", "dtks:A", "reg:2"], ["reg:3", "bpnt:X"], ["dtks:B"]], previous=ids)
    assert got["reg:2"] == ids["reg:1"]
    assert history == [("merged", ids["reg:2"], ids["reg:1"])]


def test_merge_of_equal_overlaps_is_deterministic(run1):
    ids, _ = run1
    one = _assign([["reg:2", "dtks:B"], ["reg:1", "dtks:A"], ["reg:3", "bpnt:X"]], previous=ids)
    two = _assign([["reg:3", "bpnt:X"], ["dtks:B", "reg:2"], ["dtks:A", "reg:1"]], previous=ids)
    assert one == two
    got, history = one
    keeper, retired = sorted([ids["reg:2"], ids["dtks:B"]])
    assert got["reg:2"] == got["dtks:B"] == keeper
    assert history == [("merged", retired, keeper)]


def test_split_keeps_the_id_for_the_larger_part_and_records_the_split(run1):
    ids, _ = run1
    previous = {**ids, "dtks:C": ids["reg:1"]}  # person 1 had three records
    got, history = _assign([["reg:1", "dtks:A"], ["dtks:C"], ["reg:2"], ["reg:3", "bpnt:X"], ["dtks:B"]], previous=previous)
    assert got["reg:1"] == got["dtks:A"] == ids["reg:1"]
    assert got["dtks:C"] not in previous.values()
    assert history == [("split", ids["reg:1"], got["dtks:C"])]


def test_merge_and_split_at_once():
    previous = {"a:1": "P1", "a:2": "P1", "a:3": "P2", "a:4": "P2", "a:5": "P2"}
    got, history = _assign([["a:1", "a:3"], ["a:2"], ["a:4", "a:5"]], previous=previous)
    # P2 stays with its two records; P1 stays with one of its halves; the other half is split off.
    assert got["a:4"] == got["a:5"] == "P2"
    assert {got["a:1"], got["a:2"]} >= {"P1"}
    new = got["a:2"] if got["a:1"] == "P1" else got["a:1"]
    assert new not in {"P1", "P2"}
    assert ("split", "P1", new) in history
    assert all(r[0] != "removed" for r in history)


def test_a_fresh_id_never_reuses_a_known_id(run1):
    ids, _ = run1
    fresh, _ = _assign([["reg:9"]])
    got, history = _assign(RUN1 + [["reg:9"]], previous=ids, known={fresh["reg:9"]})
    assert got["reg:9"] != fresh["reg:9"] and got["reg:9"] not in ids.values()
    assert history == [("new", None, got["reg:9"])]


# ----------------------------------------------------------------------------- a registry row removed


def test_removing_a_registry_row_keeps_everyone_elses_id(tmp_path_factory):
    bg = background(tmp_path_factory.getbasetemp(), CLI_PEOPLE, CLI_SEED)
    folder = tmp_path_factory.mktemp("removed-row")
    config, _ = build_world(folder, bg, Extracts())
    first = run_library(config, run_id="run-1")
    registry = first.registry_source
    path = folder / next(s.path for s in first.config.sources if s.name == registry)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    removed_nik = lines[10].split(",")[0]
    path.write_text("".join(lines[:10] + lines[11:]), encoding="utf-8")
    # What a run publishes: the records with their person_id (ids are inherited by stable keys).
    prev = first.records.assign(person_id=first.resolution.person_id)
    second = run_library(config, previous=prev, run_id="run-2", known_ids=set(prev["person_id"]),
                         model=first.links.model)

    def by_nik(world):
        reg = world.records["source"] == registry
        return pd.Series(world.resolution.person_id[reg.to_numpy()], index=world.records.loc[reg, "nik"].to_numpy())

    before, after = by_nik(first), by_nik(second)
    before = before[before.index.notna() & ~before.index.duplicated(keep=False)]
    after = after[after.index.notna() & ~after.index.duplicated(keep=False)]
    common = before.index.intersection(after.index)
    assert removed_nik not in after.index and len(common) > 0.9 * len(before)
    changed = (before[common] != after[common]).sum()
    assert changed == 0, f"{changed} of {len(common)} registry persons changed person_id"


# ----------------------------------------------------------------------------- the real CLI, three runs

def _place_of(dukcapil: Path) -> Place:
    with dukcapil.open(encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    return Place(row["NO_PROP"], row["PROP_NAME"], row["NO_KAB"], row["KAB_NAME"], row["NO_KEC"], row["KEC_NAME"],
                 row["NO_KEL"], row["KEL_NAME"], row["TMPT_LHR"])


def _people(place: Place) -> dict[str, Person]:
    def p(name, sex, born, serial, kk_serial, **kw):
        return Person(name, sex, born, place, make_nik(place, born, sex, serial),
                      make_kk(place, "15-06-2015", kk_serial), **kw)

    return {
        "R1": p("HERMAN SUSANTO", "L", "03-04-1967", 7, 71, mother="KOKOM", address="KP. TEGAL", rt="001", rw="004"),
        "R2": p("YULIANTI RAHAYU", "P", "16-08-1983", 8, 72, mother="ONAH", address="KP. NANGGERANG", rt="002", rw="004"),
        "R3": p("SUGENG RIYADI", "L", "25-12-1958", 9, 73, mother="PARTINI", address="KP. CIGOMBONG", rt="003", rw="004"),
        "R4": p("WIWIN WINARSIH", "P", "01-10-1979", 6, 74, mother="ENCUM", address="KP. SAWAH", rt="004", rw="004"),
        "G": p("TARSIH", "P", "19-07-1944", 5, 75, address="KP. KEBON", rt="005", rw="004"),
        "N": p("DODI IRAWAN", "L", "28-02-1992", 4, 76, address="KP. KEBON", rt="005", rw="004"),
        "T": p("ROHMAT HIDAYAT", "L", "09-09-1971", 3, 77, address="KP. KEBON", rt="006", rw="004"),
    }


def _lists(pp: dict[str, Person], version: int) -> list[dict]:
    r1, r2, r3, r4, g, n, t = (pp[k] for k in ("R1", "R2", "R3", "R4", "G", "N", "T"))
    typo = r1.nik[:4] + ("1" if r1.nik[4] != "1" else "2") + r1.nik[5:]
    rows = [
        # (c) R1 listed with a NIK typo outside the serial; corrected in version 2
        dtks_row("E-R1", r1, NOMOR_NIK=typo if version == 1 else r1.nik),
        dtks_row("E-R2a", r2),
        dtks_row("E-R3", r3),
        dtks_row("E-R4", r4),
    ]
    if version == 1:
        rows += [
            dtks_row("E-R2b", r2),  # (b) removed in version 2: R2 keeps its id
            dtks_row("E-G1", g, NOMOR_KK=None), dtks_row("E-G2", g, NOMOR_KK=None),  # (b) G disappears: removed
            # (d) R3 listed without NIK, birth date, KK or region and a shortened name: nothing ties it to R3 ...
            dtks_row("E-M", r3.but(name="SUGENG R"), NOMOR_NIK=None, TANGGAL_LAHIR=None, NOMOR_KK=None,
                     NAMA_IBU_KANDUNG=None, ALAMAT=None, RT=None, RW=None, DESA_KELURAHAN=None, KECAMATAN=None,
                     KABUPATEN_KOTA=None, PROVINSI=None, TEMPAT_LAHIR=None),
            dtks_row("E-S", r4),  # (e) ... and a row entered as R4's, which version 2 corrects to T
        ]
    else:
        rows += [
            dtks_row("E-M", r3),  # (d) ... until version 2 completes the row: merged into R3
            dtks_row("E-S", t, NOMOR_KK=None),  # (e) split off R4
            dtks_row("E-NEW", n, NOMOR_KK=None),  # (a) a new person
        ]
    return rows


def _cli(config: Path) -> None:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    proc = subprocess.run([sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _latest(out: Path) -> tuple[pd.Series, pd.DataFrame, str]:
    latest = out / "latest"
    recs = pq.read_table(latest / "records.parquet", columns=["source", "record_id", "person_id"]).to_pandas()
    ids = pd.Series(recs["person_id"].to_numpy(), index=(recs["source"] + ":" + recs["record_id"]).to_numpy())
    history = pq.read_table(latest / "id_history.parquet").to_pandas()
    run_id = json.loads((latest / "manifest.json").read_text())["run_id"]
    return ids, history, run_id


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Three CLI runs into one output folder: version 1, version 2, version 2 again."""
    bg = background(tmp_path_factory.getbasetemp(), CLI_PEOPLE, CLI_SEED)
    folder = tmp_path_factory.mktemp("cli")
    place = _place_of(bg / "dukcapil.csv")
    pp = _people(place)
    registry = [pp[k] for k in ("R1", "R2", "R3", "R4")]
    config, reg_ids = build_world(folder, bg, Extracts(registry=registry, dtks=_lists(pp, 1)))
    out = folder / "out"
    _cli(config)
    run1 = _latest(out)
    config2, reg_ids2 = build_world(folder, bg, Extracts(registry=registry, dtks=_lists(pp, 2)))
    assert config2 == config and reg_ids2 == reg_ids
    # The later runs reuse run 1's model (linkage.model_path), as an office re-running corrected
    # lists would: what moves is then what the lists changed, not what EM learned from them.
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("linkage", {})["model_path"] = str(out / "runs" / run1[2] / "model.json")
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    _cli(config)
    run2 = _latest(out)
    _cli(config)
    run3 = _latest(out)
    reg = {k: f"dukcapil:{reg_ids[p.nik]}" for k, p in pp.items() if p.nik in reg_ids}
    return run1, run2, run3, reg


def test_cli_run1_links_the_hand_made_rows(cli_runs):
    (ids, history, run_id), _, _, reg = cli_runs
    assert ids[reg["R1"]] == ids["trap_dtks:E-R1"]  # through the NIK typo
    assert ids[reg["R2"]] == ids["trap_dtks:E-R2a"] == ids["trap_dtks:E-R2b"]
    assert ids[reg["R3"]] == ids["trap_dtks:E-R3"] != ids["trap_dtks:E-M"]
    assert ids[reg["R4"]] == ids["trap_dtks:E-R4"] == ids["trap_dtks:E-S"]
    assert ids["trap_dtks:E-G1"] == ids["trap_dtks:E-G2"]
    assert set(history["reason"]) == {"new"} and (history["run_id"] == run_id).all()
    assert history["new_id"].nunique() == ids.nunique() == len(history)


def test_cli_run2_keeps_corrects_merges_splits_adds_and_removes(cli_runs):
    (ids1, _, run1_id), (ids2, history, run2_id), _, reg = cli_runs
    # (c) the corrected row and (b) the person of the removed row keep their ids
    assert ids2[reg["R1"]] == ids2["trap_dtks:E-R1"] == ids1[reg["R1"]]
    assert ids2[reg["R2"]] == ids2["trap_dtks:E-R2a"] == ids1[reg["R2"]]
    assert "trap_dtks:E-R2b" not in ids2.index
    # (d) merged: R3 keeps its id, E-M's retires into it
    assert ids2["trap_dtks:E-M"] == ids2[reg["R3"]] == ids1[reg["R3"]]
    # (e) split: R4 keeps its id, E-S gets a new one
    assert ids2[reg["R4"]] == ids2["trap_dtks:E-R4"] == ids1[reg["R4"]]
    assert ids2["trap_dtks:E-S"] not in set(ids1)
    # (a) the new person
    assert ids2["trap_dtks:E-NEW"] not in set(ids1)

    mine = history[history["run_id"] == run2_id]
    rows = {(r.reason, r.old_id, r.new_id) for r in mine.itertuples()}
    assert ("merged", ids1["trap_dtks:E-M"], ids1[reg["R3"]]) in rows
    assert ("split", ids1[reg["R4"]], ids2["trap_dtks:E-S"]) in rows
    assert ("new", None, ids2["trap_dtks:E-NEW"]) in rows
    assert ("removed", ids1["trap_dtks:E-G1"], None) in rows
    # The history is cumulative: run 1's rows are still there.
    assert (history["run_id"] == run1_id).sum() == ids1.nunique()
    # Nothing else moved: every other record keeps its person id.
    others = [k for k in ids1.index.intersection(ids2.index) if not k.startswith("trap_dtks:")]
    moved = [k for k in others if ids1[k] != ids2[k]]
    assert not moved, (moved[:10], mine.to_dict("records")[:20])


def test_cli_rerun_of_the_same_inputs_gives_identical_ids(cli_runs):
    _, (ids2, history2, _), (ids3, history3, run3_id), _ = cli_runs
    pd.testing.assert_series_equal(ids3.sort_index(), ids2.sort_index())
    assert (history3["run_id"] == run3_id).sum() == 0
    assert len(history3) == len(history2)


def test_new_ids_are_hashed_under_the_output_folders_key(tmp_path):
    """An ID hashed without a secret from a key holding a NIK gives the NIK away to anyone who
    can list the few NIKs a masked one could be: under the folder's key it does not, and the
    same key gives the same IDs."""
    from bansos_merge.output_key import KEY_FILE, output_key

    one, other = output_key(tmp_path / "a", "person-ids"), output_key(tmp_path / "b", "person-ids")
    assert one != other and (tmp_path / "a" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert output_key(tmp_path / "a", "person-ids") == one != output_key(tmp_path / "a", "workbook-tags")
    unkeyed, _ = _assign(RUN1, run="r1")
    keyed = [_assign(RUN1, run="r1", id_key=k)[0] for k in (one, one, other)]
    assert keyed[0] == keyed[1]
    assert all(keyed[0][c] != unkeyed[c] and keyed[0][c] != keyed[2][c] for c in unkeyed)
    assert keyed[0]["reg:1"] == keyed[0]["dtks:A"]  # one person, one ID, as without a key
