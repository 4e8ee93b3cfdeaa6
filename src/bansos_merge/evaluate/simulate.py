"""`bansos-merge evaluate --simulate-review N`: an analyst who answers the queue from the truth.

Each round answers the first N items of the latest run's queue (every pair of a group item) from
the synthetic truth, stores the answers as an analyst's decisions would be stored, and merges
again. The run after a round applies the decisions twice over: as must-links and cannot-links
(what the analyst decided directly), and as labels the model learns from (what they teach about
every other pair). To tell the two apart, each round is merged twice: once as configured, and
once with `linkage.learn_from_decisions: false`, which keeps only the links.

The simulation works in its own folder (`--to`, default OUTPUT/simulate-review): a copy of the
configuration pointing there, with its own decisions store, so no analyst's real decisions are
touched. Merging is the caller's (`merge(config_path) -> run folder`): the CLI passes the same
merge as `bansos-merge run`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..config import load_config
from ..decisions.store import Store
from ..errors import UserError
from ..identity import record_fingerprint, record_keys
from .inputs import resolve_truth_dir
from .queue import read_queue, truth_same
from .score import evaluate_run

ANALYST = "simulated-analyst"


def simulate_review(
    config_path: Path, truth_dir: Path, items: int, rounds: int, work: Path, merge: Callable[[Path], Path]
) -> dict[str, Any]:
    """Play `rounds` rounds of answering `items` queue items; returns the scores after each."""
    if items < 0 or rounds < 1:
        raise UserError("--simulate-review needs N >= 0 items and --rounds >= 1")
    truth = resolve_truth_dir(truth_dir)
    rows = pd.read_parquet(truth / "rows.parquet", columns=["source", "record_id", "person_id"])
    person_of = pd.Series(rows["person_id"].to_numpy(), index=record_keys(rows).to_numpy())
    work = work.resolve()  # the copied configurations resolve relative paths against their own folder
    if work.exists():
        shutil.rmtree(work)
    learning = _config_copy(config_path, work / "learning", learn=True)
    links_only = _config_copy(config_path, work / "links-only", learn=False)

    run = merge(learning)
    history = [_scores(0, 0, run, truth, None)]
    answered = 0
    for r in range(1, rounds + 1):
        answered += _answer(run, person_of, items, work / "learning" / "state", work / "links-only" / "state")
        run = merge(learning)
        baseline = merge(links_only)
        history.append(_scores(r, answered, run, truth, baseline))
    return {"items_per_round": items, "rounds": rounds, "work": str(work), "history": history}


def _config_copy(config_path: Path, folder: Path, learn: bool) -> Path:
    """The configuration, validated, with its output and decisions in `folder`."""
    config = load_config(config_path)
    data = config.model_dump(mode="json", exclude_none=True)
    data.update(output_dir=str(folder / "out"), state_dir=str(folder / "state"))
    data["linkage"]["learn_from_decisions"] = learn
    folder.mkdir(parents=True)
    path = folder / "merge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _answer(run: Path, person_of: pd.Series, items: int, *states: Path) -> int:
    """Answer the first `items` items of `run`'s queue from the truth into each decisions store;
    returns how many pairs were answered."""
    queue = read_queue(run)
    if queue is None:
        raise UserError(f"{run}: the run has no review queue to answer (review.parquet without queue columns)")
    first = queue[queue["item"] < items]
    if len(first) == 0:
        return 0
    records = pd.read_parquet(run / "records.parquet")
    fingerprint = pd.Series(record_fingerprint(records).to_numpy(), index=record_keys(records).to_numpy())
    same = truth_same(first, person_of)
    run_id = run.name
    for state in states:
        store = Store(state)
        for left, right, answer in zip(first["left"], first["right"], same):
            store.add_decision(
                left, right, "same" if answer else "different", ANALYST, None, fingerprint.get(left), fingerprint.get(right), run_id
            )
    return int(len(first))


def _scores(round_: int, answered: int, run: Path, truth: Path, baseline: Path | None) -> dict[str, Any]:
    result = evaluate_run(run, truth)
    pairwise = result["clustering"]["pairwise"]
    entry = {
        "round": round_,
        "pairs_answered": answered,
        "precision": pairwise["precision"],
        "recall": pairwise["recall"],
        "f1": pairwise["f1"],
        "queue": result["queue"],
        "labels": json.loads((run / "model.json").read_text(encoding="utf-8")).get("trained_on", {}).get("labels"),
    }
    if baseline is not None:
        entry["links_only_f1"] = evaluate_run(baseline, truth)["clustering"]["pairwise"]["f1"]
    return entry


def format_simulation(result: dict) -> str:
    """The rounds as a table: pairwise scores, the queue, and what learning added to the links."""
    lines = [
        f"Simulated review: the first {result['items_per_round']:,} items of the queue answered from the truth, "
        f"{result['rounds']} round(s) (work folder {result['work']})",
        f"  {'round':>5}  {'answered':>8}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'F1 links only':>13}  "
        f"{'queue':>6}  {'yield':>6}  {'1st tenth':>9}",
    ]
    for h in result["history"]:
        q = h["queue"] or {}
        links_only = h.get("links_only_f1")
        lines.append(
            f"  {h['round']:>5}  {h['pairs_answered']:>8,}  {h['precision']:>9.4f}  {h['recall']:>7.4f}  {h['f1']:>7.4f}  "
            f"{'' if links_only is None else f'{links_only:.4f}':>13}  {q.get('pairs', 0):>6,}  "
            f"{_f(q.get('yield'))}  {_f((q.get('first_tenth') or {}).get('yield')):>9}"
        )
    lines.append("  F1 links only: the same decisions applied as links, without the model learning from them.")
    return "\n".join(lines) + "\n"


def _f(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.4f}"
