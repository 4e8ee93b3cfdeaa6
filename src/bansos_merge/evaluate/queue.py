"""The review queue scored against a synthetic truth: is it small, and is it worth an analyst's time?

A queued pair is *worth it* when the truth differs from the run's decision on it: the analyst's
answer fixes an error. The queue's *yield* is the share of its pairs that are worth it, over the
whole queue and over its first tenth (the order should put them first). The run's remaining
errors are the pairwise errors of its clustering that no queued pair asks about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..identity import record_keys
from .metrics import ratio

QUEUE_COLUMNS = ["left_source", "left_record_id", "right_source", "right_record_id", "run_decision", "item", "item_records"]


def read_queue(run: Path) -> pd.DataFrame | None:
    """The run's review queue as left, right (keys), run_same, item, item_records; None when the
    run has no review.parquet or one from before the queue carried its decisions."""
    path = run / "review.parquet"
    if not path.is_file() or not set(QUEUE_COLUMNS) <= set(pq.read_schema(path).names):
        return None
    q = pq.read_table(path, columns=QUEUE_COLUMNS).to_pandas()
    return pd.DataFrame(
        {
            "left": record_keys(q, "left_").to_numpy(dtype=object),
            "right": record_keys(q, "right_").to_numpy(dtype=object),
            "run_same": (q["run_decision"] == "same").to_numpy(),
            "item": q["item"].to_numpy(),
            "item_records": q["item_records"].to_numpy(),
        }
    )


def truth_same(queue: pd.DataFrame, person_of: pd.Series) -> np.ndarray:
    """Per queued pair: do both records belong to one true person (`person_of`: key -> truth person_id)?"""
    left, right = queue["left"].map(person_of), queue["right"].map(person_of)
    return (left.notna() & (left == right)).to_numpy(dtype=bool)


def queue_scores(queue: pd.DataFrame, person_of: pd.Series, records: int, pairwise: dict) -> dict[str, Any]:
    """Size and yield of the queue; `pairwise`: the clustering's pairwise counts (fp, fn)."""
    worth = truth_same(queue, person_of) != queue["run_same"].to_numpy(dtype=bool)
    tenth = max(1, len(queue) // 10) if len(queue) else 0
    errors = int(pairwise.get("fp", 0)) + int(pairwise.get("fn", 0))
    return {
        "pairs": int(len(queue)),
        "items": int(queue["item"].nunique()),
        "group_items": int((queue.drop_duplicates("item")["item_records"] >= 3).sum()),
        "records": int(records),
        "per_100_records": round(100 * len(queue) / records, 3) if records else None,
        "worth_it": int(worth.sum()),
        "yield": ratio(int(worth.sum()), len(queue)),
        "first_tenth": {"pairs": tenth, "worth_it": int(worth[:tenth].sum()), "yield": ratio(int(worth[:tenth].sum()), tenth)},
        "pairwise_errors": errors,
        "errors_not_in_queue": errors - int(worth.sum()),
    }
