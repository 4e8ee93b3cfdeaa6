"""The link frame as a table: one row per record, its text columns as text.

A LinkFrame's text columns are codes into one set of distinct values for the whole run, which
only one machine can hold. To move records' link features between Dask workers (shuffled into
blocking buckets, link/sharded.py) they travel as rows of values; a worker makes a LinkFrame of
the rows it holds with codes of its own. Comparisons and blocking only ever ask whether two
codes are equal and what their values are, so local codes give what the run's codes give.
Columns that need every record (`nik_registered`, the term frequencies) travel computed.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from ..textcol import TEXT
from .features import LinkFrame, Strings, days_to_ymd, digit_matrix, strings

ROW = "_row"  # the record's position in the run: what a pair names
# Term frequency of a record's value, per comparison that is adjusted by it (model.link_term_frequencies).
TF = {"name": "tf_name", "birth_date": "tf_birth_date", "mother_name": "tf_mother_name"}
DERIVED = {"nik_digits": ("nik", digit_matrix), "nik_ymd": ("nik_date", days_to_ymd), "birth_ymd": ("birth_date", days_to_ymd)}
# Text columns sharing one code space (a name and its alias are compared with each other).
SHARED = (("name", "alias"),)


def _text_fields() -> list[str]:
    return [f.name for f in fields(LinkFrame) if f.type in ("Strings", Strings)]


def to_table(f: LinkFrame, tf: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per record of `f` (ROW: its position), with `tf`'s term frequencies if given."""
    out: dict[str, object] = {ROW: np.arange(f.n, dtype=np.int64)}
    text = _text_fields()
    for fld in fields(LinkFrame):
        if fld.name == "n" or fld.name in DERIVED:
            continue
        column = getattr(f, fld.name)
        if fld.name in text:
            values = pd.Series(column.values, dtype=object)
            out[fld.name] = pd.Series(values.reindex(column.codes).to_numpy(), dtype=TEXT)  # code -1: null
        else:
            out[fld.name] = column
    for comparison, name in TF.items():
        if tf is not None:
            out[name] = tf[comparison]
    return pd.DataFrame(out)


def from_table(table: pd.DataFrame, text_needed: set[str] | None = None) -> LinkFrame:
    """The LinkFrame of the table's rows, in their order, its text coded locally; only the
    text columns in `text_needed` (default: all), the others left without values (coding text
    is most of the work)."""
    columns: dict[str, object] = {}
    text = _text_fields()
    grouped = {name: group for group in SHARED for name in group}
    for name in text:
        if text_needed is not None and name not in text_needed:
            columns[name] = Strings(np.full(len(table), -1, dtype=np.int64), np.empty(0, dtype=object))
        elif name not in columns:
            group = grouped.get(name, (name,))
            for member, coded in zip(group, strings(*(table[m] for m in group))):
                columns[member] = coded
    for fld in fields(LinkFrame):
        if fld.name in DERIVED:
            source, derive = DERIVED[fld.name]
            columns[fld.name] = derive(table[source].to_numpy(dtype=np.int64))
        elif fld.name not in text and fld.name != "n":
            columns[fld.name] = table[fld.name].to_numpy()
    return LinkFrame(n=len(table), **columns)
