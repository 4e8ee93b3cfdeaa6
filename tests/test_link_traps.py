"""The linkage traps, each as hand-made rows in a realistic background population.

Every trap asserts the exact clusters of its records: which share a person_id, which do
not, and that no other record joins them. The rows are embedded in a synthetic sample of
3,000 people (two villages, where SUPARMAN, ENENG SUMARNI and MUHAMMAD RIZKI are common
names), so the model is trained by EM on realistic data, as in a real run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bansos_merge.cluster.resolve import decide
from bansos_merge.normalize.names import normalize_names
from bansos_merge.textcol import as_text
from linkage_fixtures import (
    KEBUMEN,
    SUKABUMI,
    Extracts,
    Person,
    Place,
    assert_clusters,
    background,
    bnba_row,
    bpnt_row,
    build_world,
    dtks_row,
    excel_number,
    make_kk,
    make_nik,
    run_library,
)

DTKS, BPNT, BNBA = "trap_dtks", "trap_bpnt", "trap_bnba"
DUMMY_NIK = "2222222222222222"


def name_key_of(name: str) -> str:
    return normalize_names(as_text(pd.Series([name])))["name_key"].iloc[0]


def person(name, sex, born, place, serial, kk, **kw) -> Person:
    return Person(name, sex, born, place, make_nik(place, born, sex, serial), kk, **kw)


# --- twins in one household: same KK, address, birth date, mother; NIKs differ in the serial only
TWIN_KK = make_kk(SUKABUMI, "14-03-2010", 91)
TWIN_HOME = dict(mother="NENG ROSMIATI", address="KP. CIBOLANG", rt="003", rw="005", relation="ANAK")
HASAN = person("HASAN SAPUTRA", "L", "12-03-2010", SUKABUMI, 11, TWIN_KK, **TWIN_HOME)
HUSEIN = person("HUSEIN SAPUTRA", "L", "12-03-2010", SUKABUMI, 12, TWIN_KK, **TWIN_HOME)
# twin girls with rhyming names (one letter apart), serials one digit apart
RINA = person("RINA MARLINA", "P", "07-09-2005", SUKABUMI, 21, TWIN_KK, **TWIN_HOME)
RINI = person("RINI MARLINA", "P", "07-09-2005", SUKABUMI, 22, TWIN_KK, **TWIN_HOME)

# twins listed in an aid list but absent from the registry extract (no registry anchor to keep them apart)
DEDI = person("DEDI SUPRIATNA", "L", "23-04-2007", SUKABUMI, 31, make_kk(SUKABUMI, "30-04-2007", 87),
              mother="NENGSIH", address="KP. CIJERUK", rt="002", rw="006", relation="ANAK")
DODI = DEDI.but(name="DODI SUPRIATNA", nik=make_nik(SUKABUMI, "23-04-2007", "L", 32))

# --- father and son, same name but the son's suffix, same KK, different birth dates
FS_KK = make_kk(KEBUMEN, "02-05-1995", 92)
FS_HOME = dict(address="DUSUN KRAJAN", rt="002", rw="004")
FATHER = person("SUPARMAN", "L", "10-04-1961", KEBUMEN, 7, FS_KK, mother="SAMINAH", **FS_HOME)
SON = person("SUPARMAN JUNIOR", "L", "05-11-1990", KEBUMEN, 4, FS_KK, mother="SUMIATI", relation="ANAK", **FS_HOME)

# the same, listed without NIKs and absent from the registry
SUTRISNO = person("SUTRISNO", "L", "14-08-1963", KEBUMEN, 2, make_kk(KEBUMEN, "21-01-1992", 88),
                  address="DUSUN SEMPU", rt="003", rw="002")
SUTRISNO_JR = SUTRISNO.but(name="SUTRISNO JUNIOR", born="30-06-1992", nik=make_nik(KEBUMEN, "30-06-1992", "L", 1))

# --- two (three) different people behind one dummy NIK in an aid list
SRI = person("NENG SRI WAHYUNI", "P", "22-06-1975", SUKABUMI, 3, make_kk(SUKABUMI, "01-02-2001", 93),
             mother="ENOK", address="KP. SUKAMAJU", rt="004", rw="002")
UJANG = person("UJANG SUHERMAN", "L", "03-02-1981", SUKABUMI, 5, make_kk(SUKABUMI, "09-09-2009", 94),
               mother="IMAS", address="KP. PASIR", rt="006", rw="001")
DARSIH = person("DARSIH", "P", "15-01-1949", SUKABUMI, 9, "", address="KP. PASIR", rt="006", rw="001")

# --- one person: registry NIK, a list with a typo outside the serial, a list with the last digit lost
BAMBANG = person("BAMBANG HERMAWAN", "L", "05-07-1978", KEBUMEN, 3, make_kk(KEBUMEN, "12-03-2008", 95),
                 mother="SUTINAH", address="DUSUN GLONGGONG", rt="001", rw="003")
BAMBANG_TYPO_NIK = BAMBANG.nik[:5] + "9" + BAMBANG.nik[6:]  # district digit 2 -> 9, serial intact
BAMBANG_LOST_NIK = BAMBANG.nik[:15] + "0"  # 0003 -> 0000: Excel's 15 digits, exported as text
# a second one: the text export ends in 0000 (serial 0005 lost) and the list misspells the name by a letter
WAGIMAN = person("WAGIMAN SUTRISNO", "L", "19-12-1970", KEBUMEN, 5, make_kk(KEBUMEN, "11-11-2011", 86),
                 mother="TUMINAH", address="DUSUN LOR", rt="006", rw="003")
WAGIMAN_LOST_NIK = WAGIMAN.nik[:15] + "0"
TRI = person("TRI WAHYUNINGSIH", "P", "14-09-1984", KEBUMEN, 13, make_kk(KEBUMEN, "20-10-2010", 96),
             mother="PAINEM", address="DUSUN KALIPUTIH", rt="003", rw="001")

# --- old spelling and MUHAMMAD variants
SOEPARMAN = person("SOEPARMAN", "L", "17-08-1957", KEBUMEN, 2, make_kk(KEBUMEN, "03-03-2003", 97),
                   mother="KASMI", address="DUSUN KRAJAN", rt="005", rw="002")
DJOKO = person("DJOKO SOESILO", "L", "02-02-1966", KEBUMEN, 1, make_kk(KEBUMEN, "04-04-2004", 98),
               mother="SARINAH", address="DUSUN WETAN", rt="001", rw="001")
RIZKI = person("MUHAMMAD RIZKI", "L", "30-01-1999", SUKABUMI, 4, make_kk(SUKABUMI, "05-05-2015", 99),
               mother="EUIS", address="KP. BABAKAN", rt="002", rw="003")

# --- a chain of weak links: A~B strong, B~C only by a common name and the village
ENENG_A = person("ENENG SUMARNI", "P", "09-03-1978", SUKABUMI, 2, make_kk(SUKABUMI, "06-06-2006", 81),
                 mother="ICIH", address="KP. CIPANAS", rt="001", rw="002")
ENENG_C = person("ENENG SUMARNI", "P", "21-10-1990", SUKABUMI, 1, make_kk(SUKABUMI, "07-07-2017", 82),
                 mother="OOM", address="KP. LEBAK", rt="007", rw="004")
ENENG_D = person("ENENG SUMARNI", "P", "11-11-1985", SUKABUMI, 6, make_kk(SUKABUMI, "08-08-2018", 83),
                 mother="ATIKAH", address="KP. CIKADU", rt="005", rw="005")  # in a list only, never registered

# --- a deceased recipient still listed
KASIMUN = person("KASIMUN", "L", "12-05-1940", KEBUMEN, 1, make_kk(KEBUMEN, "10-10-2010", 84),
                 mother="SAINEM", address="DUSUN KULON", rt="004", rw="001", deceased_on="14-02-2023")

# --- boy/girl twins: NIKs differ only in the day digit that encodes sex (08 vs 48)
SEX_KK = make_kk(KEBUMEN, "01-06-2012", 85)
SEX_HOME = dict(mother="SITI MARYAM", address="DUSUN TENGAH", rt="002", rw="002", relation="ANAK")
ADITYA = person("ADITYA PRATAMA", "L", "08-05-2012", KEBUMEN, 3, SEX_KK, **SEX_HOME)
ADINDA = person("ADINDA PRATIWI", "P", "08-05-2012", KEBUMEN, 3, SEX_KK, **SEX_HOME)

# --- a wrong birth date in one list, the mother's name in another (cluster/household.borrowed_mothers)
TOMAS = person("TOMAS SETIAWAN", "L", "06-06-1977", KEBUMEN, 2, make_kk(KEBUMEN, "04-02-2014", 79),
               mother="MARTHA SETIAWAN", address="DUSUN CIKADU", rt="003", rw="002")
# --- a wrong birth date beside a NIK one typo off, on the person's card: not a father and son
IMAM = person("IMAM SANTOSO", "L", "05-01-1974", SUKABUMI, 2, make_kk(SUKABUMI, "28-06-2012", 78),
              mother="SUMARNI", address="KP. NANGKA", rt="004", rw="003")
IMAM_TYPO_NIK = IMAM.nik[:9] + "4" + IMAM.nik[10:]  # 050174 -> 050474: a date digit, serial intact
# --- a namesake outside the registry on BPNT (no birth date, no card) with his own NIK, born 1971
FELIX = person("FELIX KOSASIH", "L", "06-02-1985", SUKABUMI, 1, make_kk(SUKABUMI, "07-02-2018", 77), mother="FENNY WIJAYA", address="KP. JATI")
FELIX_NAMESAKE = person("FELIX KOSASIH", "L", "03-02-1971", SUKABUMI, 1, make_kk(SUKABUMI, "07-02-2018", 75), address="KP. JATI")
# --- a namesake on BPNT with his own NIK (born 2006), beside a DTKS row (no NIK) of the registered one
DEDE = person("DEDE SUNARYA", "L", "02-07-1968", SUKABUMI, 2, make_kk(SUKABUMI, "16-02-2009", 74), mother="CUCU", address="KP. SAWAH")
DEDE_NAMESAKE = person("DEDE SUNARYA", "L", "05-09-2006", SUKABUMI, 2, make_kk(SUKABUMI, "16-02-2009", 73), address="KP. SAWAH")
# --- a father outside the registry on BPNT, with his own NIK, on the card of his registered son
YOHANES_KK = make_kk(KEBUMEN, "19-08-2019", 67)
YOHANES = person("YOHANES", "L", "21-07-2020", KEBUMEN, 1, YOHANES_KK, mother="FENNY WIJAYA", address="DUSUN TENGAH", relation="ANAK")
YOHANES_FATHER = person("YOHANES SURYADI", "L", "25-03-1995", KEBUMEN, 1, YOHANES_KK, address="DUSUN TENGAH")
# --- a recipient listed on BPNT under his daughter's NIK (never registered), on the family's card
SUPRI_KK = make_kk(KEBUMEN, "11-06-2017", 76)
SUPRI = person("TRI SUPRIYANTO", "L", "22-08-1980", KEBUMEN, 3, SUPRI_KK, mother="SUPARTI", address="DUSUN KIDUL")
SUPRI_DAUGHTER_NIK = make_nik(KEBUMEN, "29-03-2008", "P", 2)
# --- two TUMPALs born a year apart in one district, both serial 0002: NIKs one digit apart, two
# cards, two villages (Sadangkulon and Seboro); and a man on a card he has left, in his village
SEBORO = Place("33", "JAWA TENGAH", "05", "KAB. KEBUMEN", "22", "SADANG", "2002", "SEBORO", "KEBUMEN")
TUMPAL = person("TUMPAL PANJAITAN", "L", "20-06-1992", KEBUMEN, 2, make_kk(KEBUMEN, "31-03-2016", 69), mother="HOTMAIDA", address="DUSUN LOR")
TUMPAL_NEIGHBOUR = person("TUMPAL", "L", "20-06-1991", SEBORO, 2, make_kk(SEBORO, "03-10-2014", 68), address="DUSUN LOR")
SLAMET = person("SLAMET WIDODO", "L", "14-11-1986", KEBUMEN, 3, make_kk(KEBUMEN, "02-02-2020", 66), mother="SITI MARYAM", address="DUSUN KULON")
SLAMET_TYPO_NIK = SLAMET.nik[:10] + "9" + SLAMET.nik[11:]  # 141186 -> 141196: a year digit
SLAMET_OLD_KK = make_kk(KEBUMEN, "05-05-2005", 65)  # his parents' card, before he married
REGISTRY = [HASAN, HUSEIN, RINA, RINI, FATHER, SON, SRI, UJANG, BAMBANG, WAGIMAN, TRI, SOEPARMAN, DJOKO, RIZKI,
            ENENG_A, ENENG_C, KASIMUN, ADITYA, ADINDA, TOMAS, IMAM, FELIX, SUPRI, DEDE, TUMPAL, YOHANES, SLAMET]

EXTRACTS = Extracts(
    registry=REGISTRY,
    dtks=[
        dtks_row("TW-1", HASAN),
        dtks_row("TW-2", HUSEIN),
        dtks_row("TW-3", RINA),
        dtks_row("TW-4", RINI),
        dtks_row("TW-5", DEDI),
        dtks_row("TW-6", DODI),
        dtks_row("FS-1", FATHER, NOMOR_NIK=None),  # the father listed without a NIK
        dtks_row("FS-2", SON),
        dtks_row("FS-3", SUTRISNO, NOMOR_NIK=None, NAMA_IBU_KANDUNG=None),
        dtks_row("FS-4", SUTRISNO_JR, NOMOR_NIK=None, NAMA_IBU_KANDUNG=None),
        dtks_row("DM-1", SRI, NOMOR_NIK=DUMMY_NIK),
        dtks_row("DM-2", UJANG, NOMOR_NIK=DUMMY_NIK),
        dtks_row("DM-3", DARSIH, NOMOR_NIK=DUMMY_NIK),
        dtks_row("NK-1", BAMBANG, NOMOR_NIK=BAMBANG_TYPO_NIK),
        dtks_row("OS-1", SOEPARMAN.but(name="SUPARMAN"), NOMOR_NIK=None, NOMOR_KK=None, NAMA_IBU_KANDUNG=None),
        dtks_row("OS-2", DJOKO.but(name="JOKO SUSILO"), NOMOR_NIK=None, NOMOR_KK=None, NAMA_IBU_KANDUNG=None),
        dtks_row("MR-1", RIZKI.but(name="M. RIZKI"), NOMOR_NIK=None, NOMOR_KK=None, NAMA_IBU_KANDUNG=None),
        dtks_row("CH-C", ENENG_C),
        dtks_row("CH-D", ENENG_D),
        dtks_row("DC-1", KASIMUN),
        dtks_row("SX-3", ADINDA, JENIS_KELAMIN=None),
        dtks_row("WD-1", TOMAS, NOMOR_NIK=None, TANGGAL_LAHIR="19-09-1981"),  # the mother, a wrong date
        dtks_row("WD-2", IMAM, NOMOR_NIK=IMAM_TYPO_NIK, TANGGAL_LAHIR="03-09-1959", NAMA_IBU_KANDUNG=None),
        dtks_row("ND-1", DEDE, NOMOR_NIK=None),
    ],
    bpnt=[
        bpnt_row("6013010000900001", FATHER.but(name="SUPARMAN"), NIK_KTP=SON.nik),  # the son, suffix dropped
        bpnt_row("6013010000900002", BAMBANG, NIK_KTP=BAMBANG_LOST_NIK),
        # B of the chain: A's NIK, the common name, the village; no birth date, no KK
        bpnt_row("6013010000900003", ENENG_A, NOKK_DTKS=None),
        # E: only the common name and the village: fits A and C equally
        bpnt_row("6013010000900004", ENENG_A, NIK_KTP=None, NOKK_DTKS=None),
        bpnt_row("6013010000900005", ADITYA),
        bpnt_row("6013010000900007", WAGIMAN.but(name="WAGIMAN SUTRISMO"), NIK_KTP=WAGIMAN_LOST_NIK, NOKK_DTKS=None),
        bpnt_row("6013010000900006", ADINDA),
        bpnt_row("6013010000900008", FELIX_NAMESAKE, NOKK_DTKS=None),
        bpnt_row("6013010000900009", SUPRI, NIK_KTP=SUPRI_DAUGHTER_NIK),
        bpnt_row("6013010000900010", DEDE_NAMESAKE, NOKK_DTKS=None),
        bpnt_row("6013010000900011", TUMPAL_NEIGHBOUR),
        bpnt_row("6013010000900012", YOHANES_FATHER),
        bpnt_row("6013010000900013", SLAMET, NIK_KTP=SLAMET_TYPO_NIK, NOKK_DTKS=SLAMET_OLD_KK),
    ],
    bnba=[
        bnba_row(TRI, excel_number(TRI.nik)),
        bnba_row(TOMAS, excel_number(TOMAS.nik)),  # the registry's date, no mother's name
        bnba_row(SON, excel_number(SON.nik)),  # the son's date and card, no mother's name
    ],
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    bg = background(tmp_path_factory.getbasetemp())
    config, reg_ids = build_world(tmp_path_factory.mktemp("traps"), bg, EXTRACTS)
    w = run_library(config, reg_ids)
    return w


def test_trap_rows_are_fresh_people(world):
    """Preconditions: no trap NIK or KK exists in the background; the common names are common."""
    bg = world.records[~world.records["source"].str.startswith("trap_")]
    bg = bg[~bg["record_id"].isin(world.registry_ids.values()) | (bg["source"] != world.registry_source)]
    for p in REGISTRY:
        assert p.nik not in set(bg["nik"].dropna()), p
        assert p.kk not in set(bg["kk"].dropna()), p
    names = bg["name_key"].value_counts()
    for common in ("SUPARMAN", "ENENG SUMARNI", "MUHAMMAD RIZKI"):
        assert names.get(name_key_of(common), 0) >= 10, common
    # Every trap row became a record (none was rejected).
    trap = world.records[world.records["source"].str.startswith("trap_")]
    assert len(trap) == len(EXTRACTS.dtks) + len(EXTRACTS.bpnt) + len(EXTRACTS.bnba)


def test_twins_in_one_household_are_two_persons(world):
    w = world
    assert_clusters(w, [{w.reg(HASAN.nik), f"{DTKS}:TW-1"}, {w.reg(HUSEIN.nik), f"{DTKS}:TW-2"}])
    ev = w.evidence(f"{DTKS}:TW-1", w.reg(HUSEIN.nik))
    assert ev["nik"][0] == "serial_one_edit" and ev["nik"][1] < 0, ev


def test_twins_with_rhyming_names_are_two_persons(world):
    w = world
    assert_clusters(w, [{w.reg(RINA.nik), f"{DTKS}:TW-3"}, {w.reg(RINI.nik), f"{DTKS}:TW-4"}])


def test_twins_listed_but_not_in_the_registry_are_two_persons(world):
    assert_clusters(world, [{f"{DTKS}:TW-5"}, {f"{DTKS}:TW-6"}])


def test_father_and_son_with_the_same_name_are_two_persons(world):
    """Also when the son's village list names no mother: it borrows his registry record's, which
    is not the one the father's row names."""
    w = world
    son_bpnt, son_bnba = f"{BPNT}:6013010000900001", f"{BNBA}:3"
    assert_clusters(w, [{w.reg(FATHER.nik), f"{DTKS}:FS-1"}, {w.reg(SON.nik), f"{DTKS}:FS-2", son_bpnt, son_bnba}])


