"""The analysts' worklist: which pairs are worth a person's time, in what order, within a budget.

Every pair whose decision the run could have taken the other way is a candidate: the pairs
kept apart in the review band or by a rule, the matches, the edges cut to keep a cluster
coherent, the records that fit two persons. For each candidate:

- **doubt**: the probability that the run's decision is wrong. A record belongs to at most one
  person, so its candidate persons compete: with `s_c` the best match weight (log2 odds) from the
  record to person (cluster) c, the record is in c with probability 2^s_c / (sum over c' of
  2^s_c' + 1), the 1 standing for "none of them". A record that fits two persons equally well is
  in each with probability about 1/2, a lone fair candidate keeps its Fellegi-Sunter probability.
  A civil-registry record does not "join" a list record's person (the list record joins it), so
  for such a pair only the list record's side counts. Pairs kept apart by the household rules
  are not evidence here: their weight adds up what a household shares.
- **stake**: what hangs on the answer (STAKES, the most first): whether a deceased person is
  still paid, whether one person is paid twice, whether a recipient is missing from the civil
  registry, or nothing anyone pays.
- **value** = doubt x the stake's weight: the expected harm the analyst's answer removes.

A candidate whose doubt is below `review.min_doubt`, or that the household rules decide, is
decided automatically (counted by reason); the others are ranked by value and the queue takes
the best within the budget (`review.per_100_records`, `review.max_pairs`). Records in doubt
together (three or more, joined by queued pairs) are one group item, decided at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..config import ReviewConfig
from ..link.features import LinkFrame


@dataclass(frozen=True)
class Stake:
    name: str
    weight: float
    meaning: str


# Most first; a pair takes the first that applies to the two sides of its question.
STAKES: tuple[Stake, ...] = (
    Stake("deceased_paid", 8.0, "one side is a person the civil registry records as deceased, the other an aid-list record"),
    Stake("paid_twice", 6.0, "both sides hold records of one aid list: one person paid twice, or two people paid once"),
    Stake("missing_from_registry", 4.0, "an aid recipient with no civil-registry record on one side, a registered person on the other"),
    Stake("other_aid", 2.0, "aid-list records on both sides, from different lists"),
    Stake("identity_only", 1.0, "no payment depends on the answer"),
)
STAKE_NAMES = tuple(s.name for s in STAKES)

# Weights below this are no evidence for anyone (odds under 1 in 30,000): left out of the doubt.
MIN_EVIDENCE = -15.0

# Why a candidate was decided without an analyst (manifest: review.decided_automatically).
AUTO_REASONS = ("household_rule", "evidence_for", "evidence_against")


@dataclass
class Queue:
    pairs: pd.DataFrame  # the queued pairs, in queue order: the candidates' columns + doubt, stake, value, item, item_records, queue_rank
    stats: dict  # for the manifest


def doubt(evidence: pd.DataFrame, asked: pd.DataFrame, label: np.ndarray, civil: np.ndarray) -> np.ndarray:
    """Per pair of `asked`, the probability that the run's decision on it is wrong (see module
    doc). `evidence`: left, right, weight of the pairs whose weight says who is who; `label`:
    person (cluster) per record."""
    ea, eb, ew = evidence["left"].to_numpy(), evidence["right"].to_numpy(), evidence["weight"].to_numpy()
    sides = pd.DataFrame({"rec": np.r_[ea, eb], "person": np.r_[label[eb], label[ea]], "weight": np.r_[ew, ew]})
    best = sides.groupby(["rec", "person"], sort=False)["weight"].max()
    odds = np.exp2(np.clip(best.to_numpy(), -60, 60))
    total = pd.Series(odds, index=best.index).groupby(level="rec").sum()
    share = pd.Series(odds / (total.reindex(best.index.get_level_values("rec")).to_numpy() + 1), index=best.index)

    def joins(rec: np.ndarray, person: np.ndarray) -> np.ndarray:
        return share.reindex(pd.MultiIndex.from_arrays([rec, person])).fillna(0.0).to_numpy()

    a, b = asked["left"].to_numpy(), asked["right"].to_numpy()
    # A list record joins a registry record's person, never the other way round.
    a_joins = np.where(civil[a] & ~civil[b], 0.0, joins(a, label[b]))
    b_joins = np.where(civil[b] & ~civil[a], 0.0, joins(b, label[a]))
    same = np.maximum(a_joins, b_joins)
    return np.where(label[a] == label[b], 1.0 - same, same)


def _side_facts(f: LinkFrame, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person: any deceased registry record, any registry record, the aid lists (bit mask)."""
    n_persons = int(label.max()) + 1 if len(label) else 0
    deceased = np.zeros(n_persons, bool)
    civil = np.zeros(n_persons, bool)
    aid = np.zeros(n_persons, np.int64)
    deceased[label[f.deceased]] = True
    civil[label[f.civil]] = True
    bit = np.left_shift(np.int64(1), f.source.astype(np.int64) % 63)
    np.bitwise_or.at(aid, label[f.aid], bit[f.aid])
    return deceased, civil, aid


