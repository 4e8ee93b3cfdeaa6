"""Fellegi-Sunter scoring, trained without labels.

* u-probabilities (how often a level occurs between two *different* people) come from random
  record pairs, which are almost all non-matches (Splink's `estimate_u_using_random_sampling`).
* The two NIK serial levels get a conditional u instead: measured on pairs of records whose
  NIKs share region, birth date and sex. That agreement is already counted by the birth date,
  sex and household comparisons; what the serial adds is whether two NIKs registered on
  the same day in the same district are one person (a typo) or two (twins, neighbours).
* m-probabilities and the match prior come from EM over the candidate pairs with u fixed,
  run on the distinct comparison patterns (thousands) rather than the pairs (millions).
* Missing values are no evidence (weight 0). Exact agreement on names and birth dates is
  adjusted by term frequency: SITI AMINAH or 1 July (a default birth date) counts for less.

recordlinkage's ECMClassifier is not used for training: it works on binary features, cannot
hold u fixed from random pairs, and has no notion of missing-as-no-evidence; see README.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from .blocking import blocking_table
from .comparisons import COMPARISONS, NIK, compare_nik, compare_pairs
from .features import MISSING, LinkFrame

MODEL_VERSION = 4  # 4: the blocking passes recorded (`blocking`)
_FLOOR = 1e-6
MAX_PRIOR = 0.5
_PSEUDO = 0.5  # Dirichlet pseudo-count per level: a level unseen in training is rare, not impossible


@dataclass
class FSModel:
    comparisons: list[str]
    levels: dict[str, list[str]]
    blocking: list[dict]  # the passes that proposed the candidate pairs (blocking.BLOCKING)
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float  # share of candidate pairs that are matches
    seed: int
    observed: dict[str, list[bool]] = field(default_factory=dict)  # seen among random pairs or in training
    trained_on: dict = field(default_factory=dict)
    version: int = MODEL_VERSION
    m_unlabelled: dict[str, list[float]] | None = None  # m before the analysts' labels (None: no labels used)
    match_threshold: float | None = None  # learned from the labels; None: the configured one

    def weights(self, unlabelled: bool = False) -> dict[str, np.ndarray]:
        """log2(m/u) per comparison level.

        A level seen neither among random pairs nor in training says nothing (weight 0), and is
        left out when a monotone comparison's weights are made non-decreasing: otherwise its
        smoothing floor would lift every level above it. So is a level the comparison sets aside
        (`Comparison.aside`): it weighs its own.
        """
        by_name = {c.name: c for c in COMPARISONS}
        m = self.m_unlabelled if unlabelled and self.m_unlabelled else self.m
        out = {}
        for c in self.comparisons:
            w = np.log2(np.maximum(m[c], _FLOOR) / np.maximum(self.u[c], _FLOOR))
            seen = np.asarray(self.observed.get(c, [True] * len(w)), dtype=bool)
            w = np.where(seen, w, 0.0)
            comparison = by_name.get(c)
            if comparison is None or comparison.monotone:
                ordered = seen & ~np.isin(np.arange(len(w)), [comparison.levels.index(x) for x in comparison.aside] if comparison else [])
                if ordered.any():
                    w = np.where(ordered, np.maximum.accumulate(np.where(ordered, w, -np.inf)), w)
            out[c] = w
        return out

    @property
    def prior_weight(self) -> float:
        """log2 odds of a candidate pair being a match, at most even: blocking chose pairs that
        already agree on something, so the prior alone never argues for a match."""
        p = min(self.prior, MAX_PRIOR)
        return float(np.log2(p / (1 - p)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FSModel:
        """A saved model, refused (UserError) when it was trained for other comparisons or on
        the pairs of other blocking passes: its weights and its prior would not fit this run's."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == 3 and "blocking" not in data:
                # Version 3 did not record its passes; they were this table without kk_name_token.
                raise UserError(f"linkage model {path} was trained on other blocking passes; retrain (unset model_path)")
            model = cls(**data)
        except (OSError, ValueError, TypeError) as e:
            raise UserError(f"cannot load linkage model {path}: {e}") from None
        expected = {c.name: list(c.levels) for c in COMPARISONS}
        if model.version != MODEL_VERSION or model.levels != expected:
            raise UserError(f"linkage model {path} was trained for other comparisons; retrain (unset model_path)")
        if model.blocking != blocking_table():
            raise UserError(f"linkage model {path} was trained on other blocking passes; retrain (unset model_path)")
        return model


