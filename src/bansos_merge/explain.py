"""`bansos-merge explain A B`: why two records were (or were not) linked, field by field.

Rescores the pair with the run's saved model on the run's own records (so term frequencies
are those the run used), and says what the run decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import LinkageConfig
from .errors import UserError
from .identity import record_keys, split_key
from .cluster.household import decided_by_household
from .cluster.resolve import decide, judge_registry_doubles
from .link.comparisons import COMPARISONS
from .link.features import LinkFrame, build_link_frame
from .link.linker import score_candidates
from .link.model import FSModel, link_term_frequencies, score_pairs
from .publish.masking import mask_nik
from .publish.run_folder import latest_run

# Which record fields each comparison looks at, for showing the values side by side.
_SHOWN = {
    "nik": ("nik", "nik_raw"),
    "name": ("name", "name_raw"),
    "birth_date": ("birth_date",),
    "sex": ("sex",),
    "kk": ("kk",),
    "address": ("village", "rt", "rw", "address"),
    "mother_name": ("mother_name",),
    "birth_place": ("birth_place",),
}


@dataclass
class Explanation:
    rows: pd.DataFrame  # comparison, left, right, level, weight (and weight_before_labels, when the model learned from labels)
    prior: float
    total: float
    probability: float
    decision: str
    same_person: bool
    queue: str  # where the pair stands in the review queue, or why it is not there
    labels: dict | None = None  # the analysts' labels the model learned from
    identity_weight: float | None = None  # the weight the run judged the pair by, when only the identity evidence counted


def _run_folder(output_dir: Path) -> Path:
    folder = latest_run(output_dir) if (output_dir / "latest").exists() else output_dir
    if folder is None or not (folder / "records.parquet").exists():
        raise UserError(f"{output_dir}: no published run here (expected latest/records.parquet)")
    if not (folder / "model.json").exists():
        raise UserError(f"{folder}: the run has no model.json; rerun the merge")
    return folder


def explain_pair(output_dir: Path, left: str, right: str, show_full_nik: bool = False) -> Explanation:
    folder = _run_folder(Path(output_dir))
    records = pd.read_parquet(folder / "records.parquet", dtype_backend="pyarrow")
    model = FSModel.load(folder / "model.json")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    keys = record_keys(records)
    positions = []
    for key in (left, right):
        if split_key(key) is None:
            raise UserError(f"{key!r}: expected SOURCE:RECORD_ID, e.g. dukcapil:17")
        hit = np.flatnonzero((keys == key).to_numpy())
        if len(hit) == 0:
            raise UserError(f"{key}: no such record in the run {folder.name} (rejected rows are in rejects.parquet)")
        positions.append(int(hit[0]))
    a, b = sorted(positions)
    frame = build_link_frame(records)
    pair = score_candidates(frame, pd.DataFrame({"left": [a], "right": [b]}), model)
    scored = pair.iloc[0]
    before = None
    if model.m_unlabelled:
        gamma = pair[[c.name for c in COMPARISONS]].to_numpy()
        before = score_pairs(model, gamma, link_term_frequencies(frame), np.array([a]), np.array([b]), unlabelled=True).contributions[0]

    rows = []
    for k, comp in enumerate(COMPARISONS):
        level = int(scored[comp.name])
        values = []
        for pos in (positions[0], positions[1]):
            parts = []
            for field in _SHOWN[comp.name]:
                v = records[field].iloc[pos]
                if v is None or (not isinstance(v, str) and pd.isna(v)):
                    continue
                text = str(v)[:10] if field.endswith("date") else str(v)
                if field in ("nik", "nik_raw", "kk") and not show_full_nik:
                    text = str(mask_nik(pd.Series([text])).iloc[0])
                parts.append(text)
            values.append(" / ".join(dict.fromkeys(parts)) or "-")
        rows.append(
            {
                "comparison": comp.name,
                "left": values[0],
                "right": values[1],
                "level": "no evidence" if level < 0 else comp.levels[level],
                "weight": float(scored[f"w_{comp.name}"]),
                **({} if before is None else {"weight_before_labels": float(before[k])}),
            }
        )
    total = float(scored["weight"])
    # The run's linkage settings; a run that did not record one used the default.
    lk = LinkageConfig.model_validate({k: v for k, v in manifest.get("linkage_config", {}).items() if k in LinkageConfig.model_fields})
    person = pd.factorize(records["person_id"])[0]
    mothers = _mothers_within(frame, person)
    decided = decide(
        pair, frame, lk.match_threshold, lk.review_threshold, lk.family_rules, model.prior_weight, lk.registry_double_threshold, mothers
    )
    # As the run does: two NIKs of one registry person (the run joined its two registrations)
    # are judged on the identity evidence; the registry's persons are the run's.
    anchor = np.where(frame.civil & (frame.nik >= 0), person, -1)
    decided, weight = judge_registry_doubles(
        pair, frame, decided, anchor, lk.match_threshold, lk.review_threshold, lk.family_rules, model.prior_weight,
        lk.registry_double_threshold, mothers,
    )
    decision = str(decided[0])
    identity_only = float(weight[0]) if weight[0] != total else None
    same = records["person_id"].iloc[positions[0]] == records["person_id"].iloc[positions[1]]
    household = bool(decided_by_household(pair, np.array([decision in ("names_differ", "dates_differ")]), lk.family_rules, mothers)[0])
    queue = _queue_status(folder, left, right, decision, household)
    labels = model.trained_on.get("labels")
    return Explanation(pd.DataFrame(rows), model.prior_weight, total, float(1 / (1 + 2.0**-total)), decision, bool(same), queue, labels,
                       identity_only)


def _mothers_within(frame: LinkFrame, person: np.ndarray) -> np.ndarray:
    """The mothers' names as the run lent them (cluster.household.borrowed_mothers), from the run's
    persons: a record naming none takes the one its person's civil-registry records of the same
    birth date name, when they agree."""
    own = frame.mother.codes
    lenders = pd.DataFrame({"person": person, "date": frame.birth_date, "mother": own})[frame.civil & (own >= 0) & (frame.birth_date >= 0)]
    lent = lenders.groupby(["person", "date"])["mother"].agg(["min", "max"])
    lent = lent[lent["min"] == lent["max"]]["min"]
    asks = (own < 0) & (frame.birth_date >= 0)
    found = lent.reindex(pd.MultiIndex.from_arrays([person[asks], frame.birth_date[asks]])).to_numpy()
    mothers = own.copy()
    mothers[np.flatnonzero(asks)] = np.where(np.isnan(found), -1, found).astype(np.int64)
    return mothers


def _queue_status(folder: Path, left: str, right: str, decision: str, household: bool) -> str:
    """The pair's place in the run's review queue, or why the run decided it without an analyst."""
    path = folder / "review.parquet"
    if path.exists():
        queue = pd.read_parquet(path, columns=["pair_id", "queue_rank", "item", "item_records", "doubt", "stake"])
        hit = queue[queue["pair_id"].isin([f"{left}|{right}", f"{right}|{left}"])]
        if len(hit):
            r = hit.iloc[0]
            group = f", in a group of {r['item_records']} records" if r["item_records"] > 2 else ""
            return (
                f"in the review queue: rank {r['queue_rank']} of {len(queue)}{group}; "
                f"the run's decision is wrong with probability {r['doubt']:.2f}; at stake: {r['stake']}"
            )
    if decision in ("registry_apart", "serial_apart"):
        return "not queued: the civil registry decides (" + decision + ")"
    if household:
        return "not queued: decided automatically by the household rules (" + ("names differ" if "names" in decision else "names or birth dates differ") + ")"
    if decision == "non_match":
        return "not queued: decided automatically (the weight is below the review threshold)"
    return "not queued: decided automatically by the evidence (its doubt was below review.min_doubt, or the queue's budget was spent)"


_DECISIONS = {
    "match": "match",
    "names_differ": "apart: the weight says match, but the names differ completely",
    "dates_differ": "apart: the weight says match, but the birth dates disagree outright",
    "registry_apart": "non-match: two civil-registry people with different NIKs",
    "serial_apart": "non-match: NIKs of one region and date with other serials (twins or neighbours), or one typo apart on two family cards",
    "registry_double": "match: one person registered twice in the civil registry (name, birth date, sex, mother, birth place)",
    "review_band": "apart unless an analyst says otherwise: between the review and match thresholds",
    "non_match": "non-match",
}


def format_explanation(e: Explanation, left: str, right: str) -> str:
    width = max(12, *(len(x) for x in e.rows["left"]))
    learned = "weight_before_labels" in e.rows
    head = f"{'comparison':<12}  {left[:width]:<{width}}  {right[:30]:<30}  {'level':<26}  weight"
    lines = [head + ("  before labels" if learned else "")]
    for r in e.rows.itertuples():
        line = f"{r.comparison:<12}  {r.left[:width]:<{width}}  {r.right[:30]:<30}  {r.level:<26}  {r.weight:+6.2f}"
        lines.append(line + (f"  {r.weight_before_labels:+6.2f}" if learned else ""))
    lines.append(f"{'prior':<12}  {'':<{width}}  {'':<30}  {'':<26}  {e.prior:+6.2f}")
    if e.identity_weight is None:
        lines.append(f"total match weight {e.total:+.2f} (probability {e.probability:.4f}) -> {_DECISIONS.get(e.decision, e.decision)}")
    else:
        lines.append(f"total match weight {e.total:+.2f} (probability {e.probability:.4f}), but the two NIKs are one registry person's")
        lines.append(f"(registered twice): judged on the identity evidence alone, {e.identity_weight:+.2f} -> {_DECISIONS.get(e.decision, e.decision)}")
    if e.labels:
        lines.append(f"the model learned from {e.labels['same']} 'same person' and {e.labels['different']} 'different people' decisions")
    lines.append("in the run: " + ("the same person" if e.same_person else "different persons"))
    lines.append(e.queue)
    return "\n".join(lines)
