"""CSV extracts: any of `, ; | TAB`, UTF-8 (BOM or not) or cp1252/Latin-1, title rows above
the header, quoted fields with delimiters and newlines inside.

Every cell is read as text (a NIK must never pass through a float). pyarrow does the
parsing; it reports rows that do not split into the header's columns with their row
number, so they become rejects at their exact place instead of vanishing.
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
from .header import find_header, scan_rows
from .table import BAD_ROW_COLUMNS, RawTable

DELIMITERS = (",", ";", "|", "\t")
# No cell of a recipient list is this long; one that is swallowed rows after an unclosed quote.
MAX_FIELD_CHARS = 1 << 15
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


def _decode(data: bytes, src: SourceConfig, path: Path, final: bool = True) -> tuple[str, str]:
    """Decode the whole file (or, with `final=False`, its head: a character cut at the end is
    no error); return (text, encoding used)."""
    if src.encoding:
        try:
            name = codecs.lookup(src.encoding).name
        except LookupError:
            raise InputError(f"unknown encoding {src.encoding!r}", source=src.name, file=str(path)) from None
        # `encoding: utf-8` on a file with a BOM: the BOM is not part of the first header.
        utf8 = name in ("utf-8", "utf-8-sig")
        decoder = codecs.getincrementaldecoder("utf-8-sig" if utf8 else name)()
        try:
            return decoder.decode(data, final=final), "utf-8" if utf8 else name
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise InputError(
                f"line {line}: byte 0x{data[e.start]:02x} is not valid {src.encoding}; set `encoding` to the "
                "file's real encoding (often cp1252 for Windows Excel exports) or leave it unset to detect it",
                source=src.name,
                file=str(path),
            ) from None
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=final), "utf-8"
    except UnicodeDecodeError:
        # Windows exports: cp1252 (a superset of Latin-1 for printable text); Latin-1 never fails.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def _refuse_binary(data: bytes, src: SourceConfig, path: Path) -> None:
    if not data.strip():
        raise InputError("the file is empty", source=src.name, file=str(path))
    if data.startswith(_ZIP) or data.startswith(_OLE):
        raise InputError(
            "this is an Excel workbook with a .csv name; rename it to .xlsx/.xls or export it as CSV",
            source=src.name,
            file=str(path),
        )
    if b"\x00" in data[:65536]:
        raise InputError(
            "this is a binary file, not text CSV (UTF-16 exports also look like this: save as UTF-8 CSV)",
            source=src.name,
            file=str(path),
        )


def _sniff(text: str, src: SourceConfig, path: Path) -> tuple[str, int]:
    """Choose the delimiter under which a row carries all mapped headers; return it and that row's index.

    Delimiters are tried from the one that splits the first rows into the most fields; if
    none works, the error of that most plausible one is what the user sees.
    """
    head = text[: 1 << 16]
    parsed = {
        d: list(csv.reader(io.StringIO(head), delimiter=d))[: scan_rows(src)]
        for d in ((src.delimiter,) if src.delimiter else DELIMITERS)
    }
    order = sorted(parsed, key=lambda d: -max((len(r) for r in parsed[d]), default=0))
    errors = []
    for delim in order:
        try:
            return delim, find_header(parsed[delim], src, str(path))  # type: ignore[return-value]
        except InputError as e:
            errors.append(e)
    raise errors[0]


def check_csv_header(path: Path, src: SourceConfig) -> None:
    """Preflight: the mapped columns are in the header, read from the first 64 KiB only."""
    with path.open("rb") as f:
        head = f.read(1 << 16)
    _refuse_binary(head, src, path)
    _sniff(_decode(head, src, path, final=False)[0], src, path)


def _data_start(text: str, delimiter: str, header_index: int) -> int:
    """Character offset just past the header record (title rows may hold quoted newlines)."""
    consumed = 0

    def lines():
        nonlocal consumed
        for line in io.StringIO(text[: 1 << 16]):
            consumed += len(line)
            yield line

    for i, _ in enumerate(csv.reader(lines(), delimiter=delimiter)):
        if i == header_index:
            break
    return consumed


def _refuse_runaway_quote(table: pa.Table, row_number: np.ndarray, bad: list, src: SourceConfig, path: Path) -> None:
    """A quote that never closes swallows the rest of the file into one field: say so, at its
    row, instead of turning thousands of rows into one reject."""
    where = [n for n, text, _ in bad if len(text) > MAX_FIELD_CHARS]
    for column in table.columns:
        lengths = pc.utf8_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_FIELD_CHARS:
            where.append(int(row_number[pc.index(lengths, longest).as_py()]))
    if where:
        raise InputError(
            f"a field runs over {MAX_FIELD_CHARS:,} characters from here on: most likely a quote (\") that "
            "is never closed; fix or remove that quote",
            source=src.name,
            file=str(path),
            row=min(where),
        )


_CHUNK = 1 << 24  # bytes read at a time when checking a file's encoding
BLOCK_BYTES = 1 << 24  # bytes parsed into one record batch


def _is_utf8(path: Path, src: SourceConfig) -> bool:
    """Whether the whole file is UTF-8, checked a chunk at a time and nothing kept.

    Chunks are cut after a newline, which is never inside a multi-byte character, so an error's
    line and byte are exact. With `encoding: utf-8` configured, invalid bytes are an error."""
    lines, rest = 0, b""
    with path.open("rb") as f:
        first = True
        while True:
            chunk = f.read(_CHUNK)
            block = rest + chunk
            if first and block.startswith(codecs.BOM_UTF8):
                block = block[3:]
            first = False
            cut = len(block) if not chunk else block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as e:
                if src.encoding:
                    line = lines + block.count(b"\n", 0, e.start) + 1
                    raise InputError(
                        f"line {line}: byte 0x{block[e.start]:02x} is not valid {src.encoding}; set `encoding` to the "
                        "file's real encoding (often cp1252 for Windows Excel exports) or leave it unset to detect it",
                        source=src.name,
                        file=str(path),
                    ) from None
                return False
            lines += block.count(b"\n")
            if not chunk:
                return True


def _body(path: Path, src: SourceConfig) -> tuple[str, pa.NativeFile]:
    """The file's head (decoded, for finding the header) and a stream of its bytes as UTF-8.

    A UTF-8 file is streamed from disk; any other encoding is transcoded whole first (such
    files are Windows exports of a regional office, never the national registry)."""
    with path.open("rb") as f:
        head_bytes = f.read(1 << 16)
    _refuse_binary(head_bytes, src, path)
    if src.encoding:
        try:
            utf8 = codecs.lookup(src.encoding).name in ("utf-8", "utf-8-sig")
        except LookupError:
            raise InputError(f"unknown encoding {src.encoding!r}", source=src.name, file=str(path)) from None
    else:
        utf8 = True
    if utf8 and _is_utf8(path, src):
        head = codecs.getincrementaldecoder("utf-8-sig")().decode(head_bytes, final=False)
        stream = pa.OSFile(str(path))
        stream.seek(3 if head_bytes.startswith(codecs.BOM_UTF8) else 0)
        return head, stream
    text, _ = _decode(path.read_bytes(), src, path)
    return text[: 1 << 16], pa.BufferReader(pa.py_buffer(text.encode("utf-8")))


def read_csv(path: Path, src: SourceConfig) -> RawTable:
    """The whole file as one raw table."""
    return next(csv_slices(path, src, None))


def csv_slices(path: Path, src: SourceConfig, rows: int | None, block_bytes: int = BLOCK_BYTES) -> Iterator[RawTable]:
    """The file's rows below its header as raw tables of at most `rows` rows each (None: one),
    read as a stream, so a large extract is never in memory whole.

    pyarrow's streaming reader cannot say where a row that does not split into the header's
    columns was; at the first such row the file is read again whole (only a malformed file
    pays that), the rows already given out are skipped, and the rest are numbered exactly.
    Bad rows travel with the slice they fall in (after the last good row: the last slice).
    Always yields at least one table. `block_bytes`: parsed at a time (a record batch).
    """
    head, stream = _body(path, src)
    delimiter, header_index = _sniff(head, src, path)
    headers = list(csv.reader(io.StringIO(head), delimiter=delimiter))[header_index]
    names = [f"c{i}" for i in range(len(headers))]
    # The data starts right after the header record; pyarrow's own skip_rows counts physical
    # lines, which is wrong when a title row holds a quoted newline.
    start = stream.tell() + len(head[: _data_start(head, delimiter, header_index)].encode("utf-8"))
    slicer = _Slicer(src, path, header_index + 1, headers, names)
    try:
        stream.seek(start)
        try:
            for batch in _read(stream, delimiter, names, src, path, block_bytes, streaming=True):
                slicer.add(batch)
                while rows and slicer.pending >= rows:
                    yield slicer.take(rows, last=False)
        except _Malformed:
            stream.seek(start)
            slicer.restart(_read(stream, delimiter, names, src, path, block_bytes, streaming=False))
            while rows and slicer.pending >= rows:
                yield slicer.take(rows, last=False)
        yield slicer.take(slicer.pending, last=True)
    finally:
        stream.close()


class _Malformed(Exception):
    """A row did not split into the header's columns while streaming."""


