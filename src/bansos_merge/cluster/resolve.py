"""From scored pairs to persons: decisions, constraints, clusters, IDs and the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..link.comparisons import (
    BIRTH_DATE_DIFFERENT,
    MOTHER_EXACT,
    PLACE_EXACT,
    NAME_EXACT,
    NAME_SAME_TOKENS,
    NIK_SERIAL_ONE_EDIT,
    NIK_SIBLING,
    NIK_TYPO,
    KK_DIFFERENT,
    ADDRESS_SAME_VILLAGE,
)
from ..config import LinkageConfig, MergeConfig, ReviewConfig
from ..link.blocking import registry_apart, registry_double
from ..link.features import MISSING, LinkFrame
from ..link.linker import Links
from ..output_key import output_key
from ..sorted_sets import unique
from .components import cluster
from .household import borrowed_mothers, decided_by_household, household_rules, nik_says_another
from .ids import assign_person_ids
from .queue import Queue, build_queue


@dataclass
class Resolution:
    person_id: np.ndarray
    link_score: np.ndarray
    review: pd.DataFrame  # the analysts' queue, in order: left, right, weight, reason, levels, weights, doubt, stake, value, item (cluster/queue.py)
    id_history: pd.DataFrame
    counts: dict


def resolve(
    records: pd.DataFrame | None,
    links: Links,
    match_threshold: float,
    review_threshold: float,
    cannot_link_threshold: float,
    previous: pd.DataFrame | None,
    run_id: str,
    known_ids: set[str] | pa.ChunkedArray,
    must_link: pd.DataFrame | None = None,
    cannot_link: pd.DataFrame | None = None,
    sources_with_ids: set[str] | None = None,
    family_rules: bool = True,
    keys: pd.Series | None = None,
    review_config: ReviewConfig | None = None,
    double_threshold: float = LinkageConfig.model_fields["registry_double_threshold"].default,
    id_key: bytes | None = None,
) -> Resolution:
    """`must_link` / `cannot_link`: analysts' decisions as left, right record positions.
    `sources_with_ids`, `keys`: see ids.assign_person_ids (with `keys`, `records` may be None)."""
    pairs = links.pairs
    f = links.frame
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    undecided = ~np.isin(a * f.n + b, _decided_keys(must_link, cannot_link, f.n))
    mothers = borrowed_mothers(pairs, f, match_threshold)
    decision = decide(pairs, f, match_threshold, review_threshold, family_rules, links.model.prior_weight, double_threshold, mothers)
    decision = pd.Categorical.from_codes(np.where(undecided, decision.codes, DECISIONS.index("decided")), DECISIONS)
    civil_nik = np.where(f.civil, f.nik, -1)
    # One person registered twice is one registry person, joined whatever the NIKs say.
    doubles = pairs.loc[decision == "registry_double", ["left", "right"]]
    registered = _one_anchor(civil_nik, doubles)

    decision, weight = judge_registry_doubles(
        pairs, f, decision, registered, match_threshold, review_threshold, family_rules, links.model.prior_weight, double_threshold, mothers
    )

    # A record fitting two registry people about equally well is linked to neither.
    unsure = _ambiguous(a, b, weight, decision == "match", registered)
    weak_or_against = _is(decision, "non_match", "review_band") & _strongly_against(pairs, weight, cannot_link_threshold, family_rules)
    against = pairs.loc[_is(decision, *_APART) | weak_or_against, ["left", "right"]]
    if cannot_link is not None and len(cannot_link):
        against = pd.concat([against, cannot_link[["left", "right"]]], ignore_index=True)
    must = (must_link if must_link is not None else pd.DataFrame({"left": [], "right": []}, dtype=np.int64))[["left", "right"]]
    must = pd.concat([must, doubles], ignore_index=True).astype(np.int64).assign(weight=np.inf)
    is_edge = (decision == "match") & ~unsure
    edges = pairs.loc[is_edge, ["left", "right"]].assign(weight=weight[is_edge])
    clusters = cluster(f.n, _with(edges, must), against, civil_nik)

    # Then a record whose match into another cluster is as good as into its own (namesakes
    # in a village, listed without NIK) is detached and reviewed, and the rest reclustered.
    detached = _ambiguous(
        edges["left"].to_numpy(), edges["right"].to_numpy(), edges["weight"].to_numpy(), np.ones(len(edges), bool), clusters.label
    )
    if detached.any():
        unsure |= pairs.index.isin(edges.index[detached])
        edges = edges[~detached]
        clusters = cluster(f.n, _with(edges, must), against, civil_nik)

    label = clusters.label
    queue = _queue(pairs, decision, f, label, edges, clusters.cut_edges, unsure, links.model.prior_weight, family_rules, review_config, mothers)

    person_id, history = assign_person_ids(records, label, previous, run_id, known_ids, sources_with_ids, keys, id_key)
    counts = {
        "candidate_pairs": int(len(pairs)),
        "match_pairs": int(len(edges)),
        "review_pairs": int(len(queue.pairs)),
        "review": queue.stats,
        "cut_edges": int(len(clusters.cut_edges)),
        "detached_ambiguous": int(detached.sum()),
        "persons": int(len(unique(label))),
        "decisions": {k: int(v) for k, v in pd.Series(decision).value_counts().items() if v},
    }
    return Resolution(person_id, clusters.link_score, queue.pairs, history, counts)


def _queue(
    pairs: pd.DataFrame, decision: pd.Categorical, f: LinkFrame, label: np.ndarray, edges: pd.DataFrame, cut: pd.DataFrame,
    unsure: np.ndarray, prior_weight: float, family_rules: bool, review_config: ReviewConfig | None, mothers: np.ndarray,
) -> Queue:
    """The analysts' queue (cluster/queue.py) from every pair whose decision is in question: the
    pairs kept apart in doubt (with why), the edges the clustering cut, the matches."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    apart = label[a] != label[b]
    # A weaker double registration is asked about on what says who a person is, not where they live.
    look_alike = registry_double(f, a, b) & (decision != "registry_double") & (decision != "decided")
    reason = np.select(
        [unsure & apart, look_alike & apart, (decision == "names_differ") & apart, (decision == "dates_differ") & apart,
         (decision == "review_band") & apart],
        ["ambiguous_match", "possible_double_registration", "names_differ", "dates_differ", "review_band"],
        default="",
    )
    queued = pairs[reason != ""].assign(reason=reason[reason != ""])
    # Cut edges are positions in edges + must-links; an analyst's must-link is never cut.
    cut = cut.sort_values("edge")
    cut_pairs = pairs.loc[edges.index[cut["edge"].to_numpy(dtype=np.int64)]].assign(reason=cut["reason"].to_numpy())
    matched = pairs.loc[edges.index[label[edges["left"].to_numpy()] == label[edges["right"].to_numpy()]]].assign(reason="match")
    candidates = pd.concat([cut_pairs, queued, matched]).drop_duplicates(["left", "right"])
    household = decided_by_household(pairs, _is(decision, "names_differ", "dates_differ"), family_rules, mothers)
    evidence = ~(household | _is(decision, "serial_apart", "registry_apart", "decided"))
    judged = pairs.assign(weight=np.where(look_alike, identity_weight(pairs, prior_weight), pairs["weight"].to_numpy()))
    return build_queue(judged, evidence, candidates.reset_index(drop=True), household[candidates.index], f, label, review_config or ReviewConfig())


