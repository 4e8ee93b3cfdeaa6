"""pyarrow's CSV parser as the readers use it: every cell text, rows that do not split into
the header's columns kept with their number and text, and an empty trailing column tolerated.

Rows are numbered by the parser's own count ("units"); csv_layout puts units onto the
file's physical lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

BLOCK_BYTES = 1 << 24  # bytes parsed into one record batch
Bad = tuple[int, str, int]  # (1-based unit number, the row's text, how many fields it split into)


def names(width: int) -> list[str]:
    return [f"c{i}" for i in range(width)]


def options(delimiter: str, width: int, quoting: bool, on_bad) -> dict:
    return dict(
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"' if quoting else False,
            newlines_in_values=quoting,
            ignore_empty_lines=False,
            invalid_row_handler=on_bad,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names(width)}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def widths(headers: list[str]) -> set[int]:
    """Field counts a row may have: the header's; one more when the last is empty (a trailing
    delimiter); one fewer when the header itself ends with an empty cell."""
    n = len(headers)
    return {n, n + 1} | ({n - 1} if n > 1 and not headers[-1].strip() else set())


def primary_width(rows: list[list[str]], headers: list[str]) -> int:
    """The field count most data rows of the head have (a trailing delimiter on every row is
    common); the parser reads that, and repairs rows of the other accepted counts."""
    ok = widths(headers)
    counts = {w: 0 for w in ok}
    for r in rows:
        if len(r) in ok and any(c.strip() for c in r) and (len(r) <= len(headers) or not r[-1].strip()):
            counts[len(r)] += 1
    best = max(counts.values())
    return len(headers) if counts[len(headers)] == best else max(counts, key=lambda w: counts[w])


@dataclass
class Parsed:
    table: pa.Table  # one text column per header position, c0 ... c{n-1}
    units: np.ndarray  # the 1-based unit number of each table row
    bad: list[Bad]


def read_all(source, delimiter: str, width: int, quoting: bool = True, block_bytes: int = BLOCK_BYTES) -> Parsed:
    """Everything from here in `source` (bytes or a pyarrow file at its position), `width` columns."""
    bad: list[Bad] = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    if isinstance(source, (bytes, bytearray)):
        source = pa.BufferReader(pa.py_buffer(source))
    at = source.tell()

    def read(block: int) -> pa.Table:
        # row numbers of bad rows are only known single-threaded
        read_options = pacsv.ReadOptions(use_threads=False, column_names=names(width), block_size=block)
        return pacsv.read_csv(source, read_options=read_options, **options(delimiter, width, quoting, on_bad))

    if at >= source.size():  # a header and nothing below it: zero rows, not an error
        table = pa.table({c: pa.array([], pa.string()) for c in names(width)})
    else:
        try:
            table = read(block_bytes)
        except pa.ArrowInvalid as e:
            if "straddl" not in str(e):
                raise
            # A quoted value longer than a block (a quote never closed, early in a big file): one block.
            bad.clear()
            source.seek(at)
            table = read(min(max(source.size() - at + 1, block_bytes), 2**31 - 1))
    numbers = np.array([b[0] for b in bad], dtype=np.int64)
    units = np.setdiff1d(np.arange(1, table.num_rows + len(bad) + 1), numbers, assume_unique=True)
    return Parsed(table, units, bad)


def joined(table: pa.Table, delimiter: str) -> pa.Array:
    """Each row's cells joined by the delimiter: the text a reject shows for a row already split."""
    if table.num_columns == 1:
        return table.column(0).combine_chunks()
    return pc.binary_join_element_wise(*[table.column(i) for i in range(table.num_columns)], delimiter).combine_chunks()


def conform(table: pa.Table, n: int) -> tuple[pa.Table, np.ndarray]:
    """`table` cut or padded to n columns, and which rows fit: a column past the header's must
    be empty in a row that is kept."""
    width = table.num_columns
    if width < n:
        empty = pa.array([""] * table.num_rows, pa.string())
        return table.append_column(f"c{n - 1}", empty) if width == n - 1 else table, np.ones(table.num_rows, bool)
    fits = np.ones(table.num_rows, dtype=bool)
    for i in range(n, width):
        fits &= pc.equal(pc.utf8_length(table.column(i)), 0).to_numpy(zero_copy_only=False)
    return table.select(list(range(n))), fits


def parse(data: bytes, delimiter: str, headers: list[str], width: int, quoting: bool = True, block_bytes: int = BLOCK_BYTES) -> Parsed:
    """All rows of `data` split into the header's columns; a row with another accepted field
    count (see `widths`) is read again at that count (if its quotes pair up, so that it stays one row)."""
    n = len(headers)
    first = read_all(data, delimiter, width, quoting, block_bytes)
    parts = [_fit(first, n, delimiter, None)]
    bad = [b for b in first.bad if b[2] not in widths(headers) or b[1].count('"') % 2]
    for w in sorted(widths(headers) - {width}):
        redo = [b for b in first.bad if b[2] == w and not b[1].count('"') % 2]
        if not redo:
            continue
        again = read_all("\n".join(t for _, t, _ in redo).encode("utf-8"), delimiter, w, quoting, block_bytes)
        if again.table.num_rows + len(again.bad) != len(redo):  # the texts did not stay one row each
            bad += redo
            continue
        unit = np.array([b[0] for b in redo], dtype=np.int64)  # local unit k is the file's unit[k - 1]
        fitted = _fit(again, n, delimiter, [t for _, t, _ in redo])
        parts.append(Parsed(fitted.table, unit[fitted.units - 1], []))
        bad += [(int(unit[u - 1]), t, k) for u, t, k in fitted.bad]
        bad += [(int(unit[u - 1]), redo[u - 1][1], k) for u, _, k in again.bad]
    tables = [p.table for p in parts]
    units = np.concatenate([p.units for p in parts])
    order = np.argsort(units, kind="stable")
    bad += parts[0].bad
    return Parsed(pa.concat_tables(tables).take(order) if len(parts) > 1 else tables[0], units[order], sorted(bad))


def _fit(p: Parsed, n: int, delimiter: str, texts: list[str] | None) -> Parsed:
    """`p` conformed to n columns; rows whose extra columns hold something become bad rows."""
    width = p.table.num_columns
    table, fits = conform(p.table, n)
    if fits.all():
        return Parsed(table, p.units, [])
    misfit = np.flatnonzero(~fits)
    shown = joined(p.table.take(misfit), delimiter).to_pylist() if texts is None else [texts[p.units[i] - 1] for i in misfit]
    bad = [(int(p.units[i]), shown[k], width) for k, i in enumerate(misfit)]
    return Parsed(table.filter(pa.array(fits)), p.units[fits], bad)
