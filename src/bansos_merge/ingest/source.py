"""Resolve a source's files and read them into raw tables."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MergeConfig, SourceConfig
from ..errors import InputError
from .check import FileCheck
from .csv_reader import check_csv_header, csv_slices, read_csv
from .excel_reader import check_excel_header, read_excel
from .table import RawTable

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".psv", ".dat"}


@dataclass
class SourceRead:
    """What reading one source produced, plus what the manifest needs to say about it."""

    source: SourceConfig
    tables: list[RawTable]
    files: list[dict] = field(default_factory=list)  # path, sha256, bytes, sheets read/skipped

    @property
    def rows_read(self) -> int:
        return sum(f["rows_read"] for f in self.files)

    @property
    def as_of(self) -> str:
        """The extract's date: configured, else its newest file's modification date."""
        if self.source.as_of is not None:
            return self.source.as_of.isoformat()
        return max((f["modified"] for f in self.files), default="")


def is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def source_files(src: SourceConfig) -> list[Path]:
    """The files a source names; a missing file or an empty glob is the user's to fix."""
    if is_glob(src.path):
        matched = sorted(Path(p) for p in glob.glob(src.path, recursive=True) if Path(p).is_file())
        if not matched:
            raise InputError(f"no file matches {src.path}", source=src.name)
        return matched
    path = Path(src.path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", source=src.name, file=str(path))
    return [path]


def file_sha256(path: Path) -> str:
    """The file's sha256, read a MiB at a time (the manifest's and the incremental state's)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _kind(path: Path, src: SourceConfig) -> str:
    """csv | excel, by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in CSV_SUFFIXES or not suffix:
        return "csv"
    raise InputError(
        f"unsupported file type {suffix!r}; expected CSV ({', '.join(sorted(CSV_SUFFIXES))}) "
        f"or Excel ({', '.join(sorted(EXCEL_SUFFIXES))})",
        source=src.name,
        file=str(path),
    )


def _readable(path: Path, src: SourceConfig) -> None:
    try:
        path.open("rb").close()
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", source=src.name, file=str(path)) from None


def read_file(path: Path, src: SourceConfig, check: FileCheck | None = None) -> tuple[list[RawTable], list[str]]:
    _readable(path, src)
    if _kind(path, src) == "excel":
        return read_excel(path, src, check)
    return [read_csv(path, src, check)], []


def read_source(src: SourceConfig) -> SourceRead:
    tables, files = [], []
    for path in source_files(src):
        check = FileCheck(_kind(path, src))
        got, skipped = read_file(path, src, check)
        tables.extend(got)
        files.append(_file_entry(path, [t.sheet for t in got if t.sheet is not None], skipped, sum(t.rows_read for t in got), check))
    return SourceRead(source=src, tables=tables, files=files)


@dataclass
class TableSlice:
    table: RawTable  # consecutive rows of one table (a CSV file or a sheet)
    table_key: tuple[str, str | None]  # (file, sheet) of that table
    id_prefix: str  # what row-number ids need to stay unique: the file (glob), the sheet (several sheets)


def stream_source(src: SourceConfig, rows: int, files: list[dict]) -> Iterator[TableSlice]:
    """The source's tables in slices of at most `rows` rows. CSV files are streamed, never whole
    in memory; an Excel sheet (at most 1,048,576 rows) is read whole, then cut. Each file's
    manifest entry is appended to `files` once the file is read."""
    glob_ = is_glob(src.path)
    for path in source_files(src):
        _readable(path, src)
        check = FileCheck(_kind(path, src))
        if check.format == "excel":
            tables, skipped = read_excel(path, src, check)
            slices = (s for t in tables for s in t.cut(rows))
        else:
            tables, skipped = [], []
            slices = csv_slices(path, src, rows, check=check)
        read = 0
        for piece in slices:
            read += piece.rows_read
            yield TableSlice(piece, (str(path), piece.sheet), id_prefix(piece, glob_, len(tables) > 1))
        files.append(_file_entry(path, [t.sheet for t in tables if t.sheet is not None], skipped, read, check))


def id_prefix(table: RawTable, from_glob: bool, several_sheets: bool) -> str:
    """Row-number ids need the file (a glob's) and the sheet (of several) to stay unique."""
    return (f"{table.file.name}/" if from_glob else "") + (f"{table.sheet}/" if several_sheets else "")


def _file_entry(path: Path, sheets_read: list, sheets_skipped: list, rows_read: int, check: FileCheck) -> dict:
    """What the manifest says of a file read: `check` compares the rows the reader gave out
    with its independent count of the file's rows."""
    check.rows_read = rows_read
    return {
        "path": str(path),
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "modified": dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date().isoformat(),
        "sheets_read": sheets_read,
        "sheets_skipped": sheets_skipped,
        "rows_read": rows_read,
        "check": check.as_dict(),
    }


def preflight(config: MergeConfig) -> None:
    """Before any work: every source's files exist, open, and carry the mapped columns."""
    for src in config.sources:
        for path in source_files(src):
            _readable(path, src)
            if _kind(path, src) == "excel":
                check_excel_header(path, src)
            else:
                check_csv_header(path, src)
