"""review.parquet: each pair awaiting an analyst, both records side by side, the evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..identity import record_keys
from ..link.comparisons import COMPARISONS

_SIDE_FIELDS = ("nik", "name", "birth_date", "sex", "kk", "address", "village")


def evidence_json(pairs: pd.DataFrame) -> np.ndarray:
    """Per pair: {comparison: {"level": label, "weight": w}} as JSON; -1 is "no evidence".
    Built column-wise (level labels are plain identifiers, weights finite floats)."""
    text = pd.Series("{", index=pairs.index, dtype=object)
    for k, c in enumerate(COMPARISONS):
        labels = np.array(("no_evidence",) + c.levels, dtype=object)[pairs[c.name].to_numpy() + 1]
        weights = pd.Series(pairs[f"w_{c.name}"].to_numpy(dtype=float).round(2), index=pairs.index).astype(str)
        text = text + ("" if k == 0 else ", ") + f'"{c.name}": {{"level": "' + labels + '", "weight": ' + weights + "}"
    return (text + "}").to_numpy(dtype=object)


def review_table(records: pd.DataFrame, review: pd.DataFrame, person_id: np.ndarray) -> pd.DataFrame:
    a, b = review["left"].to_numpy(), review["right"].to_numpy()
    left, right = records.iloc[a].reset_index(drop=True), records.iloc[b].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "pair_id": (record_keys(left) + "|" + record_keys(right)).to_numpy(),
            "queue_rank": review["queue_rank"].to_numpy(),
            "item": review["item"].to_numpy(),
            "item_records": review["item_records"].to_numpy(),
            "run_decision": np.where(review["run_same"].to_numpy(dtype=bool), "same", "different"),
            "doubt": review["doubt"].to_numpy(),
            "stake": review["stake"].astype(str).to_numpy(),
            "value": review["value"].to_numpy(),
            "reason": review["reason"].to_numpy(),
            "weight": review["weight"].to_numpy(),
            "probability": 1 / (1 + np.exp2(-review["weight"].to_numpy())),
            "left_person_id": person_id[a],
            "right_person_id": person_id[b],
            "left_source": left["source"].to_numpy(),
            "left_record_id": left["record_id"].to_numpy(),
            "right_source": right["source"].to_numpy(),
            "right_record_id": right["record_id"].to_numpy(),
        }
    )
    for field in _SIDE_FIELDS:
        out[f"left_{field}"] = left[field].to_numpy()
        out[f"right_{field}"] = right[field].to_numpy()
    out["evidence"] = evidence_json(review)
    return out