def test_a_wrong_birth_date_is_one_person_with_the_mother_another_list_lacks(world):
    """DTKS has the mother's name and a wrong birth date, the village list the registry's date and
    no mother: father and son share a name and a card, not a mother, so the village list borrows
    the mother its registry record names, and the three records are one person."""
    w = world
    assert_clusters(w, [{w.reg(TOMAS.nik), f"{DTKS}:WD-1", f"{BNBA}:2"}])


def test_a_row_without_a_birth_date_is_dated_by_its_own_nik(world):
    """BPNT lists no birth dates. The FELIX KOSASIH on BPNT carries his own NIK, which says 1971;
    the registered one was born in 1985: two people, whatever the weight. So is the DEDE SUNARYA
    on BPNT (his NIK: 2006) beside the registered one's DTKS row, which has no NIK, and YOHANES
    SURYADI (his NIK: 1995) on the card of his registered son YOHANES (2020). TRI SUPRIYANTO,
    listed under his daughter's NIK, shares her card and his exact name: one person. This small
    world's model weighs the namesake pairs under the match threshold; the 1M sample's weighs
    such pairs above it (about 50 of them), so the decision is asked at such a weight."""
    w = world
    felix, dede, supri, father = (f"{BPNT}:60130100009000{n}" for n in ("08", "10", "09", "12"))
    assert_clusters(w, [{w.reg(FELIX.nik)}, {felix}, {w.reg(DEDE.nik), f"{DTKS}:ND-1"}, {dede}, {w.reg(SUPRI.nik), supri},
                        {w.reg(YOHANES.nik)}, {father}])
    asked = [(w.reg(FELIX.nik), felix), (f"{DTKS}:ND-1", dede), (w.reg(SUPRI.nik), supri), (w.reg(YOHANES.nik), father)]
    levels = [[w.evidence(x, y)[c][0] for c in ("nik", "name", "birth_date", "kk")] for x, y in asked]
    assert levels == [
        ["different", "exact", "missing", "missing"], ["missing", "exact", "missing", "missing"], ["different", "exact", "missing", "same"],
        ["different", "same_tokens", "missing", "same"],
    ]
    lk = w.config.linkage
    pairs = w.links.pairs.iloc[[_pair_row(w, x, y) for x, y in asked]].assign(weight=lk.match_threshold + 4)
    assert list(decide(pairs, w.links.frame, lk.match_threshold, lk.review_threshold)) == ["dates_differ", "dates_differ", "match", "dates_differ"]