def _read(stream: pa.NativeFile, delimiter: str, names: list[str], src: SourceConfig, path: Path, block_bytes: int, streaming: bool):
    """Streaming: an iterator of record batches, raising _Malformed at a bad row. Otherwise:
    (table, row numbers, bad rows as (number, text, fields)) of everything from here on."""
    bad: list[tuple[int, str, int]] = []

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "error" if streaming else "skip"

    options = dict(
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_bad_row
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    empty = stream.tell() >= stream.size()  # a header and nothing below it: zero rows, not an error
    if streaming:
        return _stream(stream, names, options, src, path, empty, bad, block_bytes)
    try:
        table = (
            pa.table({n: pa.array([], pa.string()) for n in names})
            if empty
            # row numbers of bad rows are only known single-threaded
            else pacsv.read_csv(stream, read_options=pacsv.ReadOptions(use_threads=False, column_names=names, block_size=block_bytes), **options)
        )
    except pa.ArrowInvalid as e:
        raise InputError(f"cannot parse as CSV: {e}", source=src.name, file=str(path)) from None
    numbers = np.array([n for n, _, _ in bad], dtype=np.int64)
    row_number = np.setdiff1d(np.arange(1, table.num_rows + len(bad) + 1), numbers, assume_unique=True)
    return table, row_number, bad


def _stream(stream, names, options, src, path, empty, bad: list, block_bytes: int) -> Iterator[pa.RecordBatch]:
    if empty:
        return
    try:
        yield from pacsv.open_csv(stream, read_options=pacsv.ReadOptions(column_names=names, block_size=block_bytes), **options)
    except pa.ArrowInvalid as e:
        if bad:  # the handler stopped the stream at a bad row
            raise _Malformed from None
        raise InputError(f"cannot parse as CSV: {e}", source=src.name, file=str(path)) from None


class _Slicer:
    """Cuts record batches into raw tables of consecutive rows, numbering them: a row's number
    counts every row below the header, bad ones included."""

    def __init__(self, src: SourceConfig, path: Path, header_row: int, headers: list[str], names: list[str]) -> None:
        self.src, self.path, self.header_row, self.headers, self.names = src, path, header_row, headers, names
        self.schema = pa.schema([(c, pa.string()) for c in names])
        self.batches: list[pa.RecordBatch] = []
        self.pending = 0
        self.given = 0  # rows given out so far
        self.numbers: np.ndarray | None = None  # the pending rows' numbers; None: given + 1, given + 2, ...
        self.bad: list[tuple[int, str, int]] = []

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.pending += batch.num_rows

    def restart(self, whole: tuple[pa.Table, np.ndarray, list]) -> None:
        """Carry on from a whole read: skip the rows given out (no bad row came before them)."""
        table, row_number, bad = whole
        rest = table.slice(self.given)
        self.batches, self.pending = rest.to_batches(), rest.num_rows
        self.numbers, self.bad = row_number[self.given :], bad

    def take(self, n: int, last: bool) -> RawTable:
        table = pa.Table.from_batches(self.batches, self.schema)
        mine, rest = table.slice(0, n), table.slice(n)
        self.batches, self.pending = rest.to_batches(), rest.num_rows
        if self.numbers is None:
            row_number = np.arange(self.given + 1, self.given + n + 1, dtype=np.int64)
        else:
            row_number, self.numbers = self.numbers[:n], self.numbers[n:]
        self.given += n
        cut = len(self.bad) if last or not n else sum(1 for b in self.bad if b[0] < row_number[-1])
        bad, self.bad = self.bad[:cut], self.bad[cut:]
        _refuse_runaway_quote(mine, row_number, bad, self.src, self.path)
        return RawTable(
            source=self.src.name,
            file=self.path,
            sheet=None,
            header_row=self.header_row,
            headers=self.headers,
            cells=pd.DataFrame({c: pd.arrays.ArrowExtensionArray(mine.column(c)) for c in self.names}),
            row_number=row_number,
            bad_rows=pd.DataFrame(
                {
                    "row_number": np.array([b[0] for b in bad], dtype=np.int64),
                    "text": [t for _, t, _ in bad],
                    "reason_code": "field_count",
                    "reason": [f"row splits into {k} fields, the header has {len(self.names)}" for _, _, k in bad],
                },
                columns=BAD_ROW_COLUMNS,
            ),
        )
