"""An agency resending its list: two versions of one sample CSV and their truth, for incremental runs.

`resend` writes a *before* file, which lacks the rows the agency adds later, and an *after* file:
some rows removed, some changed (a name corrected: its last token dropped, or a letter added to
a one-word name) and the held-out rows appended, as new registrations are. Rows are taken whole
(one line a row, the header first), so every byte of a row not changed stays as it was. The truth
rows of both versions are returned; where the source has no id column its record ids are line
numbers, renumbered as the reader will number them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Resend:
    before: pd.DataFrame  # truth rows of the source in the before file
    after: pd.DataFrame  # and in the after file
    removed: int
    changed: int
    added: int


def _delimiter(header: str) -> str:
    return max(",;|\t", key=header.count)


def _changed_line(line: str, delimiter: str, column: int) -> str:
    ending = line[len(line.rstrip("\r\n")) :]
    cells = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter))
    tokens = cells[column].split()
    cells[column] = " ".join(tokens[:-1]) if len(tokens) > 1 else cells[column] + "A"
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=ending).writerow(cells)
    return out.getvalue()


def _numbered(rows: pd.DataFrame, renumber: bool) -> pd.DataFrame:
    rows = rows.reset_index(drop=True)
    if renumber:
        rows = rows.assign(row_number=np.arange(1, len(rows) + 1), record_id=[str(i) for i in range(1, len(rows) + 1)])
    return rows


def resend(path: Path, truth: pd.DataFrame, name_column: str, renumber: bool, before: Path, after: Path,
           remove: float = 0.01, change: float = 0.01, add: float = 0.02, seed: int = 7) -> Resend:
    """Write the before and after versions of the CSV list `path` (`truth`: its truth rows, in
    file order). Shares are of the list's rows; the three sets of rows are disjoint."""
    text = Path(path).read_bytes().decode("latin-1")  # byte for byte, whatever the encoding
    lines = text.splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    ending = header[len(header.rstrip("\r\n")) :] or "\n"
    rows = [r if r.endswith(("\r", "\n")) else r + ending for r in rows]
    if len(rows) != len(truth):
        raise ValueError(f"{path}: {len(rows)} lines but {len(truth)} truth rows; only one-line rows can be resent")
    delimiter = _delimiter(header)
    column = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter)).index(name_column)
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(rows))
    n_add, n_remove, n_change = (int(round(share * len(rows))) for share in (add, remove, change))
    added, removed = np.sort(picked[:n_add]), picked[n_add : n_add + n_remove]
    changed = set(picked[n_add + n_remove : n_add + n_remove + n_change].tolist())
    is_added, is_removed = np.isin(np.arange(len(rows)), added), np.isin(np.arange(len(rows)), removed)
    kept_before = np.flatnonzero(~is_added)
    kept_after = np.flatnonzero(~is_added & ~is_removed)
    Path(before).write_bytes((header + "".join(rows[i] for i in kept_before)).encode("latin-1"))
    body = [_changed_line(rows[i], delimiter, column) if i in changed else rows[i] for i in kept_after]
    Path(after).write_bytes((header + "".join(body) + "".join(rows[i] for i in added)).encode("latin-1"))
    truth = truth.reset_index(drop=True)
    return Resend(
        _numbered(truth.iloc[kept_before], renumber),
        _numbered(pd.concat([truth.iloc[kept_after], truth.iloc[added]]), renumber),
        n_remove, n_change, n_add,
    )