def test_a_nik_one_typo_off_on_another_family_card_is_another_person(world):
    """A typo leaves the family card as it was. TUMPAL on BPNT, in the next village, holds his
    own card and a NIK one digit from the registered TUMPAL PANJAITAN's (born a year apart, same
    serial): two people, whatever the weight. SLAMET WIDODO's BPNT row, in his own village under
    his name, carries a NIK typo and the card of his parents he has left: the weight decides,
    and it is one person. IMAM's typo on his own card stays one person (the test above)."""
    w = world
    tumpal, registered = f"{BPNT}:6013010000900011", w.reg(TUMPAL.nik)
    slamet = f"{BPNT}:6013010000900013"
    for x, y in ((registered, tumpal), (w.reg(SLAMET.nik), slamet)):
        assert [w.evidence(x, y)[c][0] for c in ("nik", "kk")] == ["typo_outside_serial", "different"]
    assert w.evidence(registered, tumpal)["address"][0] == "same_district"
    assert_clusters(w, [{registered}, {tumpal}, {w.reg(SLAMET.nik), slamet}])
    lk = w.config.linkage
    pairs = w.links.pairs.iloc[[_pair_row(w, registered, tumpal)]].assign(weight=lk.match_threshold + 8)
    assert list(decide(pairs, w.links.frame, lk.match_threshold, lk.review_threshold)) == ["serial_apart"]


