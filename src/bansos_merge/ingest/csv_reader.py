"""CSV extracts: any of `, ; | TAB`, UTF-8 (BOM or not), cp1252/Latin-1 or UTF-16, title rows
above the header, quoted fields with delimiters and newlines inside, any line ending.

Every cell is read as text (a NIK must never pass through a float). pyarrow does the
parsing. A UTF-8 file is streamed a slice at a time; at the first row that does not split
into the header's columns, or spans lines, that file alone is read again whole and laid
onto its physical lines (csv_layout), so every row keeps its exact number and a stray
quote cannot merge rows. Beside the parser the file's physical lines are counted (check.py).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..config import SourceConfig
from ..errors import InputError
from .check import FileCheck
from .csv_layout import Layout, lay_out, line_breaks_in
from .csv_parse import BLOCK_BYTES, conform, joined, names, options, parse, primary_width
from .encoding import FALLBACK, HEAD_BYTES, UTF8, break_ends, choose_encoding, data_lines, decode, scan
from .header import find_header, scan_rows
from .table import BAD_ROW_COLUMNS, RawTable

DELIMITERS = (",", ";", "|", "\t")
MAX_FIELD_CHARS = 32_767  # the most a spreadsheet cell holds; no cell of a recipient list is longer


def _sniff(text: str, src: SourceConfig, path: Path) -> tuple[str, int, list[list[str]]]:
    """Choose the delimiter under which a row carries all mapped headers; return it, that
    row's index and the head's rows split by it.

    Delimiters are tried from the one that splits the first rows into the most fields; if
    none works, the error of that most plausible one is what the user sees.
    """
    head = text[:HEAD_BYTES]
    parsed = {}
    for d in (src.delimiter,) if src.delimiter else DELIMITERS:
        try:
            parsed[d] = list(csv.reader(io.StringIO(head, newline=""), delimiter=d))
        except csv.Error:  # e.g. a NUL in the head: the delimiter that cannot split it is not it
            continue
    if not parsed:
        raise InputError("cannot split the first rows into columns", source=src.name, file=str(path))
    order = sorted(parsed, key=lambda d: -max((len(r) for r in parsed[d][: scan_rows(src)]), default=0))
    errors = []
    for delim in order:
        try:
            return delim, find_header(parsed[delim][: scan_rows(src)], src, str(path)), parsed[delim]  # type: ignore[return-value]
        except InputError as e:
            errors.append(e)
    raise errors[0]


def check_csv_header(path: Path, src: SourceConfig) -> None:
    """Preflight: the mapped columns are in the header, read from the first 64 KiB only."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    encoding = choose_encoding(head, src, path)
    _sniff(decode(head, encoding, src, path, final=False).text, src, path)


def _data_start(text: str, delimiter: str, header_index: int) -> int:
    """Character offset just past the header record (title rows may hold quoted newlines)."""
    consumed = 0

    def lines():
        nonlocal consumed
        for line in io.StringIO(text[:HEAD_BYTES], newline=""):
            consumed += len(line)
            yield line

    for i, _ in enumerate(csv.reader(lines(), delimiter=delimiter)):
        if i == header_index:
            break
    return consumed


