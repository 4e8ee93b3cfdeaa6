"""Lay the parsed rows of a CSV file onto its physical lines: every line in exactly one row,
and stray quotes found.

A row spans one line plus the line breaks inside its quoted values. A quoted value that
spans lines is legitimate (an address typed with Alt+Enter in Excel) unless two of the lines
it spans read, on their own, as complete rows (one, when the spanning row does not split
into the header's columns anyway): rows do not sit inside a value, so such a stretch was made
by a quote typed into a name (`"JOHN` on one row, `DOE"` five rows later, or a quote never
closed). Its lines are read again one by one, the odd quote kept as a character, each with its
own row number. This runs only on files whose rows span lines or do not split; a clean file
never gets here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .csv_parse import Bad, Parsed, parse
from .encoding import break_ends, data_lines


@dataclass
class Layout:
    """The file's rows below the header, numbered exactly; `lines_in_values` counts the line
    breaks inside legitimate multi-line values, so rows + lines_in_values = physical lines."""

    table: pa.Table
    row_number: np.ndarray
    bad: list[Bad]
    lines_in_values: int
    stray_rows: list[int]
    first_line: np.ndarray  # per parser unit: its first physical line (0-based)
    first_number: np.ndarray  # per parser unit: its (first) row number
    stray: np.ndarray  # per parser unit: read line by line

    def row_of_line(self, lines: np.ndarray) -> np.ndarray:
        """Row number of each 0-based physical line below the header."""
        u = np.clip(np.searchsorted(self.first_line, lines, side="right") - 1, 0, max(len(self.first_line) - 1, 0))
        return self.first_number[u] + np.where(self.stray[u], lines - self.first_line[u], 0)


def line_breaks_in(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per value, the line breaks inside it (CR LF, CR or LF)."""
    counts = [pc.count_substring(values, s) for s in ("\n", "\r", "\r\n")]
    return (pc.subtract(pc.add(counts[0], counts[1]), counts[2])).to_numpy(zero_copy_only=False).astype(np.int64)


def _spans(parsed: Parsed) -> np.ndarray:
    """Physical lines each parser unit covers: 1 + the line breaks inside its values."""
    span = np.ones(len(parsed.units) + len(parsed.bad), dtype=np.int64)
    inside = np.zeros(parsed.table.num_rows, dtype=np.int64)
    for column in parsed.table.columns:
        inside += line_breaks_in(column)
    span[parsed.units - 1] += inside
    for unit, text, _ in parsed.bad:
        span[unit - 1] += text.count("\n") + text.count("\r") - text.count("\r\n")
    return span