def _pair_row(w, x: str, y: str) -> int:
    a, b = sorted((int(w.position[x]), int(w.position[y])))
    pairs = w.links.pairs
    (row,) = np.flatnonzero((pairs["left"].to_numpy() == a) & (pairs["right"].to_numpy() == b))
    return int(row)


def test_a_wrong_birth_date_beside_a_nik_one_typo_off_is_one_person(world):
    w = world
    assert w.evidence(w.reg(IMAM.nik), f"{DTKS}:WD-2")["nik"][0] == "typo_outside_serial"
    assert_clusters(w, [{w.reg(IMAM.nik), f"{DTKS}:WD-2"}])


def test_father_and_son_listed_without_niks_are_two_persons(world):
    assert_clusters(world, [{f"{DTKS}:FS-3"}, {f"{DTKS}:FS-4"}])


def test_a_dummy_nik_does_not_merge_different_people(world):
    w = world
    assert_clusters(w, [{w.reg(SRI.nik), f"{DTKS}:DM-1"}, {w.reg(UJANG.nik), f"{DTKS}:DM-2"}, {f"{DTKS}:DM-3"}])
    for rec in ("DM-1", "DM-2", "DM-3"):
        assert w.record(f"{DTKS}:{rec}")["nik_status"] == "dummy"