def resolve_with(
    config: MergeConfig,
    records: pd.DataFrame | None,
    links: Links,
    run_id: str,
    previous_records: pd.DataFrame | None = None,
    known_ids: set[str] | pa.ChunkedArray | None = None,
    must_link: pd.DataFrame | None = None,
    cannot_link: pd.DataFrame | None = None,
    keys: pd.Series | None = None,
) -> Resolution:
    """`resolve` with the thresholds, rules and id sources of a merge configuration (the match
    threshold the model learned from analysts' labels, if it learned one)."""
    lk = config.linkage
    learned = links.model.match_threshold
    return resolve(
        records,
        links,
        lk.match_threshold if learned is None else learned,
        lk.review_threshold,
        lk.cannot_link_threshold,
        previous_records,
        run_id,
        set() if known_ids is None else known_ids,
        must_link=must_link,
        cannot_link=cannot_link,
        sources_with_ids={s.name for s in config.sources if s.id_column},
        family_rules=lk.family_rules,
        keys=keys,
        review_config=config.review,
        double_threshold=lk.registry_double_threshold,
        id_key=output_key(Path(config.output_dir) / "runs", "person-ids"),
    )


def _with(edges: pd.DataFrame, must: pd.DataFrame) -> pd.DataFrame:
    """Match edges plus analysts' must-links (weight +inf)."""
    return pd.concat([edges, must], ignore_index=True) if len(must) else edges.reset_index(drop=True)