def stakes(a: np.ndarray, b: np.ndarray, same: np.ndarray, f: LinkFrame, label: np.ndarray) -> np.ndarray:
    """Per pair, the index in STAKES of what hangs on it. A pair kept apart asks whether two
    persons are one, so their records count; a matched pair asks whether its two records are
    one person, so only theirs do."""
    deceased, civil, aid = _side_facts(f, label)
    bit = np.left_shift(np.int64(1), f.source.astype(np.int64) % 63)
    own_aid = np.where(f.aid, bit, 0)
    la, lb = label[a], label[b]
    dead_a, dead_b = np.where(same, f.deceased[a], deceased[la]), np.where(same, f.deceased[b], deceased[lb])
    civ_a, civ_b = np.where(same, f.civil[a], civil[la]), np.where(same, f.civil[b], civil[lb])
    aid_a, aid_b = np.where(same, own_aid[a], aid[la]), np.where(same, own_aid[b], aid[lb])
    rules = [
        (dead_a & (aid_b != 0)) | (dead_b & (aid_a != 0)),
        (aid_a & aid_b) != 0,
        ((aid_a != 0) & ~civ_a & civ_b) | ((aid_b != 0) & ~civ_b & civ_a),
        (aid_a != 0) & (aid_b != 0),
    ]
    return np.select(rules, range(len(rules)), default=len(rules)).astype(np.int8)