def test_typo_nik_and_precision_lost_nik_are_one_person(world):
    w = world
    typo, lost = f"{DTKS}:NK-1", f"{BPNT}:6013010000900002"
    assert_clusters(w, [{w.reg(BAMBANG.nik), typo, lost}])
    assert w.evidence(w.reg(BAMBANG.nik), typo)["nik"][0] == "typo_outside_serial"
    assert w.record(lost)["nik_status"] == "serial_zero"
    assert w.record(lost)["nik_known_digits"] == BAMBANG.nik[:15]


def test_precision_lost_text_nik_is_compared_by_its_15_digits(world):
    w = world
    lost = f"{BPNT}:6013010000900007"
    assert w.record(lost)["nik_status"] == "serial_zero"
    assert w.evidence(w.reg(BAMBANG.nik), f"{BPNT}:6013010000900002")["nik"][0] == "damaged_15_digits_equal"
    assert w.evidence(w.reg(WAGIMAN.nik), lost)["nik"][0] == "damaged_15_digits_equal"
    assert_clusters(w, [{w.reg(WAGIMAN.nik), lost}])


def test_excel_number_nik_is_one_person(world):
    """The BNBA workbook holds the NIK as a number: ...0013 stored as ...0010."""
    w = world
    rec = f"{BNBA}:1"
    assert w.record(rec)["nik_status"] == "precision_lost"
    assert_clusters(w, [{w.reg(TRI.nik), rec}])
    assert w.evidence(w.reg(TRI.nik), rec)["nik"][0] == "damaged_15_digits_equal"