class _Body:
    """The file below its header: streamed from disk (UTF-8), or whole as UTF-8 bytes (other
    encodings, transcoded: regional offices' Windows exports, never the national registry)."""

    def __init__(self, path: Path, src: SourceConfig, check: FileCheck) -> None:
        with path.open("rb") as f:
            head_bytes = f.read(HEAD_BYTES)
        encoding = choose_encoding(head_bytes, src, path)
        self.facts = scan(path, encoding, src) if encoding in (UTF8, FALLBACK) else None
        self.stream: pa.NativeFile | None = None
        self.whole: bytes | None = None
        self.cp1252_at: np.ndarray = np.zeros(0, np.int64)  # file lines holding a byte read as cp1252
        if self.facts is not None and self.facts.utf8:
            self.head = decode(head_bytes, UTF8, src, path, final=False).text
            bom = 3 if head_bytes.startswith(codecs.BOM_UTF8) else 0
            check.encoding = "utf-8"
        else:
            raw = path.read_bytes()
            decoded = decode(raw, encoding, src, path)
            self.head, self.whole, bom = decoded.text[:HEAD_BYTES], decoded.text.encode("utf-8"), 0
            check.encoding = decoded.encoding
            if decoded.cp1252_at:
                raw = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
                self.cp1252_at = np.searchsorted(break_ends(np.frombuffer(raw, np.uint8)), np.array(decoded.cp1252_at))
        self.delimiter, self.header_index, rows = _sniff(self.head, src, path)
        self.headers = rows[self.header_index]
        self.width = primary_width(rows[self.header_index + 1 : scan_rows(src)], self.headers)
        # The data starts right after the header record; pyarrow's own skip_rows counts physical
        # lines, which is wrong when a title row holds a quoted newline.
        prefix = self.head[: _data_start(self.head, self.delimiter, self.header_index)]
        self.head_lines = data_lines(prefix.encode("utf-8"))
        self.start = bom + len(prefix.encode("utf-8"))
        self.lines_in_values = 0  # line breaks inside the values streamed so far
        if self.whole is None:
            self.stream = pa.OSFile(str(path))

    def lines_below_header(self) -> int:
        """The independent count: physical lines below the header, from the scan of the file's bytes."""
        if self.facts is not None and self.facts.utf8:
            return self.facts.line_breaks + self.facts.last_line_open - self.head_lines
        return data_lines(self.whole[self.start :])

    def data(self) -> bytes:
        if self.whole is not None:
            return self.whole[self.start :]
        self.stream.seek(self.start)
        return self.stream.read()


def read_csv(path: Path, src: SourceConfig, check: FileCheck | None = None) -> RawTable:
    """The whole file as one raw table."""
    return next(csv_slices(path, src, None, check=check))


def csv_slices(
    path: Path, src: SourceConfig, rows: int | None, block_bytes: int = BLOCK_BYTES, check: FileCheck | None = None
) -> Iterator[RawTable]:
    """The file's rows below its header as raw tables of at most `rows` rows each (None: one),
    read as a stream, so a large extract is never in memory whole.

    pyarrow's streaming reader cannot say where a row that does not split into the header's
    columns was, nor on which lines a row stood; at the first such row (or the first row that
    spans lines and holds a row's worth of delimiters: maybe a stray quote's stretch) the file
    is read again whole (only such a file pays that), the rows already given out are skipped,
    and the rest are numbered exactly. Bad rows travel with the slice they fall in (after the
    last good row: the last slice). Always yields at least one table. `block_bytes`: parsed at
    a time (a record batch). `check` receives the file's line count and what the reader noted.
    """
    check = check if check is not None else FileCheck("csv")
    body = _Body(path, src, check)
    check.data_lines = body.lines_below_header()
    nuls = body.facts.nuls if body.whole is None else b"\x00" in body.whole
    slicer = _Slicer(src, path, body.header_index + 1, body.headers, body.delimiter, nuls)
    try:
        layout = None
        if body.stream is not None:
            body.stream.seek(body.start)
            try:
                for batch in _stream(body, src, path, block_bytes):
                    slicer.add(batch)
                    while rows and slicer.pending >= rows:
                        yield slicer.take(rows, last=False)
                check.lines_in_values = body.lines_in_values
            except _Malformed:
                layout = _exact(body, src, path, block_bytes)
        else:
            layout = _exact(body, src, path, block_bytes)
        if layout is not None:
            check.lines_in_values, check.stray_quote_rows = layout.lines_in_values, layout.stray_rows
            below = body.cp1252_at[body.cp1252_at >= body.head_lines] - body.head_lines
            check.cp1252_rows = sorted(set(layout.row_of_line(below).tolist()))
            slicer.restart(layout)
            while rows and slicer.pending >= rows:
                yield slicer.take(rows, last=False)
        yield slicer.take(slicer.pending, last=True)
    finally:
        if body.stream is not None:
            body.stream.close()