def _line_bounds(arr: np.ndarray, n_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of each physical line's content (its line break excluded)."""
    last = break_ends(arr)
    crlf = (arr[last] == 10) & (last > 0) & (arr[np.maximum(last - 1, 0)] == 13)
    start = np.concatenate([[0], last + 1])[:n_lines]
    end = np.concatenate([last - crlf, [len(arr)]])[:n_lines]
    return start, end


def _lines_text(data: bytes, start: np.ndarray, end: np.ndarray) -> bytes:
    """The lines, each ended by LF (an empty last line stays a line)."""
    return b"".join(data[s:e] + b"\n" for s, e in zip(start.tolist(), end.tolist()))


def _quotes_per_line(text: bytes, lines: int) -> np.ndarray:
    """Quote characters on each LF-ended line of `text` (quotes are few: counted where they are)."""
    arr = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    return np.bincount(np.searchsorted(ends, np.flatnonzero(arr == ord('"'))), minlength=lines)[:lines]


def _stray_units(data: bytes, first: np.ndarray, span: np.ndarray, bad_unit: np.ndarray, delimiter: str, headers: list[str]):
    """For the suspect units (first line, span, whether the parser rejected it): which are
    stray quotes, and their lines read one by one as (tables, the 0-based line of each of
    their rows, bad rows as (line, text, fields)).

    A unit is read line by line when two of its lines read as complete rows on their own (one,
    if the unit as one row does not split right anyway): an address typed over lines has at
    most one line that looks like a whole row, a stretch a stray quote made has them all."""
    owner = np.repeat(np.arange(len(first)), span)
    lines = np.repeat(first, span) + _within(span)
    start, end = _line_bounds(np.frombuffer(data, dtype=np.uint8), data_lines(data))
    start, end = start[lines], end[lines]
    text = _lines_text(data, start, end)
    # A line without quotes, or with an odd number (the stray), is read with quoting off ...
    quotes = _quotes_per_line(text, len(lines))
    plain = (quotes == 0) | (quotes % 2 == 1)
    off = parse(text, delimiter, headers, len(headers), quoting=False)  # one row per line
    complete = np.zeros(len(lines), dtype=bool)
    complete[off.units - 1] = plain[off.units - 1]
    complete &= end > start  # an empty line is no evidence of a row
    # ... a line whose quotes pair up is read as CSV on its own (if it stays one row).
    paired = np.flatnonzero(~plain)
    on = parse(_lines_text(data, start[paired], end[paired]), delimiter, headers, len(headers)) if paired.size else None
    if on is not None and len(on.units) + len(on.bad) == paired.size:
        complete[paired[on.units - 1]] = True
    elif on is not None:  # the paired lines did not stay one row each: read them with quoting off too
        plain[paired], on = True, None
        complete[off.units - 1] = end[off.units - 1] > start[off.units - 1]
    stray = np.add.reduceat(complete.astype(np.int64), np.cumsum(span) - span) >= np.where(bad_unit, 1, 2)
    tables, at, bad = [], [], []
    for got, line_of, mine in ((off, np.arange(len(lines)), stray[owner] & plain), (on, paired, stray[owner])):
        if got is None:
            continue
        rows = line_of[got.units - 1]
        tables.append(got.table.filter(pa.array(mine[rows])))
        at.append(lines[rows][mine[rows]])
        bad += [(int(lines[line_of[u - 1]]), t, k) for u, t, k in got.bad if mine[line_of[u - 1]]]
    return stray, tables, at, bad


def lay_out(data: bytes, parsed: Parsed, delimiter: str, headers: list[str]) -> Layout:
    """Number the parser's rows by the file's lines; read stray-quote stretches line by line."""
    span = _spans(parsed)
    lines = data_lines(data)
    if len(span) and int(span.sum()) == lines + 1 and data[-1:] in (b"\n", b"\r"):
        span[-1] -= 1  # a quote never closed: its value runs to the end and keeps the file's last line break
    first_line = np.cumsum(span) - span
    stray = np.zeros(len(span), dtype=bool)
    bad_unit = np.zeros(len(span), dtype=bool)
    bad_unit[[u - 1 for u, _, _ in parsed.bad]] = True
    # Rows spanning lines, and rows that do not split (a quote never closed on the last line)
    suspect = np.flatnonzero((span > 1) | bad_unit)
    rows, at, line_bad = [], [], []
    # Lines can only be told apart when the rows cover them exactly; else the check says so.
    if suspect.size and int(span.sum()) == lines:
        found = _stray_units(data, first_line[suspect], span[suspect], bad_unit[suspect], delimiter, headers)
        stray[suspect], rows, at, line_bad = found
    per_unit = np.where(stray, span, 1)
    first_number = np.cumsum(per_unit) - per_unit + 1
    layout = Layout(parsed.table, np.zeros(0, np.int64), [], int((span - 1)[~stray].sum()), [], first_line, first_number, stray)

    keep = ~stray[parsed.units - 1]
    tables = [parsed.table.filter(pa.array(keep))] + rows
    numbers = np.concatenate([first_number[parsed.units[keep] - 1]] + [layout.row_of_line(a) for a in at])
    bad = [(int(first_number[u - 1]), t, k) for u, t, k in parsed.bad if not stray[u - 1]]
    bad += [(int(layout.row_of_line(np.array([line]))[0]), t, k) for line, t, k in line_bad]
    order = np.argsort(numbers, kind="stable")
    layout.table = pa.concat_tables(tables).take(order) if len(tables) > 1 else tables[0]
    layout.row_number, layout.bad = numbers[order], sorted(bad)
    mine = np.flatnonzero(stray)
    layout.stray_rows = (np.repeat(first_number[mine], span[mine]) + _within(span[mine])).tolist()
    return layout


def _within(span: np.ndarray) -> np.ndarray:
    """0, 1, ..., span - 1 for each span, concatenated."""
    return np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