# Decisions that mean "two people": the pair is a cannot-link for the clustering.
_APART = ("registry_apart", "serial_apart", "dates_differ")


IDENTITY = ("name", "birth_date", "sex", "mother_name", "birth_place")


def identity_weight(pairs: pd.DataFrame, prior_weight: float) -> np.ndarray:
    """The weight of what says who a person is (name, birth date, sex, mother, birth place),
    without which card and NIK they hold, and with where they live only when it agrees: a
    person registered again after a move has another region, card, address and NIK, so a
    different address is no evidence against; a birth registered twice in one village is, for
    the same address, evidence for."""
    return prior_weight + sum(pairs[f"w_{c}"].to_numpy() for c in IDENTITY) + np.maximum(pairs["w_address"].to_numpy(), 0.0)


def _one_anchor(civil_nik: np.ndarray, doubles: pd.DataFrame) -> np.ndarray:
    """Who each record stands for as a registry person (-1: nobody in particular): its NIK, the
    smallest NIK of its group for a person registered twice."""
    if len(doubles) == 0:
        return civil_nik
    a, b = doubles["left"].to_numpy(), doubles["right"].to_numpy()
    nodes, local = np.unique(np.r_[a, b], return_inverse=True)
    graph = coo_matrix((np.ones(len(a), np.int8), (local[: len(a)], local[len(a):])), shape=(len(nodes), len(nodes)))
    group = connected_components(graph, directed=False)[1]
    smallest = pd.Series(civil_nik[nodes]).groupby(group).transform("min").to_numpy()
    anchor = civil_nik.copy()
    anchor[nodes] = smallest
    return anchor


def judge_registry_doubles(
    pairs: pd.DataFrame, f: LinkFrame, decision: pd.Categorical, anchor: np.ndarray, match_threshold: float, review_threshold: float,
    family_rules: bool, prior_weight: float, double_threshold: float, mothers: np.ndarray | None = None,
) -> tuple[pd.Categorical, np.ndarray]:
    """A pair holding one NIK each of a person registered twice (the two registrations, or lists
    that copied one of them) disagrees on the NIK, and likely the card and address, by
    construction: it is judged again on the identity evidence, the NIK saying nothing. Returns
    the decisions and weights, those pairs' changed. `anchor`: see `_one_anchor`."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    weight = pairs["weight"].to_numpy()
    both = _one_registry_person(f, anchor, a, b) & ~_is(decision, "registry_double", "registry_apart", "decided")
    if not both.any():
        return decision, weight
    weight = np.where(both, identity_weight(pairs, prior_weight), weight)
    again = pairs[both].assign(weight=weight[both], nik=np.int8(MISSING))
    codes = decision.codes.copy()
    codes[both] = decide(again, f, match_threshold, review_threshold, family_rules, prior_weight, double_threshold, mothers).codes
    return pd.Categorical.from_codes(codes, DECISIONS), weight


def _one_registry_person(f: LinkFrame, anchor: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs whose two different NIKs are both registrations of one registry person (`anchor`:
    who each civil-registry record stands for, see `_one_anchor`), whichever records hold them."""
    civil = f.civil & (f.nik >= 0)
    person_of_nik = pd.Series(anchor[civil]).groupby(f.nik[civil]).min()
    person = pd.Series(f.nik).map(person_of_nik).fillna(-1).to_numpy(np.int64)
    return (person[a] >= 0) & (person[a] == person[b]) & (f.nik[a] != f.nik[b])


