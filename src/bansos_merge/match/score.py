"""New rows against the run: their candidates compared and scored with the run's own model
and term frequencies, each pair decided by the run's rules, then per row the person.

Per row, the persons it matches (a pair the run's `decide` calls a match: weight at the match
threshold and no household rule against it) compete as in the run (cluster/resolve.py:
`_ambiguous`): the best is the row's person (`matched`), unless another is within
AMBIGUITY_MARGIN of it (`ambiguous`: the row fits both about equally, two SITI AMINAHs of one
village). A row with no such pair is `not_found`; its best pair's weight and decision are
kept (`review_band`: someone close, worth a look).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..cluster.resolve import AMBIGUITY_MARGIN, decide
from ..link.features import LinkFrame, Strings, build_link_frame, concat_link_frames
from ..link.linker import score_candidates
from .latest import LatestRun

MATCHING = ("match", "registry_double")  # pair decisions that join a row to the person


def take_frame(f: LinkFrame, rows: np.ndarray) -> LinkFrame:
    """The link frame of records `rows` of `f`; each text column keeps only the values those
    rows use (columns that share a code space, a name and its alias, still share one)."""
    columns: dict = {}
    spaces: dict[int, list[str]] = {}
    for fld in dataclasses.fields(LinkFrame):
        value = getattr(f, fld.name)
        if isinstance(value, Strings):
            spaces.setdefault(id(value.values), []).append(fld.name)
        elif fld.name != "n":
            columns[fld.name] = value[rows]
    for names in spaces.values():
        stacked = np.concatenate([getattr(f, name).codes[rows] for name in names])
        present = stacked >= 0
        used, local = np.unique(stacked[present], return_inverse=True)
        codes = np.full(len(stacked), -1, dtype=np.int64)
        codes[present] = local
        values = getattr(f, names[0]).values[used]
        for k, name in enumerate(names):
            columns[name] = Strings(codes[k * len(rows) : (k + 1) * len(rows)], values)
    return LinkFrame(n=len(rows), **columns)


def scored_pairs(run: LatestRun, q: LinkFrame) -> pd.DataFrame:
    """Every candidate pair (`row` of `q`, the run record's `person`) with its weight and the run's decision."""
    rows, records = run.index.lookup(q, run.thresholds.max_block)
    used, local = np.unique(records, return_inverse=True)
    both = concat_link_frames([take_frame(run.frame, used), q], ["run", "input"])
    # Whether a NIK is the civil registry's is a fact of the whole run, not of these few records.
    both = dataclasses.replace(both, nik_registered=np.r_[run.frame.nik_registered[used], run.nik_registered(q.nik)])
    # A new row's own frequency adds nothing: an exact agreement takes the larger of the two, the run record's.
    tf = {name: np.r_[freq[used], np.zeros(q.n)] for name, freq in run.tf.items()}
    pairs = score_candidates(both, pd.DataFrame({"left": local, "right": len(used) + rows}), run.model, tf=tf)
    th = run.thresholds
    decision = decide(pairs, both, th.match, th.review, th.family_rules, run.model.prior_weight, th.double)
    return pd.DataFrame(
        {
            "row": rows,
            "person": run.person[records],
            "weight": pairs["weight"].to_numpy(),
            "decision": np.asarray(decision.astype(str)),
        }
    )


def outcome(pairs: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per row 0..n-1: status, person (registry row, -1), weight, decision, candidates (the
    persons an ambiguous row fits, best first)."""
    out = pd.DataFrame(
        {
            "status": "not_found",
            "person": np.full(n, -1, dtype=np.int64),
            "weight": np.full(n, np.nan),
            "decision": pd.Series([None] * n, dtype=object),
            "candidates": [[] for _ in range(n)],
        }
    )
    if len(pairs) == 0:
        return out
    usable = pairs["decision"].isin(MATCHING)
    # The best pair per row: a matching one if there is one, else the heaviest.
    best = pairs.assign(usable=usable).sort_values(["row", "usable", "weight"], ascending=[True, False, False], kind="stable")
    best = best.drop_duplicates("row")
    out.loc[best["row"], "weight"] = best["weight"].to_numpy()
    out.loc[best["row"], "decision"] = best["decision"].to_numpy()

    persons = pairs[usable].groupby(["row", "person"], sort=False)["weight"].max().reset_index()
    persons = persons.sort_values(["row", "weight"], ascending=[True, False], kind="stable")
    top = persons.groupby("row")["weight"].transform("max")
    near = persons[persons["weight"] > top - AMBIGUITY_MARGIN]
    count = near.groupby("row").size()
    matched = count.index[count == 1].to_numpy()
    ambiguous = count.index[count > 1].to_numpy()
    first = near.drop_duplicates("row").set_index("row")["person"]
    out.loc[matched, "status"] = "matched"
    out.loc[matched, "person"] = first.loc[matched].to_numpy()
    out.loc[ambiguous, "status"] = "ambiguous"
    lists = near[near["row"].isin(ambiguous)].groupby("row")["person"].agg(list).reindex(range(n))
    out["candidates"] = lists.where(lists.notna(), pd.Series([[]] * n)).to_numpy()
    return out


def link_to_run(run: LatestRun, records: pd.DataFrame) -> pd.DataFrame:
    """`outcome` of each normalised record (row i = records.iloc[i]) against the run."""
    if len(records) == 0:
        return outcome(pd.DataFrame(columns=["row", "person", "weight", "decision"]), 0)
    return outcome(scored_pairs(run, build_link_frame(records)), len(records))
