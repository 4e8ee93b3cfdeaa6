"""Find the header row: agencies put title blocks above it, so the row that carries the
configured column names is the header, wherever it is in the first rows."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from ..config import SourceConfig
from ..errors import InputError
from .table import clean_header

SCAN_ROWS = 30


def wanted_headers(src: SourceConfig) -> list[str]:
    """The headers the config maps, id column included, each once."""
    names = list(src.columns.values()) + ([src.id_column] if src.id_column else [])
    return list(dict.fromkeys(clean_header(n) for n in names))


def scan_rows(src: SourceConfig) -> int:
    """Rows to read for the header: the first SCAN_ROWS, or down to a configured header_row."""
    return max(SCAN_ROWS, src.header_row or 0)


def header_hits(rows: Sequence[Sequence[object]], src: SourceConfig) -> int:
    """How many mapped headers the best of the scanned rows carries."""
    wanted = wanted_headers(src)
    return max((sum(w in {clean_header(v) for v in row} for w in wanted) for row in rows[: scan_rows(src)]), default=0)


def find_header(
    rows: Sequence[Sequence[object]], src: SourceConfig, file_label: str, *, required: bool = True
) -> int | None:
    """0-based index of the header row in `rows` (the first SCAN_ROWS rows of a table).

    Raises InputError naming the missing columns when no row carries them all (or, with
    `required=False`, returns None so that a sheet without the header can be skipped).
    """
    wanted = wanted_headers(src)
    if src.header_row is not None:
        candidates = [src.header_row - 1]
    else:
        candidates = list(range(min(len(rows), SCAN_ROWS)))
    best, best_hits = None, -1
    for i in candidates:
        if i >= len(rows):
            continue
        present = {clean_header(v) for v in rows[i]}
        hits = sum(w in present for w in wanted)
        if hits > best_hits:
            best, best_hits = i, hits
    if best is not None and best_hits == len(wanted):
        _check_unique(rows[best], wanted, src, file_label, best)
        return best
    if not required and best_hits <= 0:
        return None
    if best_hits <= 0:
        best = _near_header(rows, candidates, wanted)
    if best is None:
        # No row carries any mapped column: whatever the rows hold may be data (a file without a
        # header, a header_row that points at a data row): never shown.
        configured = src.header_row is not None
        raise InputError(
            f"no mapped column ({', '.join(repr(w) for w in wanted)}) is in "
            + ("this row; check `header_row`" if configured else f"the first {SCAN_ROWS} rows; the file may have no header row"),
            source=src.name,
            file=file_label,
            row=src.header_row,
            field=", ".join(wanted),
        )
    # The row carries mapped columns: a header. A cell of it that holds digits is not shown
    # (a header row a data row was pasted into).
    present = [clean_header(v) for v in rows[best] if clean_header(v)]
    missing = [w for w in wanted if w not in present]
    present = ["<digits>" if re.search(r"\d{4}", p) else p for p in present]
    hints = []
    for m in missing:
        # 'NAMA' mapped, 'NAMA LENGKAP' in the file: too different for difflib, still the likely one.
        close = difflib.get_close_matches(m, present, n=1, cutoff=0.6) or [p for p in present if m in p.split()][:1]
        hints.append(f"'{m}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    raise InputError(
        f"mapped column(s) {', '.join(hints)} not found in the header (row {best + 1}); "
        f"the file has: {', '.join(present[:40])}",
        source=src.name,
        file=file_label,
        field=", ".join(missing),
    )


def _similar(cell: str, wanted: str) -> bool:
    return bool(difflib.get_close_matches(wanted, [cell], n=1, cutoff=0.6)) or wanted in cell.split()


def _near_header(rows: Sequence[Sequence[object]], candidates: list[int], wanted: list[str]) -> int | None:
    """The row where at least half the mapped columns (and two, if two are mapped) have a close
    match (a header with other spellings), else None: a row that is not a header may be data,
    and is never shown."""
    best, best_near = None, min(len(wanted), max(2, (len(wanted) + 1) // 2)) - 1
    for i in candidates:
        if i < len(rows):
            cells = [clean_header(v) for v in rows[i] if clean_header(v) and not re.search(r"\d{4}", clean_header(v))]
            near = sum(any(_similar(c, w) for c in cells) for w in wanted)
            if near > best_near:
                best, best_near = i, near
    return best


def _check_unique(row: Sequence[object], wanted: list[str], src: SourceConfig, file_label: str, index: int) -> None:
    cleaned = [clean_header(v) for v in row]
    for w in wanted:
        if cleaned.count(w) > 1:
            raise InputError(
                f"column '{w}' appears {cleaned.count(w)} times in the header; rename one so the mapping is unambiguous",
                source=src.name,
                file=file_label,
                row=index + 1,
                field=w,
            )