def _strongly_against(pairs: pd.DataFrame, weight: np.ndarray, cannot_link_threshold: float, family_rules: bool) -> np.ndarray:
    """A pair's own evidence is strongly against one person (so no chain may join them):
    a very low weight, or (a household rule) birth dates that disagree outright."""
    against = weight < cannot_link_threshold
    if family_rules:
        against |= (pairs["birth_date"] == BIRTH_DATE_DIFFERENT).to_numpy()
    return against


DECISIONS = (
    "registry_apart", "serial_apart", "names_differ", "dates_differ", "match", "review_band", "non_match", "decided", "registry_double",
)


def _is(decision: pd.Categorical, *names: str) -> np.ndarray:
    return np.isin(decision.codes, [DECISIONS.index(n) for n in names])


def decide(
    pairs: pd.DataFrame,
    f: LinkFrame,
    match_threshold: float,
    review_threshold: float,
    family_rules: bool = True,
    prior_weight: float = 0.0,
    double_threshold: float = np.inf,
    mothers: np.ndarray | None = None,
) -> pd.Categorical:
    """The pair-level decision, from the weight and a few rules that naive Bayes cannot see
    (a family shares a card, an address, a mother and, for twins, a birth date):

    - registry_apart: two civil-registry records with different NIKs are two people; the
      registry is authoritative, so they are neither matched nor reviewed.
    - serial_apart: NIKs registered the same day in the same district with other serials,
      names that are not the same, and no sign of a typo: twins or neighbours, two people (not
      reviewed). A typo shows as one NIK the registry knows and one it does not, and keeps the
      family card: NIKs one typo apart (outside the serial) on two different cards are two people.
    - names_differ: completely different names, above the match threshold: kept apart unless
      the NIK and the birth date both agree exactly.
    - dates_differ: birth dates that disagree outright, above the match threshold: kept apart
      unless the NIK agrees exactly or the mother's name does — father and son share a name
      and a card, but not a mother, nor a NIK one typo apart. `mothers` (see
      `household.borrowed_mothers`) lends a side that names no mother the one its registry
      record names. A row without a birth date is dated by its own NIK
      (`household.nik_says_another`). The household rules' pairs are not reviewed, but for
      those kept apart on a birth date alone (`household.decided_by_household`).
    - registry_double: two civil-registry records with different NIKs and family cards but one
      name, birth date, sex, mother's name and birth place, whose identity evidence (see
      `identity_weight`, with `prior_weight`) reaches `double_threshold`: one person registered
      twice (data ganda, after a move: another region, card and address, which the weight counts
      against). They are joined whatever the registry's NIKs say; the golden NIK is left to the
      registry (publish/registry.py). A weaker look-alike is decided by its weight like any other
      pair, the clustering keeps the two NIKs apart, and it is a review candidate (`resolve`).
    - match, review_band, non_match: by the thresholds.

    A categorical of DECISIONS (9 M pairs: comparing codes, not strings).

    `family_rules=False` drops the three household rules, for data without households (FEBRL).
    """
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    w = pairs["weight"].to_numpy()
    nik, name = pairs["nik"].to_numpy(), pairs["name"].to_numpy()
    apart = registry_apart(f, a, b)
    names_differ, dates_differ = household_rules(pairs, mothers)
    dates_differ |= nik_says_another(pairs, f)
    serial_levels = ((nik == NIK_SIBLING) & (name < NAME_EXACT)) | ((nik == NIK_SERIAL_ONE_EDIT) & (name < NAME_SAME_TOKENS))
    one_unregistered = f.nik_registered[a] != f.nik_registered[b]
    # A typo leaves the family card as it was: one typo apart on two cards, under another name or
    # in another village, is two people born days apart in one district. One name in one village
    # may hold a card the person has left (a marriage, a move): the weight decides that.
    address = pairs["address"].to_numpy()
    elsewhere = (name < NAME_SAME_TOKENS) | ((address >= 0) & (address < ADDRESS_SAME_VILLAGE))
    other_card = (nik == NIK_TYPO) & (pairs["kk"].to_numpy() == KK_DIFFERENT) & elsewhere
    serial_apart = (serial_levels & ~one_unregistered) | other_card
    if not family_rules:
        serial_apart = names_differ = dates_differ = np.zeros(len(pairs), dtype=bool)
    high = w >= match_threshold
    double = (
        registry_double(f, a, b)
        & (pairs["mother_name"].to_numpy() == MOTHER_EXACT)
        & (pairs["birth_place"].to_numpy() == PLACE_EXACT)
        & (identity_weight(pairs, prior_weight) >= double_threshold)
    )
    code = np.select(
        [double, apart, serial_apart, high & names_differ, high & dates_differ, high, w >= review_threshold],
        [DECISIONS.index(d) for d in ("registry_double", "registry_apart", "serial_apart", "names_differ", "dates_differ", "match", "review_band")],
        default=DECISIONS.index("non_match"),
    )
    return pd.Categorical.from_codes(code, DECISIONS)