def _level_counts(gamma: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    return [np.bincount(gamma[:, k][gamma[:, k] >= 0].astype(np.int64), minlength=n).astype(float) for k, n in enumerate(n_levels)]


def _smoothed(counts: np.ndarray) -> np.ndarray:
    """Frequencies with a pseudo-count: a level never seen is rare, not impossible."""
    return (counts + _PSEUDO) / (counts.sum() + _PSEUDO * len(counts))


def random_pairs(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if n < 2:  # a run whose every row was rejected: no pair to draw
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a = rng.integers(0, n, size)
    b = rng.integers(0, n, size)
    keep = a != b
    return a[keep], b[keep]


def _serial_u(f: LinkFrame, rng: np.random.Generator, size: int) -> tuple[float, float] | None:
    """u of (sibling_serial, serial_one_edit) among different NIKs sharing region, date and sex."""
    has = np.flatnonzero(f.nik >= 0)
    prefix = f.nik[has] // 10_000
    order = has[np.argsort(prefix, kind="stable")]
    p = f.nik[order] // 10_000
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    sizes = np.diff(np.r_[starts, len(p)])
    multi = sizes > 1
    if not multi.any():
        return None
    group = rng.choice(np.flatnonzero(multi), size=size, p=(sizes[multi] ** 2 / (sizes[multi] ** 2).sum()))
    i = starts[group] + (rng.random(size) * sizes[group]).astype(np.int64)
    j = starts[group] + (rng.random(size) * sizes[group]).astype(np.int64)
    a, b = order[i], order[j]
    different = f.nik[a] != f.nik[b]
    if different.sum() < 20:
        return None
    level = compare_nik(f, a[different], b[different])
    sibling = float(np.mean(level == 1))
    one_edit = float(np.mean(level == 2))
    return max(sibling, _FLOOR), max(one_edit, _FLOOR)


def estimate_u(f: LinkFrame, seed: int, sample: int = 400_000) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """u-probabilities and the raw level counts among random pairs."""
    rng = np.random.default_rng(seed)
    a, b = random_pairs(f.n, min(sample, max(f.n * 20, 10_000)), rng)
    counts = _level_counts(compare_pairs(f, a, b), [len(c.levels) for c in COMPARISONS])
    u = {c.name: _smoothed(n) for c, n in zip(COMPARISONS, counts)}
    serial = _serial_u(f, rng, 200_000)
    if serial is not None:
        u[NIK.name] = u[NIK.name].copy()
        u[NIK.name][1], u[NIK.name][2] = serial
    return u, {c.name: n for c, n in zip(COMPARISONS, counts)}


def _initial_m(n_levels: int) -> np.ndarray:
    """Matches mostly agree: most mass on the top level, the rest decaying downwards."""
    m = 0.5 ** np.arange(n_levels, 0, -1, dtype=float)
    m[-1] = 2.0
    return m / m.sum()


def _log_probs(patterns: np.ndarray, probs: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    out = np.zeros(len(patterns))
    for k, name in enumerate(names):
        col = patterns[:, k]
        present = col >= 0
        out[present] += np.log(np.maximum(probs[name][col[present]], _FLOOR))
    return out


def distinct_patterns(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of `gamma` and their counts, via one int64 code per row (fast to sort)."""
    code = np.zeros(len(gamma), dtype=np.int64)
    for k in range(gamma.shape[1]):
        code = code * 16 + (gamma[:, k].astype(np.int64) + 1)
    uniq, first, counts = np.unique(code, return_index=True, return_counts=True)
    return gamma[first], counts.astype(float)


def em_train(
    gamma: np.ndarray,
    u: dict[str, np.ndarray],
    m: dict[str, np.ndarray] | None = None,
    fixed: frozenset[str] = frozenset(),
    max_iter: int = 200,
    tol: float = 1e-6,
    known_non_matches: int = 0,
) -> tuple[dict[str, np.ndarray], float, int]:
    """EM over the distinct patterns of `gamma` with u fixed: returns m, the match prior and
    the iterations used. Columns of -1 carry no evidence; the m of comparisons in `fixed`
    are kept as given. `known_non_matches`: candidate pairs settled as non-matches without
    comparison, counted in the prior's denominator."""
    patterns, counts = distinct_patterns(gamma)
    names = [c.name for c in COMPARISONS]
    m = {c.name: _initial_m(len(c.levels)) for c in COMPARISONS} if m is None else dict(m)
    prior = 0.5
    if counts.sum() + known_non_matches == 0:  # no pairs at all (an empty run): nothing to learn
        return m, prior, 0
    log_u = _log_probs(patterns, u, names)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        logit = np.log(prior) - np.log(1 - prior) + _log_probs(patterns, m, names) - log_u
        weight = counts / (1 + np.exp(-np.clip(logit, -700, 700)))
        new_prior = float(np.clip(weight.sum() / (counts.sum() + known_non_matches), 1e-9, 1 - 1e-9))
        delta = abs(new_prior - prior)
        prior = new_prior
        for k, name in enumerate(names):
            col = patterns[:, k]
            present = col >= 0
            if name in fixed or not present.any():
                continue
            mass = np.bincount(col[present].astype(np.int64), weights=weight[present], minlength=len(m[name]))
            new = (mass + _PSEUDO) / (mass.sum() + _PSEUDO * len(mass))
            delta = max(delta, float(np.abs(new - m[name]).max()))
            m[name] = new
        if delta < tol:
            break
    return m, prior, iterations


def _pattern_mass(gamma: np.ndarray) -> dict[str, np.ndarray]:
    """How many training pairs fall on each level (the level was observed in training)."""
    return {c.name: n for c, n in zip(COMPARISONS, _level_counts(gamma, [len(c.levels) for c in COMPARISONS]))}


def _session(gamma: np.ndarray, rows: np.ndarray, blind: list[str], u: dict[str, np.ndarray]) -> dict | None:
    """EM on the pairs a training rule selects, blind to the comparisons the rule used
    (Splink's training sessions): those comparisons learn nothing from pairs chosen by them."""
    if rows.sum() < 30:
        return None
    g = gamma[rows].copy()
    for k, c in enumerate(COMPARISONS):
        if c.name in blind:
            g[:, k] = MISSING
    m, prior, iterations = em_train(g, u)
    return {"m": m, "prior": prior, "pairs": int(rows.sum()), "iterations": iterations}


def _training_rules(gamma: np.ndarray) -> list[tuple[str, np.ndarray, list[str]]]:
    """(name, selected pairs, comparisons the rule is blind to): Splink-style EM sessions,
    each learning every comparison but those its selection used."""
    col = {c.name: k for k, c in enumerate(COMPARISONS)}

    def top(name: str) -> np.ndarray:
        return gamma[:, col[name]] == len(COMPARISONS[col[name]].levels) - 1

    # Not "birth date exact" alone: in a register of households those pairs are full of twins
    # and neighbours, and EM learns them as matches.
    return [
        ("nik_exact", top("nik"), ["nik"]),
        ("name_and_birth_date_exact", top("name") & top("birth_date"), ["name", "birth_date"]),
    ]


def train_model(f: LinkFrame, gamma: np.ndarray, seed: int, registry_apart: int = 0, reuse_u: FSModel | None = None) -> FSModel:
    """u from random pairs; m averaged over the EM sessions that learned it; a comparison no
    session learned, and the prior, from EM over all candidate pairs (the rest held fixed).

    `registry_apart`: the candidate pairs blocking did not keep because the civil registry
    already says they are two people. They are still candidates for the prior (the share of
    matches among the pairs blocking proposes), so that skipping them leaves the weights, and
    what the thresholds mean, as they were.

    `reuse_u`: a model whose u is kept instead of estimated (an incremental run's previous
    model): u is what random pairs of the records agree on, which a small update hardly moves,
    and estimating it is nearly all of training's time; m and the prior are learned afresh."""
    if reuse_u is None:
        u, u_counts = estimate_u(f, seed)
    else:
        u = {k: np.asarray(v, dtype=float) for k, v in reuse_u.u.items()}
        u_counts = {k: np.asarray(reuse_u.observed.get(k, [True] * len(v)), dtype=float) for k, v in reuse_u.u.items()}
    sessions = {name: (_session(gamma, rows, blind, u), blind) for name, rows, blind in _training_rules(gamma)}
    m, learned = {}, set()
    for c in COMPARISONS:
        found = [s["m"][c.name] for s, blind in sessions.values() if s is not None and c.name not in blind]
        m[c.name] = np.mean(found, axis=0) if found else _initial_m(len(c.levels))
        if found:
            learned.add(c.name)
    m, prior, _ = em_train(gamma, u, m, fixed=frozenset(learned), known_non_matches=registry_apart)
    in_training = _pattern_mass(gamma)
    return FSModel(
        comparisons=[c.name for c in COMPARISONS],
        levels={c.name: list(c.levels) for c in COMPARISONS},
        blocking=blocking_table(),
        m={k: [float(x) for x in v] for k, v in m.items()},
        u={k: [float(x) for x in v] for k, v in u.items()},
        prior=prior,
        seed=seed,
        observed={c.name: [bool(x) for x in (u_counts[c.name] > 0) | (in_training[c.name] > 0)] for c in COMPARISONS},
        trained_on={
            "records": int(f.n),
            "candidate_pairs": int(len(gamma)),
            "registry_apart_pairs": int(registry_apart),
            "sessions": {
                name: None if s is None else {"pairs": s["pairs"], "iterations": s["iterations"]}
                for name, (s, _) in sessions.items()
            },
        },
    )


LABEL_PRIOR = 50.0  # the unlabelled EM's m counts as this many labelled pairs
MIN_LABELS_FOR_THRESHOLD = 30  # labelled pairs of each kind before the match threshold is re-estimated
THRESHOLD_RANGE = 4.0  # how far (bits) a learned threshold may move from the configured one


def learn_from_labels(
    model: FSModel, gamma: np.ndarray, same: np.ndarray, weight_of, configured_threshold: float
) -> FSModel:
    """The model re-estimated from analysts' labelled pairs (`gamma`: their levels; `same`:
    their answers), with the unlabelled EM as the prior: each comparison's m is the posterior
    mean of a Dirichlet whose pseudo-counts are the EM's m times LABEL_PRIOR, updated by the
    levels of the pairs labelled "same person". u stays (random pairs are plenty). With at
    least MIN_LABELS_FOR_THRESHOLD labels of each kind, the match threshold becomes the one
    (within THRESHOLD_RANGE of the configured one) that gets the most labelled pairs right;
    `weight_of(model)` scores the labelled pairs under a model."""
    if len(gamma) == 0:
        return model
    labelled = gamma[same]
    unlabelled = model.m_unlabelled or model.m  # a reused model's labels are not counted twice
    m = {}
    for k, c in enumerate(COMPARISONS):
        col = labelled[:, k]
        counts = np.bincount(col[col >= 0].astype(np.int64), minlength=len(c.levels)).astype(float)
        prior = np.asarray(unlabelled[c.name]) * LABEL_PRIOR
        m[c.name] = [float(x) for x in (counts + prior) / (counts.sum() + prior.sum())]
    learned = FSModel(**{**asdict(model), "m": m, "m_unlabelled": unlabelled})
    n_same, n_different = int(same.sum()), int((~same).sum())
    learned.trained_on = {**model.trained_on, "labels": {"same": n_same, "different": n_different, "prior_strength": LABEL_PRIOR}}
    if min(n_same, n_different) >= MIN_LABELS_FOR_THRESHOLD:
        learned.match_threshold = _best_threshold(weight_of(learned), same, configured_threshold)
    return learned


def _best_threshold(weights: np.ndarray, same: np.ndarray, configured: float) -> float:
    """The threshold, among the labelled weights' midpoints within THRESHOLD_RANGE of the
    configured one, with the fewest labelled pairs on the wrong side; ties go to the nearest."""
    order = np.sort(weights)
    mids = np.r_[configured, (order[1:] + order[:-1]) / 2]
    mids = mids[np.abs(mids - configured) <= THRESHOLD_RANGE]
    errors = np.array([np.sum(same & (weights < t)) + np.sum(~same & (weights >= t)) for t in mids])
    best = np.flatnonzero(errors == errors.min())
    return float(mids[best[np.argmin(np.abs(mids[best] - configured))]])


def term_frequencies(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Per record: the share of records holding the same value (0 where missing)."""
    codes, uniques = pd.factorize(pd.Series(values))
    valid = ~missing
    counts = np.bincount(codes[valid], minlength=len(uniques))
    freq = np.zeros(len(values))
    freq[valid] = counts[codes[valid]] / max(int(valid.sum()), 1)
    return freq


def link_term_frequencies(f: LinkFrame) -> dict[str, np.ndarray]:
    return {
        "name": term_frequencies(f.name.codes, f.name.codes < 0),
        "birth_date": term_frequencies(f.birth_date, f.birth_date < 0),
        "mother_name": term_frequencies(f.mother.codes, f.mother.codes < 0),
    }


@dataclass
class Scores:
    total: np.ndarray  # match weight (log2 odds, prior included)
    contributions: np.ndarray  # (n_pairs, n_comparisons) float32 weights


def score_pairs(
    model: FSModel, gamma: np.ndarray, tf: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, unlabelled: bool = False
) -> Scores:
    """Match weight of each pair; `tf[name]` is the per-record term frequency for TF levels;
    `unlabelled`: with the m the model had before the analysts' labels."""
    weights = model.weights(unlabelled)
    m_of = model.m_unlabelled if unlabelled and model.m_unlabelled else model.m
    contrib = np.zeros(gamma.shape, dtype=np.float32)
    for k, comp in enumerate(COMPARISONS):
        col = gamma[:, k]
        present = col >= 0
        w = np.zeros(len(col))
        w[present] = weights[comp.name][col[present]]
        if comp.tf_level is not None and comp.name in tf:
            hit = col == comp.tf_level
            freq = np.maximum(tf[comp.name][a[hit]], tf[comp.name][b[hit]])
            u_tf = np.maximum(freq, _FLOOR)
            m_top = max(m_of[comp.name][comp.tf_level], _FLOOR)
            # A rare value is stronger evidence than the average exact match; a common one never counts against.
            w[hit] = np.clip(np.log2(m_top / u_tf), 0.0, None)
        contrib[:, k] = w
    return Scores(total=model.prior_weight + contrib.sum(axis=1), contributions=contrib)
