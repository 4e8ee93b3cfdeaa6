"""Units of the linker: NIK levels, blocking passes, EM training, the saved model, term
frequencies and missing values."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from linkage_fixtures import KEBUMEN, SUKABUMI, background, load_records, make_nik, small_records, small_row

from bansos_merge.link.blocking import candidate_pairs, registry_apart, registry_double
from bansos_merge.link.comparisons import ADDRESS, BIRTH_DATE, COMPARISONS, NIK, birth_date_levels, compare_address, compare_nik
from bansos_merge.link.features import build_link_frame
from bansos_merge.link.linker import compare_chunk, link_records
from bansos_merge.link.model import FSModel, train_model

BASE = make_nik(SUKABUMI, "05-07-1978", "L", 3)  # 3202360507780003


def _swap(s: str, i: int) -> str:
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _sub(s: str, i: int, d: str) -> str:
    assert s[i] != d
    return s[:i] + d + s[i + 1 :]


# other NIK -> expected level against BASE
NIK_CASES = {
    "exact": (BASE, "exact"),
    "damaged_15_digits": ("3.20236050778000E+15", "damaged_15_digits_equal"),  # Excel's text of the number
    "typo_in_region": (_sub(BASE, 4, "9"), "typo_outside_serial"),
    "typo_in_birth_date": (_sub(BASE, 11, "9"), "typo_outside_serial"),
    "transposition_outside_serial": (_swap(BASE, 8), "typo_outside_serial"),
    "serial_one_edit": (_sub(BASE, 15, "4"), "serial_one_edit"),
    "serial_transposed": (BASE[:12] + "0030", "serial_one_edit"),
    "sibling_serial": (BASE[:12] + "0012", "sibling_serial"),
    "sex_flip": (make_nik(SUKABUMI, "05-07-1978", "P", 3), "sibling_serial"),
    "different": (make_nik(KEBUMEN, "21-10-1990", "P", 1), "different"),
    "missing": ("", None),
    "dummy": ("2222222222222222", None),
}


@pytest.fixture(scope="module")
def nik_frame(tmp_path_factory):
    rows = [small_row(BASE, "BAMBANG HERMAWAN")] + [small_row(nik, "BAMBANG HERMAWAN") for nik, _ in NIK_CASES.values()]
    return build_link_frame(small_records(tmp_path_factory.mktemp("nik"), rows))


def test_nik_cases_are_what_they_claim():
    assert BASE == "3202360507780003"
    assert _swap(BASE, 8) == "3202360570780003"  # month digits 07 -> 70: still one transposition, outside serial
    assert NIK_CASES["sex_flip"][0] == "3202364507780003"


@pytest.mark.parametrize("case", list(NIK_CASES))
def test_compare_nik_levels(nik_frame, case):
    k = list(NIK_CASES).index(case) + 1
    level = compare_nik(nik_frame, np.array([0]), np.array([k]))[0]
    expected = NIK_CASES[case][1]
    assert (NIK.levels[level] if level >= 0 else None) == expected
    # symmetric
    assert compare_nik(nik_frame, np.array([k]), np.array([0]))[0] == level


@pytest.mark.parametrize(
    "left, right, level",
    [
        (19700512, 19700512, "exact"),
        (19700512, 19701205, "swap_or_one_digit_or_nik_date"),  # day and month swapped
        (19700512, 19700513, "swap_or_one_digit_or_nik_date"),  # one digit
        (19560512, 19650512, "swap_or_one_digit_or_nik_date"),  # two digits transposed
        (19760309, 19760310, "swap_or_one_digit_or_nik_date"),  # the day one off, the digit carried
        (19830903, 19831003, "swap_or_one_digit_or_nik_date"),  # the month
        (19960722, 20060722, "swap_or_one_digit_or_nik_date"),  # the year ten off
        (19830903, 19831203, "same_year"),  # the month three off
        (19760309, 19760411, "same_year"),  # two parts off by one
        (19960722, 20070722, "different"),  # eleven years
    ],
)
def test_birth_date_typos_and_real_differences(left, right, level):
    none = np.array([-1])
    got = birth_date_levels(np.array([left]), np.array([right]), none, none)
    assert BIRTH_DATE.levels[int(got[0])] == level


def test_a_list_without_birth_dates_agrees_through_its_nik_date():
    """BPNT lists no birth date: its NIK's date equal to the other's birth date is evidence (the
    NIK-date level, either side); a different NIK date says nothing (it may be a relative's)."""
    none, nik_date = np.array([-1]), np.array([19780705])
    level = BIRTH_DATE.levels.index("swap_or_one_digit_or_nik_date")
    assert birth_date_levels(np.array([-1]), np.array([19780705]), nik_date, none)[0] == level
    assert birth_date_levels(np.array([19780705]), np.array([-1]), none, nik_date)[0] == level
    assert birth_date_levels(np.array([-1]), np.array([19780706]), nik_date, none)[0] == -1
    assert birth_date_levels(np.array([-1]), np.array([-1]), nik_date, nik_date)[0] == -1


def test_serial_zero_text_nik_compares_by_its_15_digits(tmp_path):
    recs = small_records(tmp_path, [small_row(BASE, "BAMBANG"), small_row(BASE[:15] + "0", "BAMBANG")])
    assert recs["nik_status"].tolist() == ["valid", "serial_zero"]
    f = build_link_frame(recs)
    assert NIK.levels[compare_nik(f, np.array([0]), np.array([1]))[0]] == "damaged_15_digits_equal"


# Places with no Kemendagri code (another country's data, FEBRL): (village, street) of x and y -> level
ADDRESS_CASES = {
    "village_spacing": (("MALVERN EAST", "3 BANKS STREET"), ("MALVERNEAST", "3 BANKS STREET"), "same_village_and_street_or_rt_rw"),
    "village_one_typo": (("FRANKSTON", "21 BREWSTER PLACE"), ("FRANKTSON", "9 COLLINS AVENUE"), "same_village"),
    "village_differs": (("FRANKSTON", "21 BREWSTER PLACE"), ("FRANKLIN", "21 BREWSTER PLACE"), "different_place"),
    "no_place_same_street": (("", "21 BREWSTER PLACE"), ("FRANKSTON", "21 BREWSTER PLAC"), "same_village_and_street_or_rt_rw"),
    "no_place_other_street": (("", "21 BREWSTER PLACE"), ("FRANKSTON", "9 COLLINS AVENUE"), "different_place"),
    "no_place_no_street": (("", ""), ("FRANKSTON", "9 COLLINS AVENUE"), None),
}


@pytest.mark.parametrize("case", list(ADDRESS_CASES))
def test_compare_address_by_the_place_as_written(tmp_path, case):
    x, y, expected = ADDRESS_CASES[case]
    f = build_link_frame(small_records(tmp_path, [small_row("", "BAMBANG", DESA=v, ALAMAT=s) for v, s in (x, y)]))
    assert (f.village[:2] < 0).all()  # no code resolved: the text decides
    level = compare_address(f, np.array([0]), np.array([1]))[0]
    assert (ADDRESS.levels[level] if level >= 0 else None) == expected


# ----------------------------------------------------------------------------- blocking

# (pass that must find the pair first, record x, record y): everything else differs between pairs
BLOCKING_CASES = [
    ("nik_exact", small_row(BASE, "ABDUL MANAF", "01-01-1950", SUKABUMI),
     small_row(BASE, "ZAENAL ARIFIN", "02-02-1951", KEBUMEN)),
    ("nik_one_edit", small_row("3305221203800012", "BUDI SETIAWAN", "03-03-1952", SUKABUMI),
     small_row("3305221203800021", "YUSUF MAULANA", "04-04-1953", KEBUMEN)),
    ("nik_15_digits", small_row("3305221506650004", "CECEP HIDAYAT", "05-05-1954", SUKABUMI),
     small_row("3.30522150665000E+15", "WAWAN GUNAWAN", "06-06-1955", KEBUMEN)),
    ("name_birth_date", small_row("", "DEDI KURNIAWAN", "07-07-1956", SUKABUMI),
     small_row("", "KURNIAWAN DEDI", "07-07-1956", KEBUMEN)),
    ("name_village", small_row("", "ENTIS SUTISNA", "08-08-1957", SUKABUMI),
     small_row("", "ENTIS SUTISNA", "09-09-1958", SUKABUMI)),
    ("kk_first_name", small_row("", "FAJAR NUGROHO", "10-10-1959", SUKABUMI, kk="3202360101100077"),
     small_row("", "FAJAR SIDIK", "11-11-1960", KEBUMEN, kk="3202360101100077")),
    # a typo in the first name and the birth date, no NIK: the surname on one family card
    ("kk_name_token", small_row("", "HARTONO WIJAYA", "21-07-1980", SUKABUMI, kk="3202360101100078"),
     small_row("", "HARONO WIJAYA", "17-06-1983", KEBUMEN, kk="3202360101100078")),
    ("birth_date_district", small_row("", "GUGUN GUNARDI", "12-12-1961", KEBUMEN),
     small_row("", "HERU PRASETYO", "12-12-1961", KEBUMEN)),
    ("birth_date_name_token", small_row("", "IWAN SUHENDAR", "13-01-1962", SUKABUMI),
     small_row("", "JAJANG SUHENDAR", "13-01-1962", KEBUMEN)),
    # a typo in the given name and in the birth date at once: the surname and the village
    ("place_name_token", small_row("", "KOKOM SUPRIATNA", "14-02-1963", SUKABUMI),
     small_row("", "KOKON SUPRIATNA", "15-02-1936", SUKABUMI)),
]
PASSES = [p for p, _, _ in BLOCKING_CASES]
ALL_PASSES = PASSES[:-2] + ["birth_date_name_token", "address_first_name", "place_name_token", "rare_name"]


@pytest.fixture(scope="module")
def blocked(tmp_path_factory):
    rows = [r for _, x, y in BLOCKING_CASES for r in (x, y)]
    f = build_link_frame(small_records(tmp_path_factory.mktemp("blocking"), rows))
    return f, *candidate_pairs(f)


def test_blocking_finds_each_pair_first_by_its_pass(blocked):
    f, pairs, report = blocked
    labels = [r["pass"] for r in report.as_dict()]
    found = {(int(a), int(b)): labels[p] for a, b, p in pairs[["left", "right", "pass"]].itertuples(index=False)}
    expected = {(2 * k, 2 * k + 1): label for k, label in enumerate(PASSES)}
    assert found == expected


def test_blocking_report_counts_pairs_per_pass(blocked):
    _, _, report = blocked
    got = {r["pass"]: (r["pairs"], r["new_pairs"], r["blocks_skipped"]) for r in report.as_dict()}
    assert [r["pass"] for r in report.as_dict()] == ALL_PASSES
    # A later pass may find an earlier pair again: `pairs` counts it, `new_pairs` does not.
    assert got == {
        "nik_exact": (1, 1, 0),
        "nik_one_edit": (1, 1, 0),  # distinct NIK values only: the exact pair is nik_exact's
        "nik_15_digits": (2, 1, 0),  # + the exact pair; 0012/0021 differ within the first 15 digits
        "name_birth_date": (1, 1, 0),
        "name_village": (1, 1, 0),
        "kk_first_name": (1, 1, 0),
        "kk_name_token": (2, 1, 0),  # + FAJAR NUGROHO / FAJAR SIDIK, kk_first_name's
        "birth_date_district": (1, 1, 0),
        # DEDI KURNIAWAN / KURNIAWAN DEDI share both tokens and the date: found again here
        "birth_date_name_token": (2, 1, 0),
        "address_first_name": (0, 0, 0),  # no addresses in these rows
        # ENTIS SUTISNA twice in one village, found first by name_village, and KOKOM/KOKON SUPRIATNA
        "place_name_token": (2, 1, 0),
        "rare_name": (1, 0, 0),  # ENTIS SUTISNA twice, found first by name_village
    }


def test_blocking_skips_and_reports_oversized_blocks(tmp_path):
    rows = [small_row("", "SITI AMINAH", f"{d:02d}-03-19{60 + d}", SUKABUMI) for d in range(1, 6)]
    f = build_link_frame(small_records(tmp_path, rows))
    pairs, report = candidate_pairs(f, max_block=4)
    by_pass = {r["pass"]: r for r in report.as_dict()}
    assert by_pass["name_village"]["pairs"] == 0
    assert by_pass["name_village"]["blocks_skipped"] == 1
    assert by_pass["name_village"]["rows_in_skipped_blocks"] == 5
    pairs_all, _ = candidate_pairs(f, max_block=5)
    assert len(pairs_all) == 10


# ----------------------------------------------------------------------------- training and scoring


@pytest.fixture(scope="module")
def bg_records(tmp_path_factory):
    _, records = load_records(background(tmp_path_factory.getbasetemp()) / "merge.yaml")
    return records


@pytest.fixture(scope="module")
def bg_links(bg_records):
    return link_records(bg_records, 20261129)


def test_em_training_is_deterministic_for_a_seed(bg_records, bg_links):
    again = link_records(bg_records, 20261129)
    assert asdict(again.model) == asdict(bg_links.model)
    pd.testing.assert_frame_equal(again.pairs, bg_links.pairs)


def test_registry_apart_pairs_are_not_compared_but_count_in_the_prior(bg_links):
    f, pairs = bg_links.frame, bg_links.pairs
    skipped = bg_links.blocking.registry_apart
    assert skipped > 0
    assert not registry_apart(f, pairs["left"].to_numpy(), pairs["right"].to_numpy()).any()
    # The registry's look-alikes (one name, birth date and sex) are compared, but trained on as
    # known non-matches, like the pairs blocking did not keep.
    look_alike = registry_double(f, pairs["left"].to_numpy(), pairs["right"].to_numpy())
    gamma = compare_chunk(f, pairs)[~look_alike]
    kept = int((~look_alike).sum())
    counted = train_model(f, gamma, 20261129, skipped + int(look_alike.sum())).prior
    ignored = train_model(f, gamma, 20261129, 0).prior
    assert counted == bg_links.model.prior
    # About the same expected number of matches, over all the pairs blocking proposed. The two
    # fits' m move apart more where a person's rows may hold two family cards (the generator's
    # kk_stale): 12 % apart on this background, 6 % with kk_stale at 0.
    assert counted * (len(pairs) + skipped) == pytest.approx(ignored * kept, rel=0.15)


def test_model_json_round_trips_and_reuse_gives_identical_scores(bg_records, bg_links, tmp_path):
    path = tmp_path / "model.json"
    bg_links.model.save(path)
    loaded = FSModel.load(path)
    assert asdict(loaded) == asdict(bg_links.model)
    path2 = tmp_path / "model2.json"
    loaded.save(path2)
    assert path2.read_bytes() == path.read_bytes()
    reused = link_records(bg_records, seed=7, model=loaded)  # the seed does not matter when a model is given
    pd.testing.assert_frame_equal(reused.pairs, bg_links.pairs)


# The passes as model.json records them.
PASSES_RECORDED = [
    ("nik_exact", "same", ["nik"], None),
    ("nik_one_edit", "one_edit", ["nik"], None),
    ("nik_15_digits", "same", ["nik15"], None),
    ("name_birth_date", "same", ["name_sorted", "birth_date"], None),
    ("name_village", "same", ["name", "place"], None),
    ("kk_first_name", "same", ["kk15", "name_first"], None),
    ("kk_name_token", "token", ["name_sorted", "kk15"], None),
    ("birth_date_district", "same", ["birth_date", "district_or_place"], None),
    ("birth_date_name_token", "token", ["name_sorted", "birth_date"], None),
    ("address_first_name", "same", ["address", "place", "name_first"], None),
    ("place_name_token", "token", ["name_sorted", "place"], 12),
    ("rare_name", "same", ["name"], 12),
]


def test_model_json_records_the_blocking_passes_next_to_the_comparisons(bg_links, tmp_path):
    path = tmp_path / "model.json"
    bg_links.model.save(path)
    saved = json.loads(path.read_text())
    assert list(saved)[:3] == ["comparisons", "levels", "blocking"]
    assert [p["name"] for p in saved["blocking"]] == [r["pass"] for r in bg_links.blocking.as_dict()]
    assert [(p["name"], p["key"]["kind"], p["key"]["columns"], p["cap"]) for p in saved["blocking"]] == PASSES_RECORDED


def test_a_version_3_model_is_refused_its_passes_were_others(bg_links, tmp_path):
    from bansos_merge.errors import UserError

    data = asdict(bg_links.model)
    del data["blocking"]
    path = tmp_path / "v3.json"
    path.write_text(json.dumps({**data, "version": 3}))
    with pytest.raises(UserError, match="other blocking passes; retrain"):
        FSModel.load(path)


def test_model_load_refuses_a_model_of_other_blocking_passes(bg_links, tmp_path):
    from bansos_merge.errors import UserError

    data = asdict(bg_links.model)
    data["blocking"] = [p for p in data["blocking"] if p["name"] != "rare_name"]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="other blocking passes; retrain"):
        FSModel.load(path)


