"""From scored pairs to persons: decisions, constraints, clusters, IDs and the review queue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..link.comparisons import BIRTH_DATE_EXACT, NAME_DIFFERENT, NIK_AGREES
from ..link.features import LinkFrame
from ..link.linker import Links
from .components import cluster
from .ids import assign_person_ids


@dataclass
class Resolution:
    person_id: np.ndarray
    link_score: np.ndarray
    review: pd.DataFrame  # pairs awaiting an analyst: left, right, weight, reason, levels, weights
    id_history: pd.DataFrame
    counts: dict


def resolve(
    records: pd.DataFrame,
    links: Links,
    match_threshold: float,
    review_threshold: float,
    cannot_link_threshold: float,
    previous: pd.DataFrame | None,
    run_id: str,
    known_ids: set[str],
    must_link: pd.DataFrame | None = None,
    cannot_link: pd.DataFrame | None = None,
) -> Resolution:
    """`must_link` / `cannot_link`: analysts' decisions as left, right record positions."""
    pairs = links.pairs
    f = links.frame
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    undecided = ~np.isin(a * f.n + b, _decided_keys(must_link, cannot_link, f.n))
    decision = decide(pairs, f, match_threshold, review_threshold)
    high = (decision == "match") & undecided
    names_differ = (decision == "names_differ") & undecided
    ambiguous = _ambiguous(pairs, high, np.where(f.civil, f.nik, -1))
    match = pairs[high & ~ambiguous]
    edges = match[["left", "right", "weight"]]
    if must_link is not None and len(must_link):
        edges = pd.concat([edges, must_link[["left", "right"]].assign(weight=np.inf)], ignore_index=True)
    # A pair that is not a match on its own and whose birth dates disagree outright is two
    # people: other links must not chain them together (father and son sharing a name and a card).
    dob_conflict = (pairs["birth_date"] == 0) & (pairs["weight"] < match_threshold)
    against = pairs[((pairs["weight"] < cannot_link_threshold) | dob_conflict) & undecided][["left", "right"]]
    if cannot_link is not None and len(cannot_link):
        against = pd.concat([against, cannot_link[["left", "right"]]], ignore_index=True)
    civil_nik = np.where(f.civil, f.nik, -1)
    clusters = cluster(f.n, edges, against, civil_nik)

    label = clusters.label
    apart = label[a] != label[b]
    band = pairs[(decision == "review_band") & undecided & apart].assign(reason="review_band")
    differ = pairs[names_differ & apart].assign(reason="names_differ")
    unsure = pairs[high & ambiguous & apart].assign(reason="ambiguous_match")
    cut = clusters.cut_edges
    cut_pairs = pairs.merge(cut[["left", "right", "reason"]], on=["left", "right"]) if len(cut) else band.iloc[:0]
    review = pd.concat([cut_pairs, differ, unsure, band], ignore_index=True).sort_values("weight", ascending=False, kind="stable")

    person_id, history = assign_person_ids(records, label, previous, run_id, known_ids)
    counts = {
        "candidate_pairs": int(len(pairs)),
        "match_pairs": int(len(match)),
        "review_pairs": int(len(review)),
        "cut_edges": int(len(cut)),
        "persons": int(len(np.unique(label))),
    }
    return Resolution(person_id, clusters.link_score, review.reset_index(drop=True), history, counts)


def decide(pairs: pd.DataFrame, f: LinkFrame, match_threshold: float, review_threshold: float) -> np.ndarray:
    """The pair-level decision: match, names_differ, registry_apart, review_band or non_match.

    - registry_apart: two civil-registry records with different NIKs are two people; the
      registry is authoritative, so they are neither matched nor reviewed.
    - names_differ: completely different names are not merged without an analyst unless the
      NIK and the birth date both agree exactly; otherwise it is a family sharing a NIK, a card
      or an address (twins share everything but the name and the NIK serial), not one person.
    """
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    w = pairs["weight"].to_numpy()
    registry_apart = f.civil[a] & f.civil[b] & (f.nik[a] >= 0) & (f.nik[b] >= 0) & (f.nik[a] != f.nik[b])
    identity = np.isin(pairs["nik"].to_numpy(), NIK_AGREES) & (pairs["birth_date"].to_numpy() == BIRTH_DATE_EXACT)
    names_differ = (pairs["name"].to_numpy() == NAME_DIFFERENT) & ~identity
    return np.select(
        [registry_apart, (w >= match_threshold) & names_differ, w >= match_threshold, w >= review_threshold],
        ["registry_apart", "names_differ", "match", "review_band"],
        default="non_match",
    )


AMBIGUITY_MARGIN = 3.0  # log2: the best registry candidate must be 8x likelier than the next


def _ambiguous(pairs: pd.DataFrame, is_match: np.ndarray, civil_nik: np.ndarray) -> np.ndarray:
    """Match pairs of a record that matches two registry people about equally well.

    Two SITI AMINAHs in one village are both in the registry; a list row carrying only the
    name and the village fits either. Linking it to the one that happens to score a hair
    higher would be a coin toss, so all its registry matches go to review instead.
    """
    m = pairs[np.asarray(is_match, dtype=bool)]
    a, b, w = m["left"].to_numpy(), m["right"].to_numpy(), m["weight"].to_numpy()
    sides = pd.DataFrame(
        {"rec": np.r_[a, b], "anchor": np.r_[civil_nik[b], civil_nik[a]], "weight": np.r_[w, w], "row": np.r_[m.index, m.index]}
    )
    sides = sides[sides["anchor"] >= 0]
    best = sides.groupby(["rec", "anchor"])["weight"].max().reset_index().sort_values(["rec", "weight"], ascending=[True, False])
    rank = best.groupby("rec").cumcount()
    top = best[rank == 0].set_index("rec")["weight"]
    second = best[rank == 1].set_index("rec")["weight"]
    close = (top.loc[second.index] - second) < AMBIGUITY_MARGIN
    unsure_recs = close.index[close.to_numpy()]
    rows = sides.loc[sides["rec"].isin(unsure_recs), "row"].unique()
    return pairs.index.isin(rows)


def _decided_keys(must_link: pd.DataFrame | None, cannot_link: pd.DataFrame | None, n: int) -> np.ndarray:
    frames = [d for d in (must_link, cannot_link) if d is not None and len(d)]
    if not frames:
        return np.empty(0, np.int64)
    both = pd.concat(frames)
    lo = np.minimum(both["left"], both["right"]).to_numpy()
    hi = np.maximum(both["left"], both["right"]).to_numpy()
    return lo * n + hi