def calibrate(pairs: pd.DataFrame, f: LinkFrame) -> tuple[np.ndarray, dict | None]:
    """The pairs' weights recalibrated on labels the civil registry gives for free: an aid-list
    record whose NIK the registry holds is that registry record's person, and not its
    neighbours'. On those pairs, the probability of one person is fitted (logistic regression)
    on the weight without the NIK's part, which Fellegi-Sunter overstates where blocking chose
    the pairs for what they share (a common name in one village). Returns log2 odds per pair:
    the recalibrated weight plus the NIK's own, and the fit (None: too few labels, weights as
    they are)."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    registered = f.aid & (f.nik >= 0) & f.nik_registered
    silver = (registered[a] & f.civil[b]) | (registered[b] & f.civil[a])
    label = (f.nik[a] == f.nik[b])[silver]
    weight, nik = pairs["weight"].to_numpy(), pairs["w_nik"].to_numpy()
    if min(int(label.sum()), int((~label).sum())) < MIN_SILVER:
        return weight, None
    x = np.clip(weight - nik, -30.0, 60.0)
    xs, ys = x[silver], label.astype(float)

    def loss(t: np.ndarray) -> float:
        z = t[0] + t[1] * xs
        return float(np.sum(np.logaddexp(0.0, z) - ys * z))

    alpha, beta = minimize(loss, np.array([0.0, 0.1]), method="BFGS").x
    fit = {"labelled_pairs": int(silver.sum()), "one_person": int(label.sum()), "alpha": round(float(alpha), 4), "beta": round(float(beta), 4)}
    return (alpha + beta * x) / np.log(2.0) + nik, fit


MIN_SILVER = 50  # registry-labelled pairs of each kind needed to recalibrate


def build_queue(
    pairs: pd.DataFrame, evidence: np.ndarray, candidates: pd.DataFrame, rule_decided: np.ndarray, f: LinkFrame, label: np.ndarray, config: ReviewConfig
) -> Queue:
    """`pairs`: every scored pair; `evidence`: which of them say who is who (not decided by a
    rule or an analyst); `candidates`: left, right, weight, reason (+ the pair's levels) of the
    pairs whose decision is in question; `rule_decided`: which of them the household rules decide."""
    a, b = candidates["left"].to_numpy(), candidates["right"].to_numpy()
    same = label[a] == label[b]
    weight, fit = calibrate(pairs[evidence], f)
    recalibrated = pairs.loc[evidence, ["left", "right"]].assign(weight=weight)
    as_scored = pairs.loc[evidence, ["left", "right", "weight"]]
    p_wrong = np.where(
        same,
        doubt(as_scored[as_scored["weight"] > MIN_EVIDENCE], candidates, label, f.civil),
        doubt(recalibrated[recalibrated["weight"] > MIN_EVIDENCE], candidates, label, f.civil),
    )
    stake = stakes(a, b, same, f, label)
    weights = np.array([s.weight for s in STAKES])
    out = candidates.assign(
        doubt=p_wrong,
        stake=pd.Categorical.from_codes(stake, STAKE_NAMES),
        value=p_wrong * weights[stake],
        run_same=same,
    )
    auto = np.select(
        [rule_decided, p_wrong < config.min_doubt],
        ["household_rule", np.where(same, "evidence_for", "evidence_against")],
        default="",
    )
    open_ = out[auto == ""]
    # One question per pair of persons kept apart (its strongest pair asks it); a matched pair asks its own.
    person = np.minimum(label[open_["left"]], label[open_["right"]]) * (len(label) + 1) + np.maximum(label[open_["left"]], label[open_["right"]])
    key = np.where(open_["run_same"], -1 - np.arange(len(open_)), person)
    open_ = open_.assign(_q=key).sort_values(["_q", "weight"], ascending=[True, False], kind="stable")
    asked = open_[~open_["_q"].duplicated()].drop(columns="_q")
    ranked = _items(asked.reset_index(drop=True), config.group_max_records)
    budget = config.budget(len(label))
    fits = _fill(ranked["item"].to_numpy(), budget)
    queued, below = ranked[fits], ranked[~fits]
    queued = queued.assign(item=pd.factorize(queued["item"])[0], queue_rank=np.arange(1, len(queued) + 1, dtype=np.int64))
    stats = {
        "budget": int(budget),
        "calibration": fit,
        "candidates": int(len(candidates)),
        "decided_automatically": {r: int(np.sum(auto == r)) for r in AUTO_REASONS},
        "questions": int(len(ranked)),
        "pairs": int(len(queued)),
        "items": int(queued["item"].nunique()) if len(queued) else 0,
        "group_items": int((queued.drop_duplicates("item")["item_records"] >= 3).sum()) if len(queued) else 0,
        "per_100_records": round(100 * len(queued) / max(len(label), 1), 3),
        "expected_errors": round(float(queued["doubt"].sum()), 2),
        "expected_value": round(float(queued["value"].sum()), 2),
        "below_budget": {
            "pairs": int(len(below)),
            "expected_errors": round(float(below["doubt"].sum()), 2),
            "expected_value": round(float(below["value"].sum()), 2),
        },
        "by_stake": {k: int(v) for k, v in queued["stake"].value_counts().items() if v},
    }
    return Queue(queued, stats)


def _items(asked: pd.DataFrame, max_records: int) -> pd.DataFrame:
    """The questions as items, most valuable first: records joined by questions, three or more
    and at most `max_records` of them, are one group item (decided at once); every other
    question is an item of its own. An item is worth the sum of its pairs' values (what its
    decision can fix); a group's pairs stay together, most valuable first."""
    if len(asked) == 0:
        return asked.assign(item=pd.Series(dtype=np.int64), item_records=pd.Series(dtype=np.int64))
    a, b = asked["left"].to_numpy(), asked["right"].to_numpy()
    records, local = np.unique(np.r_[a, b], return_inverse=True)
    la, lb = local[: len(a)], local[len(a):]
    graph = coo_matrix((np.ones(len(a), np.int8), (la, lb)), shape=(len(records), len(records)))
    component = connected_components(graph, directed=False)[1][la]
    size = np.bincount(connected_components(graph, directed=False)[1])[component]
    grouped = (size >= 3) & (size <= max_records)
    item = np.where(grouped, component, len(records) + np.arange(len(a)))
    worth = pd.Series(asked["value"].to_numpy()).groupby(item).transform("sum").to_numpy()
    order = np.lexsort((b, a, -asked["weight"].to_numpy(), -asked["value"].to_numpy(), item, -worth))
    out = asked.iloc[order].reset_index(drop=True)
    return out.assign(item=pd.factorize(item[order])[0].astype(np.int64), item_records=np.where(grouped, size, 2)[order].astype(np.int64))


def _fill(item: np.ndarray, budget: int) -> np.ndarray:
    """Which pairs the queue takes: whole items in order, skipping an item too large for what
    is left of the budget."""
    start = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    size = np.diff(np.r_[start, len(item)])
    take = np.zeros(len(size), bool)
    left = budget
    for k, n in enumerate(size):  # items, not pairs: thousands at most
        if n <= left:
            take[k], left = True, left - n
    return np.repeat(take, size)
