"""Incremental runs: start from the latest published run's state (run/state.py) and link only
what changed.

  plan                which sources are unchanged (same config, same files' sha256: restored
                      from state, not read), or why the run falls back to a full one
  diff                this run's records against the state's, by stable record key: added,
                      removed, changed (other link frame values), unchanged
  reused_pairs        the previous run's compared pairs among unchanged records, at their new
                      positions; blocking forms the rest (pairs with an added or changed record)
  choose_model        the state's trained model, unless --retrain or too many new records

Clustering, assembly and publishing then run as in a full run, over every record: the clusters
touched by a change are re-resolved with the same rules, and the others come out as they were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MergeConfig
from ..link.comparisons import COMPARISONS
from ..link.model import FSModel
from ..publish.run_folder import latest_run
from .state import State, file_hashes, linkage_fingerprint, read_state, source_fingerprint


@dataclass
class Plan:
    state: State
    unchanged: dict[str, dict] = field(default_factory=dict)  # source name -> its state.json entry


def plan(config: MergeConfig, log: logging.Logger) -> Plan | str:
    """What an incremental run can take from the latest run, or (a str) why it cannot."""
    folder = latest_run(Path(config.output_dir))
    if folder is None:
        return "no previous run in the output directory"
    state = read_state(folder)
    if isinstance(state, str):
        return state
    if state.meta.get("linkage_fingerprint") != linkage_fingerprint(config):
        return f"run {state.run_id} was linked with other linkage settings, blocking or comparisons"
    out = Plan(state)
    for src in config.sources:
        entry = state.source(src.name)
        if entry is not None and entry["config_sha256"] == source_fingerprint(src) and entry["files"] == file_hashes(src):
            out.unchanged[src.name] = entry
    log.info("  incremental from run %s: %d of %d sources unchanged (restored, not read)", state.run_id, len(out.unchanged),
             len(config.sources))
    return out


def unique_keys(keys: pd.Series) -> pd.Index:
    """Stable record keys made unique by their occurrence (a list may hold one NIK twice)."""
    keys = pd.Series(np.asarray(keys, dtype=object))
    return pd.Index(keys + "#" + keys.groupby(keys, sort=False).cumcount().astype(str))


@dataclass
class Diff:
    touched: np.ndarray  # per record of this run: added or changed
    new_of_old: np.ndarray  # per record of the previous run: its position in this run where unchanged, else -1
    counts: dict[str, dict[str, int]]  # per source: added, removed, changed, unchanged

    @property
    def new_share(self) -> float:
        return float(self.touched.mean()) if len(self.touched) else 0.0


def diff(old: pd.DataFrame, keys: pd.Series, digest: np.ndarray, sources: np.ndarray, old_sources: np.ndarray) -> Diff:
    """This run's records against the previous run's (`old`: keys.arrow, `old_sources` its
    records' sources); `sources`: this run's records' sources."""
    new_keys, old_keys = unique_keys(keys), unique_keys(old["key"])
    position = new_keys.get_indexer(old_keys)
    found = position >= 0
    same = np.zeros(len(old_keys), bool)
    same[found] = digest[position[found]] == old["digest"].to_numpy(np.uint64)[found]
    touched = np.ones(len(new_keys), bool)
    touched[position[same]] = False
    changed_new = np.zeros(len(new_keys), bool)
    changed_new[position[found & ~same]] = True
    counts: dict[str, dict[str, int]] = {}
    for name in dict.fromkeys([*pd.unique(old_sources), *pd.unique(sources)]):
        mine, theirs = sources == name, old_sources == name
        counts[str(name)] = {
            "added": int((mine & touched & ~changed_new).sum()),
            "removed": int((theirs & ~found).sum()),
            "changed": int((mine & changed_new).sum()),
            "unchanged": int((mine & ~touched).sum()),
        }
    return Diff(touched, np.where(same, position, -1), counts)


def reused_pairs(old_pairs: pd.DataFrame, new_of_old: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The previous run's pairs between two unchanged records, at their positions in this run
    (left < right), and their comparison levels."""
    a, b = new_of_old[old_pairs["left"].to_numpy()], new_of_old[old_pairs["right"].to_numpy()]
    keep = (a >= 0) & (b >= 0)
    kept = old_pairs[keep]
    pairs = pd.DataFrame({"left": np.minimum(a[keep], b[keep]), "right": np.maximum(a[keep], b[keep]),
                          "pass": kept["pass"].to_numpy(np.int8)})
    return pairs, kept[[c.name for c in COMPARISONS]].to_numpy(np.int8)


def merged_pairs(reused: pd.DataFrame, reused_gamma: np.ndarray, new: pd.DataFrame, new_gamma: np.ndarray, n: int
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    """Reused and newly compared pairs as one table in a full run's order (by left, right)."""
    pairs = pd.concat([reused, new[["left", "right", "pass"]]], ignore_index=True)
    gamma = np.concatenate([reused_gamma, new_gamma]) if len(new_gamma) else reused_gamma
    order = np.argsort(pairs["left"].to_numpy(np.int64) * n + pairs["right"].to_numpy(np.int64), kind="stable")
    pairs = pairs.iloc[order].reset_index(drop=True)
    return pairs.astype({"left": np.int64, "right": np.int64, "pass": np.int8}), gamma[order]


def retrain_reason(retrain: bool, share: float, bound: float) -> str | None:
    """Why an incremental run trains its model afresh, or None (it reuses the previous one)."""
    if retrain:
        return "--retrain"
    if share > bound:
        return f"{share:.1%} of the records are new or changed, more than linkage.incremental_retrain_share ({bound:.0%})"
    return None


def state_model(state: State) -> FSModel:
    return FSModel.load(state.folder / "model.json")
