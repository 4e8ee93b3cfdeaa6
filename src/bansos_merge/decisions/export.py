"""`bansos-merge decisions export`: the decisions as Parquet or CSV, the format `evaluate --labels` reads."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..publish.formula import formula_safe
from .constraints import decision_frame
from .store import DECISION_COLUMNS, Store, store_path

EXPORT_FORMATS = ("parquet", "csv")


def export_decisions(
    state_dir: Path, to: Path, fmt: str | None = None, user: str | None = None, history: bool = False
) -> int:
    """Write the current decisions (or, with `history`, the whole log with its ids) to `to`
    as Parquet or CSV (format from `fmt`, else from the suffix). Columns start with left,
    right, decision, as `bansos-merge evaluate --labels` reads them. Audited. Returns rows."""
    to = Path(to)
    fmt = (fmt or ("csv" if to.suffix.lower() == ".csv" else "parquet")).lower()
    if fmt not in EXPORT_FORMATS:
        raise UserError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if not store_path(state_dir).exists():
        raise UserError(f"{store_path(state_dir)}: no review database (no decision has been made yet)")
    store = Store(state_dir, create=False)
    if history:
        frame = decision_frame(store.all_decisions(), ["id", *DECISION_COLUMNS])
    else:
        frame = decision_frame(store.current_decisions(), DECISION_COLUMNS)
    if not to.parent.is_dir():
        raise UserError(f"{to.parent}: no such directory")
    tmp = to.with_name(f".{to.name}.tmp")
    try:
        if fmt == "csv":
            # An analyst's comment (or a record id) that a spreadsheet would evaluate stays text.
            out = frame.assign(decided_at=frame["decided_at"].map(lambda v: v.isoformat() if pd.notna(v) else ""))
            out = out.apply(lambda column: formula_safe(column) if column.dtype == object else column)
            out.to_csv(tmp, index=False, encoding="utf-8")
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, to)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {to}: {e.strerror}") from None
    store.audit(user, "export", str(to.name), {"format": fmt, "rows": int(len(frame)), "history": history})
    return int(len(frame))