def test_old_spelling_is_one_person(world):
    w = world
    assert_clusters(w, [{w.reg(SOEPARMAN.nik), f"{DTKS}:OS-1"}])
    assert_clusters(w, [{w.reg(DJOKO.nik), f"{DTKS}:OS-2"}])
    assert w.evidence(w.reg(SOEPARMAN.nik), f"{DTKS}:OS-1")["name"][0] == "exact"


def test_m_rizki_is_muhammad_rizki(world):
    w = world
    assert_clusters(w, [{w.reg(RIZKI.nik), f"{DTKS}:MR-1"}])
    assert w.evidence(w.reg(RIZKI.nik), f"{DTKS}:MR-1")["name"][0] == "exact"


def test_weak_chain_does_not_merge_different_people(world):
    """A (registry) ~ B (list: A's NIK, name, village; no birth date) is strong; B ~ C (another
    registry ENENG SUMARNI, another NIK) and B ~ D (a list-only ENENG SUMARNI with her own NIK and
    birth date) rest on the common name and the village only."""
    w = world
    a, b, c, d = w.reg(ENENG_A.nik), f"{BPNT}:6013010000900003", w.reg(ENENG_C.nik), f"{DTKS}:CH-D"
    assert w.evidence(a, b)["nik"][0] == "exact"
    bc = w.evidence(b, c)
    assert bc["name"][0] == "exact" and bc["address"][0] == "same_village" and bc["nik"][0] == "different", bc
    assert_clusters(w, [{a, b}, {c, f"{DTKS}:CH-C"}, {d}])


