"""Clustering and pair-classification metrics, as pure functions of label arrays.

Everything is computed from the contingency table of (true person, predicted cluster)
counts, never by listing pairs, so 10^6 rows take well under a second:

* pairwise: a pair of rows is *true* when both rows belong to the same person, *predicted*
  when both rows are in the same cluster. ``tp = sum_ij C(n_ij, 2)``,
  ``true_pairs = sum_i C(n_i, 2)``, ``predicted_pairs = sum_j C(n_j, 2)``.
* B-cubed: per row, precision = |cluster ∩ person| / |cluster| and recall =
  |cluster ∩ person| / |person|, averaged over rows. Every row of cell (i, j) has the same
  values, so ``precision = sum_ij n_ij^2 / n_j / N`` and ``recall = sum_ij n_ij^2 / n_i / N``.

Undefined ratios are ``None``, never an invented number: pairwise precision is ``None`` when
the clustering predicts no pair (a run that merges nothing asserts nothing that could be
wrong), recall is ``None`` when the truth has no pair. F1 is 0 as soon as either side is 0
(the harmonic mean tends to 0 whatever the other side is) and ``None`` if a side is
undefined otherwise.

Null labels (None/NaN) are singletons: each null row is its own person or cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "label_codes",
    "Contingency",
    "contingency",
    "pair_counts",
    "ratio",
    "f1",
    "pairwise_scores",
    "bcubed_scores",
    "clustering_scores",
    "confusion_scores",
]


def label_codes(labels: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Dense int64 codes 0..K-1 for any hashable labels; each null gets a code of its own."""
    if not isinstance(labels, (pd.Series, pd.Index, np.ndarray, pd.Categorical)):
        labels = pd.Series(list(labels), dtype=object)
    codes, uniques = pd.factorize(labels)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():
        codes = codes.copy()
        codes[missing] = len(uniques) + np.arange(int(missing.sum()), dtype=np.int64)
    return codes


class Contingency(NamedTuple):
    """The non-empty cells of the (true person, predicted cluster) table.

    ``n_ij``, ``n_i``, ``n_j`` are aligned per cell: its count, the size of its person and
    the size of its cluster. ``person_sizes`` and ``cluster_sizes`` list each once.
    """

    n_ij: np.ndarray
    n_i: np.ndarray
    n_j: np.ndarray
    person_sizes: np.ndarray
    cluster_sizes: np.ndarray


def contingency(true_labels, pred_labels) -> Contingency:
    t = label_codes(true_labels)
    p = label_codes(pred_labels)
    if len(t) != len(p):
        raise ValueError(f"label arrays differ in length: {len(t)} true, {len(p)} predicted")
    if len(t) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Contingency(empty, empty, empty, empty, empty)
    n_pred = int(p.max()) + 1
    cells, n_ij = np.unique(t * n_pred + p, return_counts=True)
    person_sizes, cluster_sizes = np.bincount(t), np.bincount(p)
    return Contingency(
        n_ij.astype(np.int64), person_sizes[cells // n_pred], cluster_sizes[cells % n_pred], person_sizes, cluster_sizes
    )


def _pairs(n: np.ndarray) -> int:
    return int((n * (n - 1) // 2).sum())


def _pair_counts(c: Contingency) -> dict[str, int]:
    true_pairs, pred_pairs, tp = _pairs(c.person_sizes), _pairs(c.cluster_sizes), _pairs(c.n_ij)
    return {
        "true_pairs": true_pairs, "predicted_pairs": pred_pairs, "tp": tp, "fp": pred_pairs - tp, "fn": true_pairs - tp
    }


def pair_counts(true_labels, pred_labels) -> dict[str, int]:
    """``true_pairs``, ``predicted_pairs``, ``tp``, ``fp``, ``fn`` of the pairwise comparison."""
    return _pair_counts(contingency(true_labels, pred_labels))


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when den is 0 (undefined)."""
    return float(num) / float(den) if den else None


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision == 0 or recall == 0:
        return 0.0
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall)


def _pairwise(c: Contingency) -> dict[str, Any]:
    counts = _pair_counts(c)
    precision = ratio(counts["tp"], counts["predicted_pairs"])
    recall = ratio(counts["tp"], counts["true_pairs"])
    return {**counts, "precision": precision, "recall": recall, "f1": f1(precision, recall)}


def _bcubed(c: Contingency) -> dict[str, float | None]:
    n = int(c.n_ij.sum())
    if n == 0:
        return {"precision": None, "recall": None, "f1": None}
    sq = c.n_ij.astype(np.float64) ** 2
    precision = float((sq / c.n_j).sum() / n)
    recall = float((sq / c.n_i).sum() / n)
    return {"precision": precision, "recall": recall, "f1": f1(precision, recall)}


def pairwise_scores(true_labels, pred_labels) -> dict[str, Any]:
    """Pair counts plus pairwise ``precision``, ``recall`` and ``f1`` (see module doc for None)."""
    return _pairwise(contingency(true_labels, pred_labels))


def bcubed_scores(true_labels, pred_labels) -> dict[str, float | None]:
    """B-cubed ``precision``, ``recall``, ``f1``; all None for an empty input."""
    return _bcubed(contingency(true_labels, pred_labels))


def clustering_scores(true_labels, pred_labels) -> dict[str, Any]:
    """Both families from one contingency table: ``rows``, ``persons``, ``clusters``, ``pairwise``, ``bcubed``."""
    c = contingency(true_labels, pred_labels)
    return {
        "rows": int(c.n_ij.sum()),
        "persons": len(c.person_sizes),
        "clusters": len(c.cluster_sizes),
        "pairwise": _pairwise(c),
        "bcubed": _bcubed(c),
    }


def confusion_scores(actual_same, predicted_same) -> dict[str, Any]:
    """A binary classifier of pairs: ``tp``/``fp``/``fn``/``tn`` and precision, recall, F1.

    ``actual_same`` and ``predicted_same`` are aligned boolean arrays, one entry per pair.
    """
    a = np.asarray(actual_same, dtype=bool)
    p = np.asarray(predicted_same, dtype=bool)
    tp = int((a & p).sum())
    fp = int((~a & p).sum())
    fn = int((a & ~p).sum())
    tn = int((~a & ~p).sum())
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall, "f1": f1(precision, recall)
    }
