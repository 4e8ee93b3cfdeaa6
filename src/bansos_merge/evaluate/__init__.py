"""Evaluation: score a run's clustering, row accounting and conflicts against a truth.

`evaluate_run` (score.py) reads a run folder and a synthetic truth folder (or analysts'
labelled pairs; inputs.py) and returns a JSON-ready dict; `format_report` (text.py) renders
it as text and `write_report` writes it as JSON. The metrics themselves are pure functions in
`metrics`; the review queue's scores are in `queue`, the simulated analyst in `simulate`.
"""

from .inputs import read_labels, resolve_run_dir, resolve_truth_dir
from .metrics import bcubed_scores, clustering_scores, confusion_scores, pair_counts, pairwise_scores
from .score import evaluate_run, write_report
from .text import format_report

__all__ = [
    "bcubed_scores",
    "clustering_scores",
    "confusion_scores",
    "evaluate_run",
    "format_report",
    "pair_counts",
    "pairwise_scores",
    "read_labels",
    "resolve_run_dir",
    "resolve_truth_dir",
    "write_report",
]