def test_name_and_village_only_row_is_not_merged_by_a_coin_toss(world):
    w = world
    e = f"{BPNT}:6013010000900004"
    assert_clusters(w, [{e}])


def test_deceased_recipient_is_kept_and_linked(world):
    w = world
    reg, listed = w.reg(KASIMUN.nik), f"{DTKS}:DC-1"
    assert w.record(reg)["status"] == "deceased"
    assert str(w.record(reg)["death_date"])[:10] == "2023-02-14"
    assert_clusters(w, [{reg, listed}])


def test_sex_digit_of_the_nik_separates_boy_and_girl_twins(world):
    w = world
    assert ADITYA.nik[:6] == ADINDA.nik[:6] and ADITYA.nik[7:] == ADINDA.nik[7:] and ADITYA.nik != ADINDA.nik
    boy, girl = f"{BPNT}:6013010000900005", f"{BPNT}:6013010000900006"
    assert_clusters(w, [{w.reg(ADITYA.nik), boy}, {w.reg(ADINDA.nik), girl, f"{DTKS}:SX-3"}])
    # Two registry records with different NIKs are never even compared (registry_apart) ...
    assert w.evidence(w.reg(ADITYA.nik), w.reg(ADINDA.nik)) is None
    assert sum(p["registry_apart_skipped"] for p in w.links.blocking.as_dict()) >= 1
    # ... and the list records, compared, read the NIK by its parts: another sex digit, same serial.
    assert w.evidence(boy, girl)["nik"][0] == "sibling_serial"
