"""The link stage's blocking and comparison on the run's Dask cluster (link/sharded.py).

Only when the run's executor has a Dask cluster (`bansos-merge run --dask-workers N` or
`--dask-address`): the link frame's records go to the workers as a feature table cut into the
run's parts, every blocking pass is shuffled into buckets there and its pairs compared there.
The driver gets back the compared pairs in the order the local path gives them (by left, then
right), so training, scoring and clustering that follow are the local path's, and so are the
outputs. What does not move yet: the link frame is still stacked on the driver (training and
clustering read it), and so are the pairs; see the README's Scale-out section.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..link.blocking import BlockingReport
from ..link.feature_table import to_table
from ..link.features import LinkFrame


def block_and_compare(frame: LinkFrame, max_block: int, parts: int, client: Any) -> tuple[pd.DataFrame, np.ndarray, BlockingReport]:
    """Candidate pairs (left, right, pass), their comparison levels and the blocking report,
    as blocking.candidate_pairs and linker.compare_chunk give them, computed on the cluster of
    `client` (a distributed.Client) in `parts` partitions and as many buckets. The client is
    named as the scheduler: prefect-dask's is not the default one, and without it Dask would
    compute on this process's threads (and shuffle through this machine's disk)."""
    import dask
    import dask.dataframe as dd  # only a run on a cluster pays for importing Dask's DataFrame

    from ..link.sharded import LEVELS, sharded_candidates, with_run_columns

    table = to_table(frame).drop(columns=["nik_registered"])  # joined on the workers
    # Dask picks its shuffle by the default client; this one is not the default, and the disk
    # shuffle it would pick instead only works on one machine.
    with dask.config.set({"scheduler": client, "dataframe.shuffle.method": "p2p"}):
        features = with_run_columns(dd.from_pandas(table, npartitions=max(parts, 1), sort=False))
        found, report = sharded_candidates(features, max_block, buckets=max(parts, 1))
        pairs = found.compute().sort_values(["left", "right"]).reset_index(drop=True)
    gamma = pairs[LEVELS].to_numpy(dtype=np.int8)
    return pairs[["left", "right", "pass"]], gamma, report
