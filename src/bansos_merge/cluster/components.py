"""Clustering: match edges -> persons, without chaining different people together.

Connected components are computed for everything at once (scipy, vectorised). A component
is then checked for incoherence: two of its records that must not be one person -- two
civil-registry records with different NIKs, a pair whose own comparison is strong evidence
against (a shared dummy NIK or a common name cannot hide that), or an analyst's
"different people" decision. Only those components are rebuilt, greedily from the
strongest edge down, refusing any union that would join such records; the refused edges
(weak bridges between strong groups) go to the review queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..sorted_sets import isin


@dataclass
class Clustering:
    label: np.ndarray  # cluster id per record (0..k-1)
    link_score: np.ndarray  # weight of the strongest accepted edge of each record (nan for singletons)
    cut_edges: pd.DataFrame  # edge (position in `edges`), left, right, weight, reason: match edges refused to keep clusters coherent


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _civil_conflicts(label: np.ndarray, civil_nik: np.ndarray) -> np.ndarray:
    """Component labels holding two civil-registry records with different NIKs."""
    has = civil_nik >= 0
    frame = pd.DataFrame({"label": label[has], "nik": civil_nik[has]})
    distinct = frame.groupby("label")["nik"].nunique()
    return distinct.index[distinct > 1].to_numpy()


class _UnionFind:
    """Greedy constrained merging inside one incoherent component (tens of records)."""

    def __init__(self, members: np.ndarray, civil_nik: np.ndarray, cannot: dict[int, set[int]]) -> None:
        self.parent = {int(m): int(m) for m in members}
        self.members = {int(m): {int(m)} for m in members}
        self.niks = {int(m): ({int(civil_nik[m])} if civil_nik[m] >= 0 else set()) for m in members}
        self.cannot = cannot

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def try_union(self, x: int, y: int, force: bool = False) -> str | None:
        """Merge the groups of x and y; return why not if they must stay apart.

        `force` (an analyst's "same person") overrides the registry and evidence checks.
        """
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return None
        small, big = sorted((rx, ry), key=lambda r: len(self.members[r]))
        if not force:
            if self.niks[rx] and self.niks[ry] and self.niks[rx] != self.niks[ry]:
                return "two_civil_registry_niks"
            if any(self.cannot.get(m, set()) & self.members[big] for m in self.members[small]):
                return "strong_evidence_against"
        self.parent[small] = big
        self.members[big] |= self.members.pop(small)
        self.niks[big] |= self.niks.pop(small)
        return None


def cluster(
    n: int,
    edges: pd.DataFrame,
    cannot_link: pd.DataFrame,
    civil_nik: np.ndarray,
) -> Clustering:
    """`edges`: left, right, weight of accepted matches (must-links carry weight +inf);
    `cannot_link`: left, right pairs that must end in different clusters;
    `civil_nik`: the NIK of civil-registry records (-1 elsewhere)."""
    a, b, w = edges["left"].to_numpy(), edges["right"].to_numpy(), edges["weight"].to_numpy()
    label = _components(n, a, b)

    ca, cb = cannot_link["left"].to_numpy(), cannot_link["right"].to_numpy()
    # Only a cannot-link inside one component can be broken by it.
    inside = label[ca] == label[cb]
    ca, cb = ca[inside], cb[inside]
    bad = set(label[ca].tolist()) | set(_civil_conflicts(label, civil_nik).tolist())
    cut = []
    if bad:
        bad_arr = np.fromiter(bad, dtype=np.int64)
        in_bad = isin(label[a], bad_arr)
        cannot: dict[int, set[int]] = {}
        for x, y in zip(ca.tolist(), cb.tolist()):
            cannot.setdefault(x, set()).add(y)
            cannot.setdefault(y, set()).add(x)
        order = np.flatnonzero(in_bad)[np.argsort(-w[in_bad], kind="stable")]
        members = np.flatnonzero(isin(label, bad_arr))
        uf = _UnionFind(members, civil_nik, cannot)
        for e in order:
            why = uf.try_union(int(a[e]), int(b[e]), force=bool(np.isposinf(w[e])))
            if why:
                cut.append((int(e), int(a[e]), int(b[e]), float(w[e]), why))
        # Relabel the rebuilt components: each surviving group gets a fresh label.
        roots = np.array([uf.find(int(m)) for m in members])
        label = label.copy()
        label[members] = label.max() + 1 + pd.factorize(roots)[0]
        label = pd.factorize(label)[0]

    cut_edges = pd.DataFrame(cut, columns=["edge", "left", "right", "weight", "reason"])
    same = label[a] == label[b]
    strongest = np.full(n, -np.inf)
    np.maximum.at(strongest, a[same], w[same])
    np.maximum.at(strongest, b[same], w[same])
    link_score = np.where(np.isfinite(strongest), strongest, np.nan)
    return Clustering(label=label, link_score=link_score, cut_edges=cut_edges)
