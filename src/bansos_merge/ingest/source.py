"""Resolve a source's files and read them into raw tables."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MergeConfig, SourceConfig
from ..errors import InputError
from .csv_reader import check_csv_header, read_csv
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
        return sum(t.rows_read for t in self.tables)

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _kind(path: Path, src: SourceConfig) -> str:
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


def read_file(path: Path, src: SourceConfig) -> tuple[list[RawTable], list[str]]:
    _readable(path, src)
    if _kind(path, src) == "excel":
        return read_excel(path, src)
    return [read_csv(path, src)], []


def read_source(src: SourceConfig) -> SourceRead:
    tables, files = [], []
    for path in source_files(src):
        got, skipped = read_file(path, src)
        tables.extend(got)
        files.append(
            {
                "path": str(path),
                "sha256": _sha256(path),
                "bytes": path.stat().st_size,
                "modified": dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date().isoformat(),
                "sheets_read": [t.sheet for t in got if t.sheet is not None],
                "sheets_skipped": skipped,
                "rows_read": sum(t.rows_read for t in got),
            }
        )
    return SourceRead(source=src, tables=tables, files=files)


def preflight(config: MergeConfig) -> None:
    """Before any work: every source's files exist, open, and carry the mapped columns."""
    for src in config.sources:
        for path in source_files(src):
            _readable(path, src)
            if _kind(path, src) == "excel":
                check_excel_header(path, src)
            else:
                check_csv_header(path, src)
