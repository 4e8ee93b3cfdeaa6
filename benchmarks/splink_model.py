"""Splink (DuckDB backend) configured for bansos-merge's normalised records: the shared set-up
of the linkage benchmarks (`bench_febrl_splink.py`, `bench_link_scale.py`).

Splink sees the SAME normalised records as bansos-merge (the output of
`normalize_source(read_source(src))`, all sources concatenated), mapped to columns it can use:

=================  ==========================================================================
Splink column      from the normalised record
=================  ==========================================================================
first_name         first token of ``name_key`` (titles stripped, old spellings folded)
surname            last token of ``name_key`` when it has two or more tokens, else null
forename_surname   "first_name surname" (term frequencies of the whole name)
name_key           the whole ``name_key`` (blocking, deterministic rules)
birth_date         ``birth_date`` (a DATE)
sex                ``sex`` (L/P)
nik                the usable ``nik``; else the 15+ reliable digits of a spreadsheet-damaged
                   NIK (``nik_known_digits``), one edit away from the full NIK
kk                 the same for the family card
address            ``address`` (street text, RT/RW removed)
rt, rw             ``rt``, ``rw``
village_key ...    ``village_code`` / ``district_code`` / ``regency_code`` / ``province_code``
province_key       where resolved, else the region name as written (FEBRL's suburb, state)
birth_place        ``birth_place``
mother_name        ``mother_name``
phone              ``phone``
=================  ==========================================================================

The model follows Splink's documented workflow (its tutorial and its FEBRL examples):

* ``link_type="dedupe_only"`` on the one concatenated table, as bansos-merge links all
  records at once (neither system is told that FEBRL4's two files hold no duplicates).
* Comparisons from ``splink.comparison_library`` (included only where the column is filled
  in at least 0.5 % of the records, so FEBRL gets no NIK comparison):
  ``ForenameSurnameComparison`` (exact full name with term-frequency adjustment, names
  swapped, Jaro-Winkler 0.92 / 0.88 on both, exact surname, exact first name: Splink's
  recommended comparison where both are present; FEBRL swaps given name and surname);
  ``NameComparison`` (exact with term-frequency adjustment, Jaro-Winkler 0.92 / 0.88 / 0.70)
  for mother's name; ``DateOfBirthComparison`` (exact, one
  character, 1 month, 1 year, 10 years); ``DamerauLevenshteinAtThresholds("nik", [1, 2])``,
  as Splink's FEBRL examples treat ``soc_sec_id``; ``ExactMatch`` for sex and phone;
  ``JaroWinklerAtThresholds`` for the birth place. Where is one person:
  - with a KK column (households in the data): ONE hierarchical ``CustomComparison``
    ``household_place`` (same KK > same street address > street address JW >= 0.9 > same
    village + RT/RW > village > district > regency > province), because KK, address and
    region agree together between family members and Splink's comparisons must be
    conditionally independent (see ``household_place_comparison``);
  - without (FEBRL): ``JaroWinklerAtThresholds("address", [0.95, 0.88])`` and a hierarchical
    ``place`` comparison (village + RT/RW > village > district > regency > province), the
    way ``PostcodeComparison`` nests full postcode > sector > district > area.
* Blocking rules for prediction: a union of ``block_on`` rules, each tight enough on its own
  (NIK's first 15 digits; KK; first name + birth date; surname + birth date; birth date +
  district; first name + surname + village; street address + village; the names swapped),
  then the looser ones Splink's FEBRL examples use (first name + surname; birth date alone).
  Splink's blocking guide says to count the comparisons each rule creates before
  predicting: every rule is counted (sum of n(n-1)/2 over its blocks, the pre-filter count,
  one GROUP BY in DuckDB) and a rule over ``max(1e6, 10 x records)`` comparisons is left
  out and reported.
* ``estimate_probability_two_random_records_match`` from deterministic rules (same name key
  and birth date; same NIK and birth date) with ``recall=0.7`` as in the tutorial;
  ``estimate_u_using_random_sampling(max_pairs=1e7, seed)`` (the docs: 1e7 "often
  adequate", 1e8-1e9 best); two EM training sessions (see ``em_sessions``): FEBRL as the
  tutorial (first name + surname, then birth date), data with a NIK on name + birth date and
  on NIK, each capped at 2 M pairs with Splink 5's ``max_pairs``. Splink leaves each
  session's blocking columns out of its estimates.
* ``predict(threshold_match_probability=0.2)`` then
  ``cluster_pairwise_predictions_at_threshold(..., 0.95)`` (the tutorial's thresholds;
  0.95 is a match weight of 4.25, bansos-merge's match threshold is 6.0).
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NULL_SHARE_MIN = 0.005  # a comparison needs its column filled in this share of records
RULE_BUDGET_FLOOR = 1_000_000
RULE_BUDGET_PER_RECORD = 10
PREDICT_THRESHOLD = 0.2
CLUSTER_THRESHOLD = 0.95
U_MAX_PAIRS = 1e7
EM_MAX_PAIRS = 2e6
PRIOR_RECALL = 0.7

SPLINK_COLUMNS = [
    "unique_id", "first_name", "surname", "forename_surname", "name_key", "birth_date", "sex", "nik", "kk", "address", "rt", "rw",
    "village_key", "district_key", "regency_key", "province_key", "birth_place", "mother_name", "phone",
]
PLACE_KEYS = ("village_key", "district_key", "regency_key", "province_key")
# The normalised columns the mapping reads (bench_link_scale reads only these from records.parquet).
RECORD_COLUMNS = [
    "name_key", "birth_date", "sex", "nik", "nik_known_digits", "kk", "kk_known_digits", "address", "rt", "rw",
    "village", "district", "regency", "province", "village_code", "district_code", "regency_code",
    "province_code", "birth_place", "mother_name", "phone",
]


def _text(s: pd.Series) -> pd.Series:
    """object strings with None for missing/empty (DuckDB gets VARCHAR with NULLs)."""
    s = s.astype(object).where(s.notna(), None)
    return s.where(s != "", None)


def _damaged_id(full: pd.Series, known: pd.Series) -> pd.Series:
    full, known = _text(full), _text(known)
    known = known.where(known.str.len() >= 15, None)
    return full.where(full.notna(), known)


def splink_input(records: pd.DataFrame) -> pd.DataFrame:
    """The Splink input table of `records` (row i -> unique_id i)."""
    key = _text(records["name_key"])
    tokens = key.str.split()
    n_tok = tokens.str.len().fillna(0)
    out = pd.DataFrame(
        {
            "unique_id": np.arange(len(records), dtype=np.int64),
            "first_name": tokens.str[0].where(n_tok >= 1, None),
            "surname": tokens.str[-1].where(n_tok >= 2, None),
            "forename_surname": tokens.str[0].where(n_tok >= 1, None).str.cat(
                tokens.str[-1].where(n_tok >= 2, None), sep=" ", na_rep=""
            ).str.strip().where(n_tok >= 1, None),
            "name_key": key,
            "birth_date": pd.to_datetime(records["birth_date"]).dt.date.astype(object).where(records["birth_date"].notna(), None),
            "sex": _text(records["sex"]),
            "nik": _damaged_id(records["nik"], records["nik_known_digits"]),
            "kk": _damaged_id(records["kk"], records["kk_known_digits"]),
            "address": _text(records["address"]),
            "rt": _text(records["rt"]),
            "rw": _text(records["rw"]),
        }
    )
    for level in ("village", "district", "regency", "province"):
        code = _text(records[f"{level}_code"])
        out[f"{level}_key"] = code.where(code.notna(), _text(records[level]))
    for col in ("birth_place", "mother_name", "phone"):
        out[col] = _text(records[col])
    out = out.reset_index(drop=True)
    return out[SPLINK_COLUMNS]


def _filled(df: pd.DataFrame, *cols: str) -> bool:
    return all(df[c].notna().mean() >= NULL_SHARE_MIN for c in cols)


def comparisons(df: pd.DataFrame) -> list:
    import splink.comparison_library as cl

    comps = []
    if _filled(df, "first_name"):
        comps.append(cl.ForenameSurnameComparison(
            "first_name", "surname", forename_surname_concat_col_name="forename_surname"
        ))
    if _filled(df, "birth_date"):
        comps.append(cl.DateOfBirthComparison("birth_date", input_is_string=False))
    if _filled(df, "nik"):
        comps.append(cl.DamerauLevenshteinAtThresholds("nik", [1, 2]))
    if _filled(df, "sex"):
        comps.append(cl.ExactMatch("sex"))
    if _filled(df, "kk"):
        comps.append(household_place_comparison(df))
    else:
        if _filled(df, "address"):
            comps.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.88]))
        place = place_comparison(df)
        if place is not None:
            comps.append(place)
    if _filled(df, "birth_place"):
        comps.append(cl.JaroWinklerAtThresholds("birth_place", [0.88]))
    if _filled(df, "mother_name"):
        comps.append(cl.NameComparison("mother_name"))
    if _filled(df, "phone"):
        comps.append(cl.ExactMatch("phone"))
    return comps


def _place_levels(df: pd.DataFrame) -> list:
    """Same village + RT + RW, village, district, regency, province (those filled in)."""
    import splink.comparison_level_library as cll

    place = [c for c in PLACE_KEYS if _filled(df, c)]
    levels = []
    if "village_key" in place and _filled(df, "rt", "rw"):
        levels.append(
            cll.And(cll.ExactMatchLevel("village_key"), cll.ExactMatchLevel("rt"), cll.ExactMatchLevel("rw"))
            .configure(label_for_charts="Same village, RT and RW")
        )
    levels += [cll.ExactMatchLevel(c).configure(label_for_charts=f"Same {c}") for c in place]
    return levels


def place_comparison(df: pd.DataFrame):
    """Region as one hierarchical comparison, the way PostcodeComparison nests the parts of a
    postcode (full > sector > district > area): village + RT/RW > village > district > ..."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    place = [c for c in PLACE_KEYS if _filled(df, c)]
    if not place:
        return None
    levels = [cll.And(*[cll.NullLevel(c) for c in place]), *_place_levels(df), cll.ElseLevel()]
    return cl.CustomComparison(levels, output_column_name="place")


