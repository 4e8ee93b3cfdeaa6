"""Incremental runs: start from the latest published run's state (run/state.py) and link only
what changed.

  plan                which sources are unchanged (same config, same files' sha256: restored
                      from state, not read), or why the run falls back to a full one
  diff                this run's records against the state's, by stable record key: added,
                      removed, changed (other link frame values), unchanged
  known_levels        of this run's candidate pairs (blocked over every record, as in a full
                      run), those the previous run compared between two unchanged records: their
                      levels are reused, the rest compared
  previous_model      the state's model, whose u (random pairs' agreement: nearly all of
                      training's time) is reused unless --retrain or too many new records; m and
                      the prior are learned on this run's pairs (EM over level patterns: cheap)

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
    """Stable record keys made unique by their occurrence (a list may hold one NIK twice), as
    64-bit hashes: grouping and matching a million of them as strings took seconds. Two keys
    of a million share a hash with odds of about 1 in 30 million."""
    hashed = pd.util.hash_array(np.asarray(keys, dtype=object))
    occurrence = pd.Series(hashed).groupby(hashed, sort=False).cumcount().to_numpy(np.uint64)
    with np.errstate(over="ignore"):
        return pd.Index(pd.util.hash_array(hashed ^ (occurrence * np.uint64(0x9E3779B97F4A7C15))))


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
    names = list(dict.fromkeys([*pd.unique(old_sources), *pd.unique(sources)]))
    mine, theirs = pd.Categorical(sources, names).codes, pd.Categorical(old_sources, names).codes
    tally = {
        "added": mine[touched & ~changed_new], "removed": theirs[~found], "changed": mine[changed_new], "unchanged": mine[~touched],
    }
    per_source = {k: np.bincount(v, minlength=len(names)) for k, v in tally.items()}
    counts = {str(name): {k: int(per_source[k][i]) for k in tally} for i, name in enumerate(names)}
    return Diff(touched, np.where(same, position, -1), counts)


def known_levels(pairs: pd.DataFrame, old_pairs: pd.DataFrame, new_of_old: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The comparison levels of this run's candidate `pairs` that the previous run compared (both
    records unchanged), and which those are; the others' rows are left for comparing.

    Blocking runs over every record as in a full run, so the pairs are a full run's: a block that
    a new record pushes over its cap, or a removal brings under it, changes pairs of unchanged
    records too."""
    a, b = new_of_old[old_pairs["left"].to_numpy()], new_of_old[old_pairs["right"].to_numpy()]
    keep = (a >= 0) & (b >= 0)
    old_code = np.minimum(a[keep], b[keep]).astype(np.int64) * n + np.maximum(a[keep], b[keep])
    old_gamma = old_pairs.loc[keep, [c.name for c in COMPARISONS]].to_numpy(np.int8)
    order = np.argsort(old_code, kind="stable")
    old_code, old_gamma = old_code[order], old_gamma[order]
    code = pairs["left"].to_numpy(np.int64) * n + pairs["right"].to_numpy(np.int64)
    at = np.minimum(np.searchsorted(old_code, code), max(len(old_code) - 1, 0))
    known = (old_code[at] == code) if len(old_code) else np.zeros(len(code), bool)
    gamma = np.zeros((len(code), len(COMPARISONS)), np.int8)
    gamma[known] = old_gamma[at[known]]
    return gamma, known


def retrain_reason(retrain: bool, share: float, bound: float) -> str | None:
    """Why an incremental run trains its model afresh, or None (it reuses the previous one)."""
    if retrain:
        return "--retrain"
    if share > bound:
        return f"{share:.1%} of the records are new or changed, more than linkage.incremental_retrain_share ({bound:.0%})"
    return None


def previous_model(state: State) -> FSModel:
    """The previous run's model as trained (before the analysts' labels)."""
    return FSModel.load(state.folder / "model.json")
