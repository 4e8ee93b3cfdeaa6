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


def read_csv(path: Path, src: SourceConfig) -> RawTable:
    data = path.read_bytes()
    _refuse_binary(data, src, path)
    text, encoding = _decode(data, src, path)
    delimiter, header_index = _sniff(text, src, path)
    headers = list(csv.reader(io.StringIO(text[: 1 << 16]), delimiter=delimiter))[header_index]
    names = [f"c{i}" for i in range(len(headers))]

    bad: list[tuple[int, str, int]] = []

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    # The data starts right after the header record; pyarrow's own skip_rows counts physical
    # lines, which is wrong when a title row holds a quoted newline.
    start = _data_start(text, delimiter, header_index)
    if encoding == "utf-8":
        bom = 3 if data.startswith(codecs.BOM_UTF8) else 0
        body = pa.py_buffer(data).slice(bom + len(text[:start].encode("utf-8")))
    else:
        body = pa.py_buffer(text[start:].encode("utf-8"))
    if body.size == 0:  # a header and nothing below it: zero rows, not an error
        table = pa.table({n: pa.array([], pa.string()) for n in names})
    else:
        try:
            table = pacsv.read_csv(
                pa.BufferReader(body),
                read_options=pacsv.ReadOptions(
                    use_threads=False,  # row numbers of bad rows are only known single-threaded
                    column_names=names,
                    block_size=1 << 24,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_bad_row,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as e:
            raise InputError(f"cannot parse as CSV: {e}", source=src.name, file=str(path)) from None

    header_row = header_index + 1
    bad_numbers = np.array([n for n, _, _ in bad], dtype=np.int64)
    total = table.num_rows + len(bad)
    row_number = np.setdiff1d(np.arange(1, total + 1), bad_numbers, assume_unique=True)
    _refuse_runaway_quote(table, row_number, bad, src, path)
    cells = pd.DataFrame(
        {n: pd.arrays.ArrowExtensionArray(table.column(n)) for n in names}
    )
    bad_rows = pd.DataFrame(
        {
            "row_number": bad_numbers,
            "text": [t for _, t, _ in bad],
            "reason_code": "field_count",
            "reason": [f"row splits into {k} fields, the header has {len(names)}" for _, _, k in bad],
        },
        columns=BAD_ROW_COLUMNS,
    )
    return RawTable(
        source=src.name,
        file=path,
        sheet=None,
        header_row=header_row,
        headers=headers,
        cells=cells,
        row_number=row_number,
        bad_rows=bad_rows,
    )