AMBIGUITY_MARGIN = 3.0  # log2: the best candidate must be 8x likelier than the next


def _ambiguous(a: np.ndarray, b: np.ndarray, w: np.ndarray, usable: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Edges of records that fit two anchors (registry people, or clusters) about equally well.

    Two SITI AMINAHs in one village are both in the registry; a list row carrying only the
    name and the village fits either. Linking it to the one that scores a hair higher would be
    a coin toss, so all of that record's edges go to review. `anchor[i]` is who record i
    stands for (-1: nobody in particular); a record's candidates are its partners' anchors.
    """
    idx = np.flatnonzero(usable)
    sides = pd.DataFrame(
        {
            "rec": np.r_[a[idx], b[idx]],
            "anchor": np.r_[anchor[b[idx]], anchor[a[idx]]],
            "weight": np.r_[w[idx], w[idx]],
            "edge": np.r_[idx, idx],
        }
    )
    sides = sides[sides["anchor"] >= 0]
    best = sides.groupby(["rec", "anchor"])["weight"].max().reset_index().sort_values(["rec", "weight"], ascending=[True, False])
    rank = best.groupby("rec").cumcount()
    top = best[rank == 0].set_index("rec")["weight"]
    second = best[rank == 1].set_index("rec")["weight"]
    close = (top.loc[second.index] - second) < AMBIGUITY_MARGIN
    out = np.zeros(len(a), dtype=bool)
    out[sides.loc[sides["rec"].isin(close.index[close.to_numpy()]), "edge"].unique()] = True
    return out


def _decided_keys(must_link: pd.DataFrame | None, cannot_link: pd.DataFrame | None, n: int) -> np.ndarray:
    frames = [d for d in (must_link, cannot_link) if d is not None and len(d)]
    if not frames:
        return np.empty(0, np.int64)
    both = pd.concat(frames)
    lo = np.minimum(both["left"], both["right"]).to_numpy()
    hi = np.maximum(both["left"], both["right"]).to_numpy()
    return lo * n + hi
