"""How likely the run's decision on a pair is to be wrong: the queue's first question.

A record belongs to at most one person, so the persons it could belong to compete: with `s_c`
the best match weight (log2 odds) from the record to person (cluster) c, the record is in c
with probability 2^s_c / (sum over c' of 2^s_c' + 1), the 1 standing for "none of them". A
record that fits two persons equally well is in each with probability about 1/2; a lone fair
candidate keeps its Fellegi-Sunter probability. A civil-registry record does not "join" a list
record's person (the list record joins it), so for such a pair only the list record's side
counts. Pairs the household rules keep apart are not evidence: their weight adds up what a
household shares.

Which weights: Fellegi-Sunter overstates the evidence of pairs that blocking chose for what they
share. Two list records named ASEP in one village weigh about +3 (89%), where about one such pair
in fifty is one person. So a pair the run keeps apart is judged on weights recalibrated on labels
the civil registry gives for free (`calibrate`). A pair the run matched keeps its weight as
scored: the registry's labels cannot see what made the link (they are drawn on the NIK), and
recalibrating those understates them (on the generator's 200,000-person sample, matched pairs
the recalibration gave a doubt above 0.8 were wrong 6% of the time; as scored, the doubts of
matched pairs held within their bins).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..link.features import LinkFrame

# Weights below this are no evidence for anyone (odds under 1 in 30,000): left out.
MIN_EVIDENCE = -15.0
MIN_SILVER = 50  # registry-labelled pairs of each kind needed to recalibrate


def pair_doubt(pairs: pd.DataFrame, evidence: np.ndarray, asked: pd.DataFrame, label: np.ndarray, f: LinkFrame) -> tuple[np.ndarray, dict | None]:
    """Per pair of `asked`, the probability that the run's decision on it is wrong, and the
    recalibration's fit. `pairs`: every scored pair; `evidence`: which of them say who is who
    (not decided by a rule or an analyst); `label`: person (cluster) per record."""
    weight, fit = calibrate(pairs[evidence], f)
    recalibrated = pairs.loc[evidence, ["left", "right"]].assign(weight=weight)
    as_scored = pairs.loc[evidence, ["left", "right", "weight"]]
    matched = label[asked["left"].to_numpy()] == label[asked["right"].to_numpy()]
    return np.where(
        matched,
        doubt(as_scored[as_scored["weight"] > MIN_EVIDENCE], asked, label, f.civil),
        doubt(recalibrated[recalibrated["weight"] > MIN_EVIDENCE], asked, label, f.civil),
    ), fit


def doubt(evidence: pd.DataFrame, asked: pd.DataFrame, label: np.ndarray, civil: np.ndarray) -> np.ndarray:
    """Per pair of `asked`, the probability that the run's decision on it is wrong (see module
    doc). `evidence`: left, right, weight of the pairs whose weight says who is who; `label`:
    person (cluster) per record."""
    ea, eb, ew = evidence["left"].to_numpy(), evidence["right"].to_numpy(), evidence["weight"].to_numpy()
    sides = pd.DataFrame({"rec": np.r_[ea, eb], "person": np.r_[label[eb], label[ea]], "weight": np.r_[ew, ew]})
    best = sides.groupby(["rec", "person"], sort=False)["weight"].max()
    odds = np.exp2(np.clip(best.to_numpy(), -60, 60))
    total = pd.Series(odds, index=best.index).groupby(level="rec").sum()
    share = pd.Series(odds / (total.reindex(best.index.get_level_values("rec")).to_numpy() + 1), index=best.index)

    def joins(rec: np.ndarray, person: np.ndarray) -> np.ndarray:
        return share.reindex(pd.MultiIndex.from_arrays([rec, person])).fillna(0.0).to_numpy()

    a, b = asked["left"].to_numpy(), asked["right"].to_numpy()
    # A list record joins a registry record's person, never the other way round.
    a_joins = np.where(civil[a] & ~civil[b], 0.0, joins(a, label[b]))
    b_joins = np.where(civil[b] & ~civil[a], 0.0, joins(b, label[a]))
    same = np.maximum(a_joins, b_joins)
    return np.where(label[a] == label[b], 1.0 - same, same)


def calibrate(pairs: pd.DataFrame, f: LinkFrame) -> tuple[np.ndarray, dict | None]:
    """The pairs' weights recalibrated on labels the civil registry gives for free: an aid-list
    record whose NIK the registry holds is that registry record's person, and not its
    neighbours'. On those pairs, the probability of one person is fitted (logistic regression)
    on the weight without the NIK's part, which Fellegi-Sunter overstates where blocking chose
    the pairs for what they share (a common name in one village). Returns log2 odds per pair:
    the recalibrated weight plus the NIK's own, and the fit (None: too few labels, weights as
    they are)."""
    a, b = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    registered = f.aid & (f.nik >= 0) & f.nik_registered
    silver = (registered[a] & f.civil[b]) | (registered[b] & f.civil[a])
    label = (f.nik[a] == f.nik[b])[silver]
    weight, nik = pairs["weight"].to_numpy(), pairs["w_nik"].to_numpy()
    if min(int(label.sum()), int((~label).sum())) < MIN_SILVER:
        return weight, None
    x = np.clip(weight - nik, -30.0, 60.0)
    alpha, beta = _logistic_fit(x[silver], label.astype(float))
    fit = {"labelled_pairs": int(silver.sum()), "one_person": int(label.sum()), "alpha": round(float(alpha), 4), "beta": round(float(beta), 4)}
    return (alpha + beta * x) / np.log(2.0) + nik, fit


def _logistic_fit(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Maximum-likelihood (alpha, beta) of P(y) = 1 / (1 + exp(-(alpha + beta x))), by Newton's
    method (iteratively reweighted least squares): a few passes over the pairs."""
    X = np.column_stack([np.ones(len(x)), x])
    theta = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ theta, -500, 500)))
        gradient = X.T @ (y - p)
        hessian = (X * (p * (1 - p))[:, None]).T @ X + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta += step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])
