"""The analysts' worklist: which pairs are worth a person's time, in what order, within a budget.

Every pair whose decision the run could have taken the other way is a candidate: the pairs
kept apart in the review band or by a rule, the matches, the edges cut to keep a cluster
coherent, the records that fit two persons. For each candidate:

- **doubt**: the probability that the run's decision is wrong (cluster/doubt.py).
- **stake**: what hangs on the answer (STAKES, the most first): whether a deceased person is
  still paid, whether one person is paid twice, whether a recipient is missing from the civil
  registry, or nothing anyone pays.
- **value** = doubt x the stake's weight: the expected harm the analyst's answer removes.

A candidate whose doubt is below `review.min_doubt`, or that the household rules decide, is
decided automatically (counted by reason). Each remaining question (one per pair of persons kept
apart, asked by its strongest pair; each matched pair on its own) is a pair to decide; records
in doubt together (three or more, joined by questions) are one group item, decided at once. The
budget (`review.per_100_records`, `review.max_pairs`) counts pairs, so items are taken in order
of value per pair (a group of five records worth as much as one pair comes after it), whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..config import ReviewConfig
from ..link.features import LinkFrame
from .doubt import pair_doubt


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

# Why a candidate was decided without an analyst (manifest: review.decided_automatically).
AUTO_REASONS = ("household_rule", "evidence_for", "evidence_against")


@dataclass
class Queue:
    pairs: pd.DataFrame  # the queued pairs, in queue order: the candidates' columns + doubt, stake, value, item, item_records, queue_rank
    stats: dict  # for the manifest


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


def build_queue(
    pairs: pd.DataFrame, evidence: np.ndarray, candidates: pd.DataFrame, rule_decided: np.ndarray, f: LinkFrame, label: np.ndarray, config: ReviewConfig
) -> Queue:
    """`pairs`: every scored pair; `evidence`: which of them say who is who (not decided by a
    rule or an analyst); `candidates`: left, right, weight, reason (+ the pair's levels) of the
    pairs whose decision is in question; `rule_decided`: which of them the household rules decide."""
    a, b = candidates["left"].to_numpy(), candidates["right"].to_numpy()
    same = label[a] == label[b]
    p_wrong, fit = pair_doubt(pairs, evidence, candidates, label, f)
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
        "asked_through_another_pair": int(len(open_) - len(asked)),
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
    """The questions as items, in queue order: records joined by questions, three or more and at
    most `max_records` of them, are one group item (decided at once); every other question is an
    item of its own. Items come by value per pair (the budget counts pairs), a group's pairs
    together, most valuable first."""
    if len(asked) == 0:
        return asked.assign(item=pd.Series(dtype=np.int64), item_records=pd.Series(dtype=np.int64))
    a, b = asked["left"].to_numpy(), asked["right"].to_numpy()
    records, local = np.unique(np.r_[a, b], return_inverse=True)
    la, lb = local[: len(a)], local[len(a):]
    graph = coo_matrix((np.ones(len(a), np.int8), (la, lb)), shape=(len(records), len(records)))
    of_record = connected_components(graph, directed=False)[1]
    component = of_record[la]
    size = np.bincount(of_record)[component]
    grouped = (size >= 3) & (size <= max_records)
    item = np.where(grouped, component, len(records) + np.arange(len(a)))
    worth = pd.Series(asked["value"].to_numpy()).groupby(item).transform("mean").to_numpy()
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