def test_model_load_refuses_a_model_of_other_comparisons(bg_links, tmp_path):
    from bansos_merge.errors import UserError

    data = asdict(bg_links.model)
    data["levels"] = {**data["levels"], "nik": ["different", "exact"]}
    path = tmp_path / "old.json"
    path.write_text(__import__("json").dumps(data))
    with pytest.raises(UserError):
        FSModel.load(path)


def test_term_frequency_common_name_weighs_less_than_rare_name(bg_records, bg_links):
    f, pairs = bg_links.frame, bg_links.pairs
    exact = pairs[pairs["name"] == COMPARISONS[1].levels.index("exact")]
    counts = pd.Series(f.name.codes).value_counts()
    freq = counts.reindex(f.name.codes[exact["left"].to_numpy()]).to_numpy()
    w = exact["w_name"].to_numpy()
    common, rare = w[freq == freq.max()], w[freq == 2]
    assert len(common) and len(rare)
    assert common.max() < rare.min()
    assert (w >= 0).all()  # a common name never counts against
    # The weight falls with the frequency (ties aside).
    by_freq = pd.DataFrame({"freq": freq, "w": w}).groupby("freq")["w"].max()
    assert by_freq.is_monotonic_decreasing


def test_missing_values_contribute_zero(bg_links, tmp_path):
    pairs = bg_links.pairs
    seen = set()
    for c in COMPARISONS:
        missing = pairs[c.name] == -1
        seen |= {c.name} if missing.any() else set()
        assert (pairs.loc[missing, f"w_{c.name}"] == 0).all(), c.name
    assert {"nik", "birth_date", "sex", "kk", "mother_name", "birth_place"} <= seen
    # A hand-made pair: one side has no birth date, no KK, no sex, no mother: those add nothing
    # (the birth date differs from the date of the other side's NIK, so that says nothing either).
    recs = small_records(tmp_path, [
        small_row(BASE, "BAMBANG HERMAWAN", "06-07-1978", SUKABUMI, kk="3202360101100077", JK="L", IBU="SUTINAH"),
        small_row(BASE, "BAMBANG HERMAWAN", "", SUKABUMI),
    ])
    from bansos_merge.link.linker import score_candidates

    f = build_link_frame(recs)
    scored = score_candidates(f, pd.DataFrame({"left": [0], "right": [1], "pass": [0]}), bg_links.model)
    for name in ("birth_date", "kk", "sex", "mother_name", "birth_place"):
        assert scored[name].iloc[0] == -1 and scored[f"w_{name}"].iloc[0] == 0.0, name
    total = bg_links.model.prior_weight + sum(scored[f"w_{c.name}"].iloc[0] for c in COMPARISONS)
    assert scored["weight"].iloc[0] == pytest.approx(total, abs=1e-4)


def test_an_unobserved_level_does_not_inflate_the_levels_above_it(bg_links):
    model = bg_links.model
    m = np.array(model.m["address"])
    u = np.array(model.u["address"])
    same_village = model.levels["address"].index("same_village")
    assert u[same_village] > 0.3  # the precondition: two villages, so half the random pairs share one
    w = model.weights()["address"]
    # At or above the village, the evidence is at most what the village and RT/RW levels themselves carry.
    honest = np.log2((m[same_village:]).sum() / (u[same_village:]).sum())
    assert w[same_village] <= honest + 0.5, (w, np.log2(m / u))
