"""Connected components of an edge list on Dask DataFrames: large-star / small-star.

The local clustering (components.py) holds every match edge on one machine (scipy). At
national scale the edges live on the workers, so the components are found there, with
joins and group-bys only (Kiveris et al., "Connected Components in MapReduce and Beyond",
SoCC 2014). Both steps rewrite the edges as (child, parent) with parent < child, and each is
one shuffle (every edge of a node into one partition) and then work within partitions:

  large-star  each node u points its larger neighbours at the smallest of u and its neighbours
  small-star  each node u points itself and its smaller neighbours at the smallest of those

Components never change, and the graph ends as one star per component around its smallest
node, in O(log^2 n) rounds (a chain of n nodes needs no n rounds, as label propagation does).
The driver keeps one count per round (is the graph stars yet).
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd

CHILD, PARENT = "child", "parent"
MAX_ROUNDS = 200  # large-star / small-star ends in O(log^2 n) rounds: 200 is never reached


def _oriented(frame: pd.DataFrame, left: str, right: str) -> pd.DataFrame:
    """Edges as (child, parent), parent the smaller node; self-loops dropped."""
    a, b = frame[left].to_numpy(dtype=np.int64), frame[right].to_numpy(dtype=np.int64)
    keep = a != b
    return pd.DataFrame({CHILD: np.maximum(a, b)[keep], PARENT: np.minimum(a, b)[keep]})


def _meta(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in columns})


def _both_ways(edges: pd.DataFrame) -> pd.DataFrame:
    """(u, v) for every edge in both directions."""
    child, parent = edges[CHILD].to_numpy(), edges[PARENT].to_numpy()
    return pd.DataFrame({"u": np.r_[child, parent], "v": np.r_[parent, child]})


def _smallest(frame: pd.DataFrame, node: str, other: str) -> np.ndarray:
    """Per row, the smallest of its `node` and of every `other` of that node in the frame."""
    return np.minimum(frame.groupby(node, sort=False)[other].transform("min").to_numpy(), frame[node].to_numpy())


def _not_stars(both: pd.DataFrame) -> pd.Series:
    """How many nodes of this partition (all of whose edges are here) keep the graph from being
    stars: a node with two smaller neighbours, or with a smaller and a larger one."""
    smaller = both["v"] < both["u"]
    per_node = pd.DataFrame({"u": both["u"], "smaller": smaller, "larger": ~smaller}).groupby("u", sort=False).sum()
    bad = (per_node["smaller"] > 1) | ((per_node["smaller"] > 0) & (per_node["larger"] > 0))
    return pd.Series([int(bad.sum())])


def _large_star(both: pd.DataFrame) -> pd.DataFrame:
    """Each node's larger neighbours point at the smallest of the node and its neighbours."""
    smallest = _smallest(both, "u", "v")
    larger = both["v"].to_numpy() > both["u"].to_numpy()
    return pd.DataFrame({CHILD: both["v"].to_numpy()[larger], PARENT: smallest[larger]})


def _small_star(edges: pd.DataFrame) -> pd.DataFrame:
    """Each child and its other parents point at the smallest of its parents."""
    edges = edges.drop_duplicates()
    smallest = _smallest(edges, CHILD, PARENT)
    parent = edges[PARENT].to_numpy()
    others = parent != smallest
    return pd.DataFrame({CHILD: np.r_[parent[others], edges[CHILD].to_numpy()], PARENT: np.r_[smallest[others], smallest]})


def _stars_of(both: pd.DataFrame) -> pd.DataFrame:
    """The (child, parent) edges of a partition of `both` once the graph is stars."""
    smaller = both["v"].to_numpy() < both["u"].to_numpy()
    return pd.DataFrame({CHILD: both["u"].to_numpy()[smaller], PARENT: both["v"].to_numpy()[smaller]})


def component_roots(edges: dd.DataFrame, left: str = "left", right: str = "right") -> dd.DataFrame:
    """(child, parent) for every node of an edge that is not its component's smallest node,
    parent being that smallest node. The edges (int node ids in `left` and `right`) stay on the
    workers. A round is two shuffles (by node, then by child), each followed by work within
    partitions; each round is persisted, so the task graph does not grow with the rounds."""
    parts = max(edges.npartitions, 1)
    current = edges.map_partitions(_oriented, left, right, meta=_meta(CHILD, PARENT))
    for _ in range(MAX_ROUNDS):
        # All edges of a node in one partition, each once (a duplicate edge lands beside itself).
        both = current.map_partitions(_both_ways, meta=_meta("u", "v")).shuffle("u", npartitions=parts)
        both = both.map_partitions(pd.DataFrame.drop_duplicates, meta=_meta("u", "v")).persist()
        if int(both.map_partitions(_not_stars, meta=pd.Series(dtype=np.int64)).sum().compute()) == 0:
            return both.map_partitions(_stars_of, meta=_meta(CHILD, PARENT))
        large = both.map_partitions(_large_star, meta=_meta(CHILD, PARENT))
        current = large.shuffle(CHILD, npartitions=parts).map_partitions(_small_star, meta=_meta(CHILD, PARENT)).persist()
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def component_labels(edges: dd.DataFrame, nodes: dd.DataFrame, node: str = "node", left: str = "left", right: str = "right") -> dd.DataFrame:
    """`nodes` with a `label` column: the smallest node of its component (a node in no edge is
    its own). scipy's labels number the same components 0..k-1 in the order of their smallest node."""
    roots = component_roots(edges, left, right).rename(columns={CHILD: node, PARENT: "label"})
    labelled = nodes.merge(roots, on=node, how="left", npartitions=nodes.npartitions)
    return labelled.assign(label=labelled["label"].fillna(labelled[node]).astype(np.int64))
