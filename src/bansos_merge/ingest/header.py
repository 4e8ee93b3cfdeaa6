"""Find the header row: agencies put title blocks above it, so the row that carries the
configured column names is the header, wherever it is in the first rows."""

from __future__ import annotations

import difflib
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
    row = rows[best] if best is not None and best < len(rows) else []
    present = [clean_header(v) for v in row if clean_header(v)]
    missing = [w for w in wanted if w not in present]
    hints = []
    for m in missing:
        close = difflib.get_close_matches(m, present, n=1, cutoff=0.6)
        # 'NAMA' mapped, 'NAMA LENGKAP' in the file: too different for difflib, still the likely one.
        close = close or [p for p in present if m in p.split()][:1]
        hints.append(f"'{m}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    where = f"row {best + 1}" if best is not None and best_hits > 0 else f"the first {SCAN_ROWS} rows"
    raise InputError(
        f"mapped column(s) {', '.join(hints)} not found in the header ({where}); "
        f"the file has: {', '.join(present[:40]) or 'no header cells'}",
        source=src.name,
        file=file_label,
        field=", ".join(missing),
    )


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
