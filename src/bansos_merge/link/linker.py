"""The linker: blocking -> comparisons -> Fellegi-Sunter scores, for one set of records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .blocking import DEFAULT_MAX_BLOCK, BlockingReport, candidate_pairs, registry_apart, registry_double
from .comparisons import COMPARISONS, compare_pairs
from .features import LinkFrame, build_link_frame
from .model import FSModel, learn_from_labels, link_term_frequencies, score_pairs, train_model


@dataclass
class Links:
    frame: LinkFrame
    pairs: pd.DataFrame  # left, right, pass, weight, <comparison> levels, w_<comparison> weights
    model: FSModel
    blocking: BlockingReport


def score_candidates(
    f: LinkFrame,
    pairs: pd.DataFrame,
    model: FSModel,
    gamma: np.ndarray | None = None,
    tf: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Levels, per-comparison weights and the total weight of each pair."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    gamma = compare_pairs(f, a, b) if gamma is None else gamma
    scores = score_pairs(model, gamma, link_term_frequencies(f) if tf is None else tf, a, b)
    out = pairs.copy()
    out["weight"] = scores.total
    for k, c in enumerate(COMPARISONS):
        out[c.name] = gamma[:, k]
        out[f"w_{c.name}"] = scores.contributions[:, k]
    return out


def block(records: pd.DataFrame, max_block: int = DEFAULT_MAX_BLOCK) -> tuple[LinkFrame, pd.DataFrame, BlockingReport]:
    """The linkage view of the records and their candidate pairs (global: cheap integer keys)."""
    f = build_link_frame(records)
    pairs, report = candidate_pairs(f, max_block)
    return f, pairs, report


def pair_chunks(pairs: pd.DataFrame, size: int, at_least: int = 1) -> list[pd.DataFrame]:
    """Candidate pairs in chunks of at most `size`, and at least `at_least` chunks of equal
    size (one per core), to compare and score in parallel (each chunk independent)."""
    size = max(1, min(size, -(-len(pairs) // max(at_least, 1))))
    return [pairs.iloc[i : i + size] for i in range(0, max(len(pairs), 1), size)]


def compare_chunk(f: LinkFrame, pairs: pd.DataFrame) -> np.ndarray:
    return compare_pairs(f, pairs["left"].to_numpy(), pairs["right"].to_numpy())


def train(f: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, seed: int, registry_apart: int, reuse_u: FSModel | None = None) -> FSModel:
    """The model, trained on the candidate pairs but the registry's look-alikes (two registry
    records of one name, birth date and sex: mostly two people, decided by their own rule):
    they count, like the registry-apart pairs blocking did not keep, as known non-matches in
    the prior, so that what EM learns of households and cards is what it learned without them."""
    look_alike = registry_double(f, pairs["left"].to_numpy(), pairs["right"].to_numpy())
    return train_model(f, gamma[~look_alike], seed, registry_apart + int(look_alike.sum()), reuse_u)


def learn(model: FSModel, f: LinkFrame, labels: pd.DataFrame, match_threshold: float, tf: dict | None = None) -> FSModel:
    """`model` re-estimated from analysts' labelled pairs (`labels`: left, right record
    positions and `same`, their answer); see model.learn_from_labels. Pairs of two registry
    records with different NIKs teach nothing: training leaves them out (their NIK, card and
    address disagree by construction when one person was registered twice), and an answer
    "same person" there would teach that two different NIKs are one person's."""
    if labels is None or len(labels) == 0:
        return model
    a, b = labels["left"].to_numpy(), labels["right"].to_numpy()
    keep = ~(registry_apart(f, a, b) | registry_double(f, a, b))
    if not keep.any():
        return model
    a, b, same = a[keep], b[keep], labels["same"].to_numpy(dtype=bool)[keep]
    gamma = compare_pairs(f, a, b)
    tf = link_term_frequencies(f) if tf is None else tf
    return learn_from_labels(model, gamma, same, lambda m: score_pairs(m, gamma, tf, a, b).total, match_threshold)


def labelled_pairs(must_link: pd.DataFrame | None, cannot_link: pd.DataFrame | None) -> pd.DataFrame:
    """Analysts' must-links and cannot-links as labelled pairs: left, right, same."""
    frames = [
        d[["left", "right"]].assign(same=same) for d, same in ((must_link, True), (cannot_link, False)) if d is not None and len(d)
    ]
    if not frames:
        return pd.DataFrame({"left": pd.Series(dtype=np.int64), "right": pd.Series(dtype=np.int64), "same": pd.Series(dtype=bool)})
    return pd.concat(frames, ignore_index=True)


def link_records(
    records: pd.DataFrame,
    seed: int,
    model: FSModel | None = None,
    max_block: int = DEFAULT_MAX_BLOCK,
    labels: pd.DataFrame | None = None,
    match_threshold: float = 6.0,
) -> Links:
    """Score every candidate pair of `records`; train the model first unless one is given,
    then learn from the analysts' `labels` (see `learn`)."""
    f, pairs, report = block(records, max_block)
    gamma = compare_chunk(f, pairs)
    if model is None:
        model = train(f, pairs, gamma, seed, report.registry_apart)
    model = learn(model, f, labels, match_threshold)
    return Links(frame=f, pairs=score_candidates(f, pairs, model, gamma), model=model, blocking=report)