def _exact(body: _Body, src: SourceConfig, path: Path, block_bytes: int) -> Layout:
    data = body.data()
    try:
        parsed = parse(data, body.delimiter, body.headers, body.width, block_bytes=block_bytes)
    except pa.ArrowInvalid as e:
        raise InputError(f"cannot parse as CSV ({_without_values(e)})", source=src.name, file=str(path)) from None
    return lay_out(data, parsed, body.delimiter, body.headers)


class _Malformed(Exception):
    """While streaming: a row did not split into the header's columns, or may be a stray quote's."""


def _has_line_break(column: pa.Array) -> bool:
    """Whether a value of the column holds CR or LF (its data buffer, scanned whole)."""
    data = column.buffers()[2]
    if data is None:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    return bool((raw == 10).any() or (raw == 13).any())


def _lines_in_values(batch: pa.RecordBatch, delimiter: str, n: int) -> int:
    """Line breaks inside the batch's values (rows spanning lines: an address typed over lines).

    A spanning row whose values hold about a row's worth of delimiters may be a stray quote's
    stretch (two lines that read as rows need n - 1 of them inside values, n - 2 with a trailing
    delimiter): raises _Malformed, and the exact read decides."""
    spans = [c for c in batch.columns if _has_line_break(c)]
    if not spans:
        return 0
    breaks = sum(line_breaks_in(c) for c in spans)
    spanning = pa.array(np.flatnonzero(breaks))
    delimiters = sum(pc.count_substring(c.take(spanning), delimiter).to_numpy(zero_copy_only=False) for c in batch.columns)
    if (delimiters >= n - 2).any():
        raise _Malformed
    return int(breaks.sum())


