"""The civil registry's own duplicates ("data ganda"): one person registered twice under two NIKs.

Hand-made registry rows in a synthetic background population (see linkage_fixtures), merged and
assembled through the library: the double registration is one person, reported as multiple_nik
and duplicate_in_source, its golden NIK left to the registry; twins and a weak look-alike are not
merged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from linkage_fixtures import KEBUMEN, SUKABUMI, Extracts, Person, background, build_world, bpnt_row, dtks_row, make_kk, make_nik, run_library

from bansos_merge.cli import main
from bansos_merge.explain import explain_pair
from bansos_merge.ingest.source import read_source
from bansos_merge.normalize.source import normalize_source
from bansos_merge.publish.outputs import assemble, combine

DTKS = "trap_dtks"
BPNT = "trap_bpnt"


def person(name, sex, born, place, serial, kk, **kw) -> Person:
    return Person(name, sex, born, place, make_nik(place, born, sex, serial), kk, **kw)


# Registered in Sukabumi, moved to Kebumen and registered again: a new NIK, card and address.
DARMI = person("DARMI SUSANTI", "P", "14-08-1983", SUKABUMI, 4, make_kk(SUKABUMI, "01-03-2005", 61),
               mother="SUKAESIH", address="KP. CIBEBER", rt="002", rw="004")
DARMI_AGAIN = person("DARMI SUSANTI", "P", "14-08-1983", replace(KEBUMEN, birth_place="SUKABUMI"), 11, make_kk(KEBUMEN, "20-09-2019", 62),
                     mother="SUKAESIH", address="DUSUN KARANGANYAR", rt="005", rw="001")
# A look-alike without a mother's name on either record: one name, birth date and sex only.
WAWAN = person("WAWAN HERMAWAN", "L", "01-07-1970", SUKABUMI, 6, make_kk(SUKABUMI, "05-05-2005", 63),
               address="KP. LEUWI", rt="001", rw="001")
WAWAN_TOO = person("WAWAN HERMAWAN", "L", "01-07-1970", KEBUMEN, 2, make_kk(KEBUMEN, "06-06-2016", 64),
                   address="DUSUN JATI", rt="003", rw="002")
# Twins of one card: one birth date, other names.
TWIN_KK = make_kk(KEBUMEN, "09-09-2009", 65)
HOME = dict(mother="PARTINAH", address="DUSUN SAWAH", rt="004", rw="004", relation="ANAK")
TWIN_A = person("RIZAL FAUZI", "L", "03-03-2009", KEBUMEN, 21, TWIN_KK, **HOME)
TWIN_B = person("RIZKI FAUZI", "L", "03-03-2009", KEBUMEN, 22, TWIN_KK, **HOME)

EXTRACTS = Extracts(
    registry=[DARMI, DARMI_AGAIN, WAWAN, WAWAN_TOO, TWIN_A, TWIN_B],
    dtks=[dtks_row("DG-1", DARMI), dtks_row("DG-2", DARMI_AGAIN)],
    # A food-aid card copied from the second registration only: its NIK, card and region.
    bpnt=[bpnt_row("6013-DG-3", DARMI_AGAIN)],
)


@pytest.fixture(scope="module")
def world_config(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("doubles")
    return build_world(base / "world", background(base), EXTRACTS)


@pytest.fixture(scope="module")
def world(world_config):
    return run_library(*world_config)


def test_one_person_registered_twice_is_one_person(world):
    first, second = world.reg(DARMI.nik), world.reg(DARMI_AGAIN.nik)
    assert world.person(first) == world.person(second), world.explain([first, second, f"{DTKS}:DG-1", f"{DTKS}:DG-2"])
    # The card list disagrees with the first registration on NIK, card and region: what a move
    # changes, no evidence against the person.
    card = f"{BPNT}:6013-DG-3"
    assert world.cluster(first) == {first, second, f"{DTKS}:DG-1", f"{DTKS}:DG-2", card}, world.explain([first, second, card])
    assert world.resolution.counts["decisions"].get("registry_double", 0) >= 1


def test_twins_and_a_look_alike_without_a_mother_stay_apart(world):
    assert world.person(world.reg(TWIN_A.nik)) != world.person(world.reg(TWIN_B.nik))
    one, two = world.reg(WAWAN.nik), world.reg(WAWAN_TOO.nik)
    assert world.person(one) != world.person(two)
    # compared, not skipped as two registry people, and asked about
    assert world.evidence(one, two) is not None
    q = world.resolution.review
    a, b = sorted((int(world.position[one]), int(world.position[two])))
    asked = q[(q["left"] == a) & (q["right"] == b)]
    assert list(asked["reason"]) == ["possible_double_registration"], world.resolution.counts["review"]


def test_the_double_registration_is_reported_and_its_nik_left_to_the_registry(world):
    sources = [normalize_source(read_source(s)) for s in world.config.sources]
    records, rejects = combine(sources)
    out = assemble(sources, records, rejects, world.links, world.resolution, None)
    pid = world.person(world.reg(DARMI.nik))
    conflicts = out.conflicts[out.conflicts["person_id"] == pid]
    assert {"multiple_nik", "duplicate_in_source"} <= set(conflicts["kind"])
    dup = conflicts[conflicts["kind"] == "duplicate_in_source"]
    assert set(dup["source"]) >= {world.registry_source}
    multiple = conflicts[conflicts["kind"] == "multiple_nik"].iloc[0]
    assert DARMI.nik in multiple["values"] and DARMI_AGAIN.nik in multiple["values"]
    golden = out.registry.set_index("person_id").loc[pid]
    assert pd.isna(golden["nik"])  # null: the registry settles it
    assert "nik" in list(golden["field_conflicts"])


def test_explain_judges_a_pair_of_one_registry_persons_two_niks_as_the_run_does(world, world_config):
    """The card list copied the second registration (its NIK, card and region); against the
    first registration everything a move changes disagrees. `explain` says, as the run decided,
    that the pair was judged on the identity evidence alone."""
    config, _ = world_config
    assert main(["run", "--config", str(config), "--no-prefect"]) == 0
    e = explain_pair(Path(world.config.output_dir), world.reg(DARMI.nik), f"{BPNT}:6013-DG-3")
    assert e.same_person and e.decision == "match"
    assert e.identity_weight is not None and e.identity_weight > e.total


def test_an_answer_on_two_registrations_teaches_the_model_nothing(world):
    """Two registrations of one person disagree on NIK, card and address by construction: an
    analyst's "same person" there must not teach the model that different NIKs are one person's
    (training leaves such pairs out too). An answer on a list record does teach."""
    from dataclasses import asdict

    from bansos_merge.link.linker import learn

    pos = world.position
    first, second = pos[world.reg(DARMI.nik)], pos[world.reg(DARMI_AGAIN.nik)]
    registrations = pd.DataFrame({"left": [min(first, second)], "right": [max(first, second)], "same": [True]})
    model, threshold = world.links.model, world.config.linkage.match_threshold
    assert asdict(learn(model, world.links.frame, registrations, threshold)) == asdict(model)
    card = pos[f"{BPNT}:6013-DG-3"]
    listed = pd.DataFrame({"left": [min(first, card)], "right": [max(first, card)], "same": [True]})
    assert asdict(learn(model, world.links.frame, listed, threshold)) != asdict(model)
