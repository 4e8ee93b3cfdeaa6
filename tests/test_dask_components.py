"""Connected components on Dask DataFrames (cluster/dask_components.py) equal scipy's, on
random graphs of several sizes cut into many partitions, on chains that need many rounds, with
isolated nodes and repeated edges; on the synchronous scheduler and on a real LocalCluster."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bansos_merge.cluster.dask_components import component_labels


def _graph(n: int, edges: int, chain: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random edges, a chain through `chain` nodes in random order (the case that needs most
    rounds), self-loops and each edge of the chain repeated reversed; nodes in no edge stay isolated."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, edges), rng.integers(0, n, edges)
    path = rng.permutation(n)[:chain]
    loops = rng.integers(0, n, 5)
    return np.r_[a, path[:-1], path[1:], loops], np.r_[b, path[1:], path[:-1], loops]


def _scipy_smallest(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per node, the smallest node of its component, by scipy."""
    _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    return pd.Series(np.arange(n)).groupby(label).transform("min").to_numpy()


def _labels(n: int, a: np.ndarray, b: np.ndarray, edge_parts: int, node_parts: int) -> np.ndarray:
    edges = dd.from_pandas(pd.DataFrame({"left": a, "right": b}), npartitions=edge_parts)
    nodes = dd.from_pandas(pd.DataFrame({"node": np.arange(n, dtype=np.int64)}), npartitions=node_parts)
    out = component_labels(edges, nodes).compute().sort_values("node")
    assert out["node"].tolist() == list(range(n))  # every node once, isolated ones too
    return out["label"].to_numpy()


CASES = [  # nodes, random edges, chain length, seed, edge partitions, node partitions
    (50, 20, 10, 1, 3, 2),
    (2_000, 1_500, 400, 2, 9, 4),
    (5_000, 2_000, 1_500, 3, 16, 7),
    (300, 0, 250, 4, 5, 3),  # one long chain, the other nodes isolated
]


@pytest.mark.parametrize("n, edges, chain, seed, edge_parts, node_parts", CASES)
def test_components_equal_scipy_on_the_synchronous_scheduler(n, edges, chain, seed, edge_parts, node_parts) -> None:
    a, b = _graph(n, edges, chain, seed)
    expected = _scipy_smallest(n, a, b)
    assert len(np.unique(expected)) > 1 and (expected != np.arange(n)).any()  # neither trivial nor one component
    with dask.config.set(scheduler="synchronous"):
        assert (_labels(n, a, b, edge_parts, node_parts) == expected).all()


def test_components_equal_scipy_on_a_local_cluster() -> None:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, Client(cluster):
        for n, edges, chain, seed, edge_parts, node_parts in CASES[1:3]:
            a, b = _graph(n, edges, chain, seed)
            assert (_labels(n, a, b, edge_parts, node_parts) == _scipy_smallest(n, a, b)).all()


def test_no_edges_leaves_every_node_its_own_component() -> None:
    with dask.config.set(scheduler="synchronous"):
        assert (_labels(7, np.empty(0, np.int64), np.empty(0, np.int64), 1, 2) == np.arange(7)).all()