def _stream(body: _Body, src: SourceConfig, path: Path, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """Record batches of the file from its data start; raises _Malformed at a row the streaming
    reader cannot number (only a file with a quote can have a value that spans lines)."""
    if body.stream.tell() >= body.stream.size():
        return
    bad = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append(row.number)
        return "error"

    quoted = body.facts.quotes
    read = pacsv.ReadOptions(column_names=names(body.width), block_size=block_bytes)
    try:
        for batch in pacsv.open_csv(body.stream, read_options=read, **options(body.delimiter, body.width, True, on_bad)):
            if quoted:
                body.lines_in_values += _lines_in_values(batch, body.delimiter, len(body.headers))
            yield batch
    except pa.ArrowInvalid as e:
        # the handler stopped the stream at a bad row, or a quoted value is longer than a block
        if bad or (quoted and "straddl" in str(e)):
            raise _Malformed from None
        raise InputError(f"cannot parse as CSV ({_without_values(e)})", source=src.name, file=str(path)) from None


def _without_values(e: Exception) -> str:
    """pyarrow's message without the row text it may quote (personal data)."""
    return "pyarrow: " + str(e).splitlines()[0].split(":")[0]


class _Slicer:
    """Cuts record batches into raw tables of consecutive rows, numbering them: a row's number
    counts every row below the header, bad ones included."""

    def __init__(self, src: SourceConfig, path: Path, header_row: int, headers: list[str], delimiter: str, nuls: bool) -> None:
        self.src, self.path, self.header_row, self.headers, self.delimiter = src, path, header_row, headers, delimiter
        self.nuls = nuls  # the file holds a NUL byte somewhere: look for it
        self.batches: list[pa.RecordBatch] = []
        self.pending = 0
        self.given = 0  # rows (of the table) given out so far
        self.last_number = 0  # the highest row number given out, bad rows included
        self.numbers: np.ndarray | None = None  # the pending rows' numbers; None: given + 1, given + 2, ...
        self.bad: list[tuple] = []  # (row number, text, reason code, reason, field)

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.pending += batch.num_rows

    def restart(self, layout: Layout) -> None:
        """Carry on from an exact whole read: skip the rows given out (rows that each stood on
        one line and split right, so the whole read numbers them the same)."""
        later = layout.row_number > self.last_number
        rest = layout.table.filter(pa.array(later))
        self.batches, self.pending = rest.to_batches(), rest.num_rows
        self.numbers = layout.row_number[later]
        self.bad = [_field_count(number, text, k, len(self.headers)) for number, text, k in layout.bad if number > self.last_number]

    def take(self, n: int, last: bool) -> RawTable:
        if self.batches:
            table = pa.Table.from_batches(self.batches)
        else:
            table = pa.table({c: pa.array([], pa.string()) for c in names(len(self.headers))})
        mine, rest = table.slice(0, n), table.slice(n)
        self.batches, self.pending = rest.to_batches(), rest.num_rows
        if self.numbers is None:
            row_number = np.arange(self.given + 1, self.given + n + 1, dtype=np.int64)
        else:
            row_number, self.numbers = self.numbers[:n], self.numbers[n:]
        self.given += n
        if n:
            self.last_number = max(self.last_number, int(row_number[-1]))
        cut = len(self.bad) if last or not n else sum(1 for b in self.bad if b[0] < row_number[-1])
        bad, self.bad = self.bad[:cut], self.bad[cut:]
        mine, row_number, flagged = self._flag(mine, row_number)
        bad = sorted(bad + flagged)
        return RawTable(
            source=self.src.name,
            file=self.path,
            sheet=None,
            header_row=self.header_row,
            headers=self.headers,
            cells=pd.DataFrame({c: pd.arrays.ArrowExtensionArray(mine.column(c)) for c in names(len(self.headers))}),
            row_number=row_number,
            bad_rows=_bad_rows(bad),
        )

    def _flag(self, table: pa.Table, row_number: np.ndarray) -> tuple[pa.Table, np.ndarray, list[tuple]]:
        """Rows that cannot be kept although they split: an extra column that holds something, a
        NUL byte in a value, a value longer than a cell holds. Vectorised; returns the rest."""
        n, width, read = len(self.headers), table.num_columns, table
        table, fits = conform(table, n)
        reason = np.where(fits, "", "field_count").astype(object)
        field = np.full(len(reason), -1)
        for i in range(n):
            column = table.column(i)
            tests = [("nul_byte", lambda c: pc.match_substring(c, "\x00"))] if self.nuls else []
            if (pc.max(pc.binary_length(column)).as_py() or 0) > MAX_FIELD_CHARS:  # bytes >= characters
                tests.append(("field_too_long", lambda c: pc.greater(pc.utf8_length(c), MAX_FIELD_CHARS)))
            for code, test in tests:
                hit = test(column).to_numpy(zero_copy_only=False) & (reason == "")
                reason[hit], field[hit] = code, i
        flagged = np.flatnonzero(reason != "")
        if not flagged.size:
            return table, row_number, []
        texts = joined(read.take(flagged), self.delimiter).to_pylist()  # as read, an extra column included
        out = []
        for k, i in enumerate(flagged):
            if reason[i] == "field_count":
                out.append(_field_count(int(row_number[i]), texts[k], width, n))
            elif reason[i] == "nul_byte":
                out.append((int(row_number[i]), texts[k], "nul_byte", "a NUL byte (0x00) in the value: no text holds one", self.headers[field[i]]))
            else:
                length = len(table.column(int(field[i]))[int(i)].as_py())
                why = f"the value has {length:,} characters; a spreadsheet cell holds at most {MAX_FIELD_CHARS:,}"
                out.append((int(row_number[i]), texts[k], "field_too_long", why, self.headers[field[i]]))
        keep = reason == ""
        return table.filter(pa.array(keep)), row_number[keep], out


def _field_count(number: int, text: str, fields: int, n: int) -> tuple:
    return (number, text, "field_count", f"row splits into {fields} fields, the header has {n}", None)


def _bad_rows(bad: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(bad, columns=BAD_ROW_COLUMNS).astype({"row_number": np.int64})
