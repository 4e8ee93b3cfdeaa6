"""Blocking: which record pairs are worth comparing, in several passes.

Each pass groups records by an integer key and pairs the members of each group, so true
pairs are found even when one field is wrong: a NIK typo is caught by the name passes, a
name typo by the NIK passes, a missing NIK by name + birth date or birth date + district.
Groups larger than `max_block` are not expanded (a key that common is no evidence) and are
counted in the report, so a user sees what blocking skipped as well as what it cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import MISSING, LinkFrame

DEFAULT_MAX_BLOCK = 200


@dataclass
class BlockingReport:
    passes: list[dict]

    def as_dict(self) -> list[dict]:
        return self.passes


def _hash_strings(values: np.ndarray) -> np.ndarray:
    """Stable int64 codes for strings ('' -> -1), equal strings equal codes within one run."""
    codes, _ = pd.factorize(pd.Series(values, dtype=object))
    codes = codes.astype(np.int64)
    return np.where(values == "", MISSING, codes)


def combine_keys(*parts: np.ndarray) -> np.ndarray:
    """One int64 key from several int columns; -1 if any part is missing."""
    frame = pd.DataFrame({f"k{i}": p for i, p in enumerate(parts)})
    key = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy().astype(np.int64)
    missing = np.zeros(len(key), dtype=bool)
    for p in parts:
        missing |= p < 0
    return np.where(missing, MISSING, key)


def pairs_from_key(key: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """All pairs (i < j) of records sharing a key. Returns (left, right, blocks_skipped, rows_skipped)."""
    idx = np.flatnonzero(key >= 0)
    if len(idx) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0, 0
    order = idx[np.argsort(key[idx], kind="stable")]
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    too_big = sizes > max_block
    group_size = np.repeat(sizes, sizes)
    keep = ~np.repeat(too_big, sizes) & (group_size > 1)
    order, k = order[keep], k[keep]
    lefts, rights = [], []
    # Offset d pairs element i with element i + d of the same group: one numpy pass per d.
    for d in range(1, min(max_block, int(sizes[~too_big].max(initial=1)))):
        same = k[d:] == k[:-d]
        if not same.any():
            break
        lefts.append(order[:-d][same])
        rights.append(order[d:][same])
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64), int(too_big.sum()), int(sizes[too_big].sum())
    a, b = np.concatenate(lefts), np.concatenate(rights)
    return np.minimum(a, b), np.maximum(a, b), int(too_big.sum()), int(sizes[too_big].sum())


def _nik_edit_keys(f: LinkFrame) -> list[np.ndarray]:
    """Keys shared by NIKs one substitution or one adjacent transposition apart."""
    nik = f.nik
    digits = f.nik_digits.astype(np.int64)
    powers = 10 ** np.arange(15, -1, -1, dtype=np.int64)
    keys = []
    for p in range(16):
        masked = nik - digits[:, p] * powers[p]  # digit p set to 0
        keys.append(np.where(nik >= 0, masked * 32 + p, MISSING))
    for p in range(15):
        lo = np.minimum(digits[:, p], digits[:, p + 1])
        hi = np.maximum(digits[:, p], digits[:, p + 1])
        canon = nik - digits[:, p] * powers[p] - digits[:, p + 1] * powers[p + 1] + lo * powers[p] + hi * powers[p + 1]
        keys.append(np.where(nik >= 0, canon * 32 + 16 + p, MISSING))
    return keys


def blocking_passes(f: LinkFrame) -> list[tuple[str, Callable[[], list[np.ndarray]]]]:
    """(name, key builder) per pass; builders are lazy so memory holds one pass at a time."""
    name = _hash_strings(f.name)
    name_sorted = _hash_strings(f.name_sorted)
    first = _hash_strings(f.name_first)
    last = _hash_strings(f.name_last)
    place = np.where(f.village >= 0, f.village, f.district)
    return [
        ("nik_exact", lambda: [f.nik]),
        ("nik_one_edit", lambda: _nik_edit_keys(f)),
        ("nik_15_digits", lambda: [f.nik15]),
        ("name_birth_date", lambda: [combine_keys(name_sorted, f.birth_date)]),
        ("name_village", lambda: [combine_keys(name, place)]),
        ("kk_first_name", lambda: [combine_keys(np.where(f.kk >= 0, f.kk // 10, f.kk15), first)]),
        ("birth_date_district", lambda: [combine_keys(f.birth_date, f.district)]),
        ("birth_date_last_name", lambda: [combine_keys(f.birth_date, last)]),
        ("birth_date_first_name", lambda: [combine_keys(f.birth_date, first)]),
    ]


def candidate_pairs(f: LinkFrame, max_block: int = DEFAULT_MAX_BLOCK) -> tuple[pd.DataFrame, BlockingReport]:
    """Deduplicated candidate pairs (left < right), each with the first pass that found it."""
    codes, passes, report = [], [], []
    for pass_no, (label, build) in enumerate(blocking_passes(f)):
        found, blocks_skipped, rows_skipped = [], 0, 0
        for key in build():
            a, b, sb, sr = pairs_from_key(key, max_block)
            found.append(a * f.n + b)
            blocks_skipped += sb
            rows_skipped += sr
        code = np.unique(np.concatenate(found))
        codes.append(code)
        passes.append(np.full(len(code), pass_no, np.int8))
        report.append(
            {"pass": label, "pairs": int(len(code)), "blocks_skipped": blocks_skipped, "rows_in_skipped_blocks": rows_skipped}
        )
    all_codes = np.concatenate(codes)
    # np.unique keeps the first occurrence: passes were concatenated in order, so the first pass wins.
    code, first = np.unique(all_codes, return_index=True)
    pass_no = np.concatenate(passes)[first]
    for label_no, counts in zip(*np.unique(pass_no, return_counts=True)):
        report[label_no]["new_pairs"] = int(counts)
    for r in report:
        r.setdefault("new_pairs", 0)
    pairs = pd.DataFrame({"left": code // f.n, "right": code % f.n, "pass": pass_no})
    return pairs, BlockingReport(report)
