"""Analysts' decisions as constraints for the next run (pure pandas + sqlite, no web framework).

- `load_decisions(state_dir)`: the current decision per unordered pair (latest wins; the log
  itself is append-only).
- `constraints(decisions, records)`: *same person* -> must-link, *different people* ->
  cannot-link, as record positions in `records`; a decision whose record is gone or changed
  (its fingerprint, `identity.record_fingerprint`) is not applied and is reported as stale.

A record is named `SOURCE:RECORD_ID` (`identity.record_keys`), as `bansos-merge explain` and
the labels file do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..identity import record_fingerprint, record_keys
from .store import DECISION_COLUMNS, Store, store_path


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    frame["decided_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def decision_frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Store rows as a frame of `columns`, decided_at as UTC times (the same columns when empty)."""
    if not rows:
        out = _empty()
        return out.assign(id=pd.Series(dtype="int64"))[columns] if "id" in columns else out[columns]
    frame = pd.DataFrame(rows, columns=columns)
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True, format="ISO8601")
    return frame


def load_decisions(state_dir: Path) -> pd.DataFrame:
    """The current decision per unordered pair, oldest first. Columns: left, right (`left` <
    `right`), decision ('same' | 'different' | 'unsure'), analyst, decided_at (UTC), comment,
    left_fingerprint, right_fingerprint, run_id (the run the analyst was looking at).
    Empty (same columns) when there is no review database yet."""
    if not store_path(state_dir).exists():
        return _empty()
    return decision_frame(Store(state_dir, read_only=True).current_decisions(), DECISION_COLUMNS)


def _latest_per_pair(decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per unordered pair (the last in frame order), sides in canonical order."""
    d = decisions.reset_index(drop=True)
    left, right = d["left"].astype(str), d["right"].astype(str)
    swap = (left > right).to_numpy()
    lfp = d["left_fingerprint"] if "left_fingerprint" in d else pd.Series(None, index=d.index, dtype=object)
    rfp = d["right_fingerprint"] if "right_fingerprint" in d else pd.Series(None, index=d.index, dtype=object)
    out = pd.DataFrame(
        {
            "left": np.where(swap, right, left),
            "right": np.where(swap, left, right),
            "decision": d["decision"].astype(str).str.strip().str.lower().to_numpy(),
            "left_fingerprint": np.where(swap, rfp.to_numpy(dtype=object), lfp.to_numpy(dtype=object)),
            "right_fingerprint": np.where(swap, lfp.to_numpy(dtype=object), rfp.to_numpy(dtype=object)),
        }
    )
    out = out[out["left"] != out["right"]]
    return out.drop_duplicates(["left", "right"], keep="last").reset_index(drop=True)


def _changed(stored: pd.Series, current: np.ndarray) -> np.ndarray:
    """A stored fingerprint that differs from the current one (no stored fingerprint: not checked)."""
    s = stored.astype("string")
    known = s.notna() & s.str.len().gt(0)
    return (known & (s.fillna("") != pd.Series(current, index=s.index))).to_numpy(dtype=bool)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> dict[int, int]:
    """Union-find over must-link positions: position -> root."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return {x: find(x) for x in list(parent)}


def constraints(decisions: pd.DataFrame, records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(must_link, cannot_link, report) for `records` from the analysts' `decisions`.

    must_link / cannot_link: columns left, right = integer row positions in `records`
    (left < right). A same/different decision applies only when both records are present
    (matched by `SOURCE:RECORD_ID`) and neither fingerprint changed; otherwise it is stale
    (why: 'record_missing' or 'record_changed'). 'unsure' decisions are counted, never applied.

    report: decisions, applied_same, applied_different, unsure, stale (a list of {left,
    right, decision, why}), stale_count, stale_record_missing, stale_record_changed, and
    contradictions ('different people' pairs that a chain of 'same person' decisions joins
    anyway: the must-links win in clustering, so an analyst should look again).
    """
    empty = pd.DataFrame({"left": pd.Series(dtype="int64"), "right": pd.Series(dtype="int64")})
    report: dict = {
        "decisions": 0,
        "applied_same": 0,
        "applied_different": 0,
        "unsure": 0,
        "stale": [],
        "stale_count": 0,
        "stale_record_missing": 0,
        "stale_record_changed": 0,
        "contradictions": [],
    }
    if decisions is None or len(decisions) == 0:
        return empty, empty.copy(), report
    missing_cols = [c for c in ("left", "right", "decision") if c not in decisions.columns]
    if missing_cols:
        raise UserError(f"decisions lack column(s) {', '.join(missing_cols)}")
    d = _latest_per_pair(decisions)
    report["decisions"] = int(len(d))
    report["unsure"] = int((d["decision"] == "unsure").sum())
    d = d[d["decision"].isin(("same", "different"))].reset_index(drop=True)

    keys = record_keys(records).to_numpy()
    position = pd.Series(np.arange(len(records), dtype=np.int64), index=keys)
    position = position[~position.index.duplicated(keep="first")]
    lp, rp = d["left"].map(position), d["right"].map(position)
    missing = (lp.isna() | rp.isna()).to_numpy()
    fingerprint = record_fingerprint(records).to_numpy(dtype=object)
    lpos = lp.fillna(0).astype("int64").to_numpy()
    rpos = rp.fillna(0).astype("int64").to_numpy()
    changed = ~missing & (_changed(d["left_fingerprint"], fingerprint[lpos]) | _changed(d["right_fingerprint"], fingerprint[rpos]))

    why = np.where(missing, "record_missing", np.where(changed, "record_changed", ""))
    stale = d[why != ""].assign(why=why[why != ""])
    report["stale"] = stale[["left", "right", "decision", "why"]].to_dict("records")
    report["stale_count"] = int(len(stale))
    report["stale_record_missing"] = int((why == "record_missing").sum())
    report["stale_record_changed"] = int((why == "record_changed").sum())

    ok = why == ""
    lo, hi = np.minimum(lpos, rpos), np.maximum(lpos, rpos)
    same = ok & (d["decision"] == "same").to_numpy()
    different = ok & (d["decision"] == "different").to_numpy()
    must_link = pd.DataFrame({"left": lo[same], "right": hi[same]}).drop_duplicates().reset_index(drop=True)
    cannot_link = pd.DataFrame({"left": lo[different], "right": hi[different]}).drop_duplicates().reset_index(drop=True)
    report["applied_same"] = int(same.sum())
    report["applied_different"] = int(different.sum())

    if len(must_link) and len(cannot_link):
        root = _components(len(records), must_link["left"].to_numpy(), must_link["right"].to_numpy())
        for i, (a, b) in enumerate(zip(cannot_link["left"].tolist(), cannot_link["right"].tolist())):
            if a in root and b in root and root[a] == root[b]:
                report["contradictions"].append({"left": str(keys[a]), "right": str(keys[b])})
    return must_link.astype("int64"), cannot_link.astype("int64"), report
