"""The review queue: small, ordered by what a decision changes, obvious pairs decided.

Hand-made households are embedded in a synthetic background population (see linkage_fixtures)
and merged through the library; the budget and the simulated analyst go through the real CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from linkage_fixtures import KEBUMEN, SUKABUMI, Extracts, Person, background, bpnt_row, build_world, dtks_row, make_kk, make_nik, run_library

from bansos_merge.cli import main
from bansos_merge.cluster.doubt import doubt
from bansos_merge.explain import explain_pair
from bansos_merge.link.comparisons import NAME, partial_agree

DTKS, BPNT = "trap_dtks", "trap_bpnt"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def person(name, sex, born, place, serial, kk, **kw) -> Person:
    return Person(name, sex, born, place, make_nik(place, born, sex, serial), kk, **kw)


# A household: the wife is listed under her husband's NIK (pasted), her own name and birth date.
HH_KK = make_kk(KEBUMEN, "03-09-1999", 71)
HH_HOME = dict(address="DUSUN PANDAN", rt="004", rw="002")
HUSBAND = person("SLAMET RIYADI", "L", "11-02-1969", KEBUMEN, 8, HH_KK, mother="SARIPAH", **HH_HOME)
WIFE = person("TUMIRAH", "P", "25-06-1972", KEBUMEN, 9, HH_KK, mother="KASINEM", relation="ISTRI", **HH_HOME)

# A list that cut the name to initials: same NIK, same birth date.
SITI = person("SITI AMINAH RAHAYU", "P", "04-04-1980", SUKABUMI, 7, make_kk(SUKABUMI, "02-02-2002", 72),
              mother="ONAH", address="KP. CIMANGGU", rt="002", rw="001")

# Father and son of one name in one household; a food-aid card carries the name and card only.
HOTLAN_KK = make_kk(SUKABUMI, "12-12-2012", 73)
HOTLAN_HOME = dict(address="KP. SINDANG", rt="003", rw="003")
HOTLAN = person("HOTLAN SIMANJUNTAK", "L", "01-01-1960", SUKABUMI, 3, HOTLAN_KK, mother="RUSTIANA", **HOTLAN_HOME)
HOTLAN_JR = person("HOTLAN SIMANJUNTAK", "L", "17-07-1988", SUKABUMI, 5, HOTLAN_KK, mother="MARGARETA", relation="ANAK", **HOTLAN_HOME)

# A list row on a registered man's card, with his name, no NIK, no mother and another birth year:
# himself with a wrong date, or his namesake father. Only the birth date says which.
HAMDAN = person("HAMDAN SYARIFUDIN", "L", "09-10-1983", KEBUMEN, 6, make_kk(KEBUMEN, "14-05-2011", 70),
                mother="WASIYAH", address="DUSUN KRAJAN", rt="001", rw="005")

EXTRACTS = Extracts(
    registry=[HUSBAND, WIFE, SITI, HOTLAN, HOTLAN_JR, HAMDAN],
    dtks=[dtks_row("HH-1", WIFE, NOMOR_NIK=HUSBAND.nik), dtks_row("IN-1", SITI.but(name="SITI A.")),
          dtks_row("DA-1", HAMDAN, NOMOR_NIK=None, NAMA_IBU_KANDUNG=None, TANGGAL_LAHIR="17-03-1961")],
    bpnt=[bpnt_row("AM-1", HOTLAN, NIK_KTP=None)],
)


@pytest.fixture(scope="module")
def world_config(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("queue")
    return build_world(base / "world", background(base), EXTRACTS)


@pytest.fixture(scope="module")
def world(world_config):
    return run_library(*world_config)


def queued(world, x: str, y: str) -> pd.DataFrame:
    q = world.resolution.review
    a, b = sorted((int(world.position[x]), int(world.position[y])))
    return q[(q["left"] == a) & (q["right"] == b)]


def test_a_household_member_under_another_name_is_decided_not_queued(world):
    wife_row, husband = f"{DTKS}:HH-1", world.reg(HUSBAND.nik)
    assert world.evidence(wife_row, husband)["nik"][0] == "exact"
    assert world.person(wife_row) != world.person(husband)
    assert queued(world, wife_row, husband).empty
    assert world.person(wife_row) == world.person(world.reg(WIFE.nik)), world.explain([wife_row, husband, world.reg(WIFE.nik)])
    assert world.resolution.counts["review"]["decided_automatically"]["household_rule"] >= 1


def test_a_pair_kept_apart_on_its_birth_date_alone_is_asked(world, world_config):
    """The household rule keeps the row from the registered HAMDAN (a father of the same name
    would look the same), but nothing else says so: the analyst is asked, not told."""
    row, registered = f"{DTKS}:DA-1", world.reg(HAMDAN.nik)
    levels = [world.evidence(row, registered)[c][0] for c in ("nik", "name", "kk", "mother_name", "birth_date")]
    assert levels == ["missing", "exact", "same", "missing", "different"]
    assert world.person(row) != world.person(registered)
    asked = queued(world, row, registered)
    assert list(asked["reason"]) == ["dates_differ"] and asked["doubt"].iloc[0] > 0.5, world.explain([row, registered])
    # `explain` on the CLI's run says the same: queued, not decided by the household rules.
    assert main(["run", "--config", str(world_config[0]), "--no-prefect"]) == 0
    e = explain_pair(Path(world.config.output_dir), row, registered)
    assert e.decision == "dates_differ" and e.queue.startswith("in the review queue"), e.queue


def test_a_name_cut_to_initials_agrees_with_the_name(world):
    assert partial_agree("SITI A", "SITI AMINAH RAHAYU") and partial_agree("A RAHMAN", "ABDUL RAHMAN")
    assert partial_agree("MAWARDI Z", "MAWARDI") and partial_agree("DEWI K", "DEWI KURNIASIH")
    assert partial_agree("FAJAR R B T", "FAJAR RIZKI") and partial_agree("AMHAD RASYID", "AHMAD RIZKI RASYID")
    assert partial_agree("NENG", "ENENG YULIANTI") and partial_agree("RUSD", "RUSDI SYAHPUTRA")
    assert not partial_agree("SITI A", "DEWI AMINAH") and not partial_agree("S A", "SITI AMINAH")
    assert not partial_agree("DENI SUNARYA", "ASEP SUNARYA") and not partial_agree("EUIS KURNIASIH", "EUIS NURHASANAH")
    listed, registered = f"{DTKS}:IN-1", world.reg(SITI.nik)
    assert world.evidence(listed, registered)["name"][0] == "partial"
    assert world.person(listed) == world.person(registered)
    assert queued(world, listed, registered).empty


def test_a_record_fitting_two_people_is_one_group_item_in_doubt(world):
    card, father, son = f"{BPNT}:AM-1", world.reg(HOTLAN.nik), world.reg(HOTLAN_JR.nik)
    assert world.person(card) not in (world.person(father), world.person(son))
    q = world.resolution.review
    both = pd.concat([queued(world, card, father), queued(world, card, son)])
    assert len(both) == 2 and both["item"].nunique() == 1 and (both["item_records"] == 3).all()
    assert ((both["doubt"] > 0.3) & (both["doubt"] < 0.7)).all() and not both["run_same"].any()
    assert (both["stake"] == "missing_from_registry").all()
    # a coin toss between two persons over a recipient's registration is among the most valuable questions
    assert both["queue_rank"].min() <= max(3, len(q) // 4)


def test_the_budget_and_the_queue_order_hold_on_a_whole_run(world):
    q, stats = world.resolution.review, world.resolution.counts["review"]
    assert len(q) <= stats["budget"] == int(0.5 * len(world.records) / 100)
    assert (q["queue_rank"].to_numpy() == np.arange(1, len(q) + 1)).all()
    per_item = q.groupby("item", sort=False)["value"].mean().to_numpy()
    assert (np.diff(per_item) <= 1e-12).all()
    assert (q.groupby("item", sort=False)["value"].apply(lambda v: (np.diff(v.to_numpy()) <= 1e-12).all())).all()
    assert (q["doubt"] >= world.config.review.min_doubt).all()
    decided = stats["decided_automatically"]
    assert stats["candidates"] == sum(decided.values()) + stats["questions"] + stats["asked_through_another_pair"]


def test_doubt_shares_a_record_between_the_persons_it_fits():
    label = np.array([0, 1, 2, 3])
    civil = np.array([False, True, True, False])
    evidence = pd.DataFrame({"left": [0, 0, 3], "right": [1, 2, 2], "weight": [10.0, 10.0, 0.0]})
    asked = pd.DataFrame({"left": [0, 0, 2], "right": [1, 2, 3]})
    d = doubt(evidence, asked, label, civil)
    assert d[0] == pytest.approx(1024 / 2049) and d[1] == pytest.approx(1024 / 2049)
    # record 3 has one fair candidate (weight 0: even odds against "none of them")
    assert d[2] == pytest.approx(0.5)
    # a matched pair is in doubt by what its record's rivals hold
    assert doubt(evidence, asked.iloc[:1], np.array([0, 0, 2, 3]), civil)[0] == pytest.approx(1 - 1024 / 2049)


def test_names_levels_have_initials_below_similar():
    assert NAME.levels.index("partial") == NAME.levels.index("similar") - 1


# ----------------------------------------------------------------------------- through the CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("bansos-merge")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.fixture()
def sample(tmp_path) -> Path:
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("out"))
    return folder


def test_the_budget_holds_through_the_cli(sample):
    doc = yaml.safe_load((sample / "merge.yaml").read_text(encoding="utf-8"))
    doc["review"] = {"max_pairs": 2, "per_100_records": 5}
    (sample / "merge.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = _cli("run", "--config", str(sample / "merge.yaml"), cwd=sample)
    assert r.returncode == 0, r.stderr[-2000:]
    run = sample / "out" / "latest"
    review = pd.read_parquet(run / "review.parquet")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["review"]
    assert len(review) <= 2 and manifest["budget"] == 2 and manifest["pairs"] == len(review)
    assert manifest["below_budget"]["pairs"] > 0 and manifest["below_budget"]["expected_errors"] > 0
    conflicts = pd.read_parquet(run / "conflicts.parquet")
    assert conflicts[conflicts["kind"] == "review_needed"]["conflict_id"].nunique() == len(review)
    first = review.iloc[0]
    left, right = f"{first['left_source']}:{first['left_record_id']}", f"{first['right_source']}:{first['right_record_id']}"
    explained = _cli("explain", left, right, "--output", str(sample / "out"), cwd=sample)
    assert explained.returncode == 0 and "in the review queue: rank 1 of" in explained.stdout


def test_a_simulated_analyst_improves_the_merge(sample, tmp_path):
    r = _cli("run", "--config", str(sample / "merge.yaml"), cwd=sample)
    assert r.returncode == 0, r.stderr[-2000:]
    report = tmp_path / "sim.json"
    r = _cli("evaluate", "--run", str(sample / "out"), "--truth", str(sample), "--simulate-review", "50",
             "--json", str(report), cwd=sample)
    assert r.returncode == 0, r.stderr[-2000:]
    history = json.loads(report.read_text(encoding="utf-8"))["history"]
    before, after = history[0], history[1]
    assert before["queue"]["worth_it"] > 0, "the sample's queue holds no error to fix"
    assert after["pairs_answered"] == before["queue"]["pairs"]
    assert after["f1"] > before["f1"] and after["recall"] >= before["recall"]
    # The model learns from every answer but those on two registry records (see link.linker.learn).
    queue = pd.read_parquet(sample / "out" / "latest" / "review.parquet")
    registry = yaml.safe_load((sample / "merge.yaml").read_text(encoding="utf-8"))["sources"]
    registry = {s["name"] for s in registry if s.get("kind") == "civil_registry"}
    two_registrations = int((queue["left_source"].isin(registry) & queue["right_source"].isin(registry)).sum())
    assert after["labels"]["same"] + after["labels"]["different"] == after["pairs_answered"] - two_registrations
    # the analysts' decisions are the simulation's own: the sample's real state is untouched
    assert not (sample / "out" / "state").exists()


# ----------------------------------------------------------------------------- learning from decisions


def test_the_model_learns_from_labelled_pairs(world):
    from bansos_merge.link.comparisons import COMPARISONS
    from bansos_merge.link.linker import learn
    from bansos_merge.link.model import LABEL_PRIOR

    model, f, pairs = world.links.model, world.links.frame, world.links.pairs
    # the analysts said "same person" for 40 pairs whose names are cut to initials, "different" for 40 others
    initials = pairs[pairs["name"] == NAME.levels.index("partial")].head(40)
    other = pairs[pairs["weight"] < 0].head(40)
    labels = pd.concat([initials.assign(same=True), other.assign(same=False)])[["left", "right", "same"]]
    learned = learn(model, f, labels, world.config.linkage.match_threshold)
    k = NAME.levels.index("partial")
    n = len(initials)
    expected = (n + LABEL_PRIOR * model.m["name"][k]) / (n + LABEL_PRIOR)
    assert learned.m["name"][k] == pytest.approx(expected)
    assert learned.m_unlabelled == model.m and learned.trained_on["labels"] == {"same": n, "different": len(other), "prior_strength": LABEL_PRIOR}
    assert learned.weights()["name"][k] > model.weights()["name"][k]
    assert learned.weights(unlabelled=True)["name"][k] == pytest.approx(model.weights()["name"][k])
    assert abs(learned.match_threshold - world.config.linkage.match_threshold) <= 4.0
    # a comparison the labels do not see keeps its prior's shape
    assert [c.name for c in COMPARISONS] == learned.comparisons
    # reusing a learned model with the same labels counts them once
    again = learn(learned, f, labels, world.config.linkage.match_threshold)
    assert again.m["name"][k] == pytest.approx(expected)