def household_place_comparison(df: pd.DataFrame):
    """Where the data carry a family card (KK): KK, street address and region in ONE
    hierarchical comparison.

    Between two members of one household they all agree together; as separate comparisons
    Fellegi-Sunter would count that one fact three times and merge the household (the first
    configuration tried here did: KK exact +11, address exact +6, village/RT/RW +7.6).
    Splink's comparisons must be conditionally independent, and its guide says to combine
    correlated columns into one comparison. Levels, strongest first: same KK; same street
    address (in the same village, or no village); street address Jaro-Winkler >= 0.9 (same
    caveat); same village, RT and RW; same village; district; regency; province; else.
    Without a KK column (FEBRL) address and place stay two comparisons, as in Splink's FEBRL
    examples: there is no household in the data to count twice.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    place = [c for c in PLACE_KEYS if _filled(df, c)]
    has_address = _filled(df, "address")
    used = ["kk"] + (["address"] if has_address else []) + place
    levels = [cll.And(*[cll.NullLevel(c) for c in used])]
    levels.append(cll.ExactMatchLevel("kk").configure(label_for_charts="Same KK"))
    same_village = (
        "(village_key_l = village_key_r or village_key_l is null or village_key_r is null)"
        if "village_key" in place else "true"
    )
    if has_address:
        levels.append(cll.CustomLevel(f"address_l = address_r and {same_village}", "Same street address"))
        levels.append(cll.CustomLevel(
            f"jaro_winkler_similarity(address_l, address_r) >= 0.9 and {same_village}", "Street address JW >= 0.9"
        ))
    levels += _place_levels(df)
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(levels, output_column_name="household_place")


# (label, block_on arguments, or a SQL condition string). Order: tight rules first.
CANDIDATE_RULES: list[tuple[str, tuple[str, ...] | str]] = [
    ("nik_15_digits", ("substr(nik, 1, 15)",)),
    ("kk", ("kk",)),
    ("first_name+birth_date", ("first_name", "birth_date")),
    ("surname+birth_date", ("surname", "birth_date")),
    ("birth_date+district", ("birth_date", "district_key")),
    ("first_name+surname+village", ("first_name", "surname", "village_key")),
    ("address+village", ("address", "village_key")),
    ("names_swapped", "l.first_name = r.surname and l.surname = r.first_name"),
    ("first_name+surname", ("first_name", "surname")),
    ("birth_date", ("birth_date",)),
]


def _rule_columns(rule: tuple[str, ...] | str) -> list[str]:
    if isinstance(rule, str):
        return ["first_name", "surname"]
    return [c[len("substr("):].split(",")[0].strip() if c.startswith("substr(") else c for c in rule]


def rule_pair_count(con, table: str, rule: tuple[str, ...] | str) -> int:
    """Comparisons a rule creates before its filters: sum of n(n-1)/2 over its blocks (the
    pre-filter count of Splink's blocking analysis), by one GROUP BY in DuckDB."""
    if isinstance(rule, str):  # names swapped: block (A, B) meets block (B, A)
        sql = f"""
            with g as (select first_name f, surname s, count(*) n from {table}
                       where first_name is not null and surname is not null group by 1, 2)
            select coalesce(sum(case when a.f = a.s then a.n * (a.n - 1) / 2 else a.n * b.n / 2 end), 0)
            from g a join g b on a.f = b.s and a.s = b.f"""
    else:
        keys = ", ".join(rule)
        present = " and ".join(f"{c} is not null" for c in _rule_columns(rule))
        sql = f"""select coalesce(sum(n * (n - 1) / 2), 0)
                  from (select count(*) n from {table} where {present} group by {keys})"""
    return int(con.execute(sql).fetchall()[0][0])


def blocking_rules(df: pd.DataFrame, con, table: str) -> tuple[list, list[dict]]:
    """The prediction rules within budget, and a report of every candidate rule."""
    from splink import block_on

    budget = max(RULE_BUDGET_FLOOR, RULE_BUDGET_PER_RECORD * len(df))
    rules, report = [], []
    for label, rule in CANDIDATE_RULES:
        if not _filled(df, *_rule_columns(rule)):
            report.append({"rule": label, "pairs": 0, "used": False, "why": "column empty"})
            continue
        pairs = rule_pair_count(con, table, rule)
        used = pairs <= budget
        report.append({"rule": label, "pairs": pairs, "used": used, "why": "" if used else f"over budget {budget:,}"})
        if used:
            rules.append(rule if isinstance(rule, str) else block_on(*rule))
    return rules, report


def em_sessions(df: pd.DataFrame) -> list[tuple[str, ...]]:
    """EM training blocking rules. Splink's guide: each should give pairs of which a good
    share are matches, and between them every comparison gets its m estimated.

    Without a NIK (FEBRL): first name + surname, then birth date, as in Splink's tutorial.
    With one: name + birth date (trains NIK, household, place ...) and NIK (trains names and
    birth date). The tutorial's first name + surname block is no good on these data: common
    names (ASEP SUNARYA) fill it with different people, and at 200,000 people EM found the
    household there rather than the person (m of an exact NIK 0.002, of the same KK 0.45),
    then merged siblings; birth date alone mixes twins and neighbours the same way.
    """
    if _filled(df, "nik"):
        return [("forename_surname", "birth_date"), ("nik",)]
    return [("first_name", "surname"), ("birth_date",)]


@dataclass
class SplinkResult:
    cluster: np.ndarray  # cluster id per input row (row order of the records)
    matches: pd.DataFrame | None = None  # unique_id_l, unique_id_r, match_weight of pairs >= threshold
    seconds: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def run_splink(records: pd.DataFrame, seed: int = 20261129, cluster_threshold: float = CLUSTER_THRESHOLD,
               verbose: bool = False, threads: int | None = None, keep_matches: bool = False) -> SplinkResult:
    """Train, predict and cluster `records` with Splink on DuckDB; times each step."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t = {"start": time.perf_counter()}
    df = splink_input(records)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    db_api = DuckDBAPI(connection=con)
    table = db_api.register(df, table_name="records")
    comps = comparisons(df)
    rules, rule_report = blocking_rules(df, con, table.physical_name)
    t["prepare"] = time.perf_counter()

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comps,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.INFO if verbose else logging.WARNING)
    if not verbose:
        logging.getLogger("splink").setLevel(logging.ERROR)

    deterministic = [block_on("name_key", "birth_date")]
    if _filled(df, "nik"):
        deterministic.append(block_on("nik", "birth_date"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=PRIOR_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    t["u"] = time.perf_counter()
    sessions = em_sessions(df)
    for cols in sessions:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*cols), max_pairs=EM_MAX_PAIRS
        )
    t["train"] = time.perf_counter()

    predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    t["predict"] = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, cluster_threshold)
    got = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    t["cluster"] = time.perf_counter()

    codes = pd.factorize(got["cluster_id"])[0]
    label = np.full(len(df), -1, dtype=np.int64)
    label[got["unique_id"].to_numpy(dtype=np.int64)] = codes
    missing = label < 0
    label[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    n_pairs = int(con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0])
    n_match = int(con.execute(
        f"select count(*) from {predictions.physical_name} where match_probability >= {cluster_threshold}"
    ).fetchall()[0][0])
    seconds = {
        "prepare": t["prepare"] - t["start"],
        "train": t["train"] - t["prepare"],
        "train_u": t["u"] - t["prepare"],
        "predict": t["predict"] - t["train"],
        "cluster": t["cluster"] - t["predict"],
        "linkage": t["cluster"] - t["start"],
    }
    info = {
        "comparisons": [c.create_output_column_name() for c in comps],
        "blocking": rule_report,
        "prior": linker._settings_obj._probability_two_random_records_match,
        "predicted_pairs_over_0.2": n_pairs,
        "pairs_at_cluster_threshold": n_match,
        "cluster_threshold": cluster_threshold,
        "duckdb": duckdb.__version__,
    }
    matches = None
    if keep_matches:
        matches = con.execute(
            f"select unique_id_l, unique_id_r, match_weight from {predictions.physical_name} "
            f"where match_probability >= {cluster_threshold}"
        ).df()
    con.close()
    return SplinkResult(cluster=label, matches=matches, seconds=seconds, info=info)


def project_version() -> str:
    """The project's commit (and '+dirty' when the work tree differs): the code measured."""
    here = Path(__file__).resolve().parent

    def git(*a):
        return subprocess.run(["git", "-C", str(here), *a], capture_output=True, text=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except OSError:
        return "unknown"
