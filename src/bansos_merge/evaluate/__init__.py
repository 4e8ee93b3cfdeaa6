"""Evaluation: score a run's clustering, row accounting and conflicts against a truth.

`evaluate_run` reads a run folder and a synthetic truth folder (or analysts' labelled
pairs) and returns a JSON-ready dict; `format_report` renders it as text and
`write_report` writes it as JSON. The metrics themselves are pure functions in `metrics`.
"""

from .metrics import bcubed_scores, clustering_scores, confusion_scores, pair_counts, pairwise_scores
from .score import evaluate_run, format_report, read_labels, resolve_run_dir, resolve_truth_dir, write_report

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
