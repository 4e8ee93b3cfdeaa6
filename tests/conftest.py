"""Shared helpers for the ingest/normalise tests: real files written into tmp_path by code
(CSV bytes in any encoding, .xlsx through xlsxwriter, .xls through xlwt), a source config
builder, and the accounting check every ingest test makes.

And the test session's own state: Prefect's home and bansos-merge's state (the recorded
server) in a temporary folder, never the user's; and no process a test module started may
outlive it (a Prefect server, a run, a Dask worker): such a process is killed and the module
fails."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bansos_merge.config import SourceConfig
from bansos_merge.ingest.source import SourceRead, read_source
from bansos_merge.normalize.source import NormalizedSource, normalize_source

NIK_NAME = {"nik": "NIK", "name": "NAMA"}

# --- the session's state, and the processes its tests start ----------------------------------
# Set before any test module imports Prefect (pipelines/ would otherwise default PREFECT_HOME
# to the user's state folder); every process a test starts inherits it, and SESSION marks them.
SESSION = tempfile.mkdtemp(prefix="bansos-merge-tests-")
os.environ.update(
    PREFECT_HOME=str(Path(SESSION) / "prefect"),
    XDG_STATE_HOME=str(Path(SESSION) / "state"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    BANSOS_MERGE_TEST_SESSION=SESSION,
)
os.environ.pop("PREFECT_API_URL", None)  # never the user's server
LEFTOVER_GRACE_S = 15.0  # a stopped server may take a few seconds to exit


def _session_processes() -> list:
    """Running processes started by this test session (they carry its marker), pytest aside,
    and Python's own helpers of pytest's (multiprocessing's resource tracker), which end with it."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            ours = proc.pid != os.getpid() and proc.environ().get("BANSOS_MERGE_TEST_SESSION") == SESSION
            helper = proc.ppid() == os.getpid() and "from multiprocessing." in " ".join(proc.cmdline())
            if ours and not helper and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.fixture(scope="module", autouse=True)
def no_process_left_behind():
    """After a test module (and its fixtures) has finished, no process it started may still
    run: one that does is killed, and the module fails naming it."""
    import psutil

    before = {p.pid for p in _session_processes()}
    yield
    left = [p for p in _session_processes() if p.pid not in before]
    _, alive = psutil.wait_procs(left, timeout=LEFTOVER_GRACE_S)
    described = []
    for proc in alive:
        try:
            described.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:160]}")
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=10)
    if described:
        pytest.fail("processes left running after the module's tests (now killed):\n" + "\n".join(described), pytrace=False)


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(SESSION, ignore_errors=True)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write exactly these characters (no newline translation) in `encoding`."""
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], merge_title: dict[str, int] | None = None) -> Path:
    """A real .xlsx: datetime values become Excel date cells, numbers number cells, str text.

    `merge_title={sheet: width}` merges the first two rows of that sheet across `width` columns
    (the title block agencies put above the header).
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, (dt.date, dt.datetime)):
                    ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_fmt)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    ws.write_number(r, c, value)
        width = (merge_title or {}).get(name)
        if width:
            for r in (0, 1):
                if rows[r]:
                    ws.merge_range(r, 0, r, width - 1, rows[r][0])
    wb.close()
    return path


def write_xls(path: Path, sheets: dict[str, list[list[object]]], merge_title: dict[str, int] | None = None) -> Path:
    """A real legacy .xls (BIFF8) through xlwt, same conventions as write_xlsx."""
    import xlwt

    wb = xlwt.Workbook()
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        width = (merge_title or {}).get(name)
        for r, row in enumerate(rows):
            if width and r < 2 and row:
                ws.write_merge(r, r, 0, width - 1, row[0])
                continue
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, (dt.date, dt.datetime)):
                    ws.write(r, c, dt.datetime(value.year, value.month, value.day), date_style)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


def physical_lines(text: str) -> int:
    """The tests' own count of a text's physical lines (CR LF, CR or LF; a last line without one)."""
    return len(re.findall(r"\r\n|\r|\n", text)) + (0 if not text or text[-1] in "\r\n" else 1)


def make_source(path: Path, columns: dict[str, str] | None = None, **settings) -> SourceConfig:
    return SourceConfig(name="desa", path=str(path), kind="aid_list", columns=columns or NIK_NAME, **settings)


def ingest(src: SourceConfig) -> tuple[SourceRead, NormalizedSource]:
    """Read and normalise one source; check that no row was lost or doubled."""
    read = read_source(src)
    norm = normalize_source(read)
    assert_accounted(read, norm)
    return read, norm


def assert_accounted(read: SourceRead, norm: NormalizedSource) -> None:
    """rows_read == accepted + rejected, and per table every row number 1..n appears exactly once."""
    acc = norm.accounting()
    assert acc["rows_read"] == acc["accepted"] + acc["rejected"] == read.rows_read
    for table in read.tables:
        mine = lambda f: f[(f["source_file"] == table.file.name) & _same_sheet(f, table.sheet)]  # noqa: E731
        numbers = np.sort(np.concatenate([mine(norm.records)["row_number"], mine(norm.rejects)["row_number"]]))
        assert numbers.tolist() == list(range(1, table.rows_read + 1))


def _same_sheet(frame: pd.DataFrame, sheet: str | None) -> pd.Series:
    return frame["source_sheet"].isna() if sheet is None else frame["source_sheet"] == sheet


def rejects_by_row(norm: NormalizedSource) -> dict[int, str]:
    return dict(zip(norm.rejects["row_number"].tolist(), norm.rejects["reason_code"].tolist()))


def record(norm: NormalizedSource, row_number: int, sheet: str | None = None) -> pd.Series:
    """The one accepted record of a row number (within a sheet, when given)."""
    recs = norm.records
    hit = recs[(recs["row_number"] == row_number) & (True if sheet is None else recs["source_sheet"] == sheet)]
    assert len(hit) == 1, f"expected one record for row {row_number}, got {len(hit)}"
    return hit.iloc[0]


@pytest.fixture
def csv_file(tmp_path):
    """`csv_file(text, name='list.csv', encoding='utf-8')` -> path of a file with exactly that content."""

    def _make(text: str, name: str = "list.csv", encoding: str = "utf-8") -> Path:
        return write_text(tmp_path / name, text, encoding)

    return _make
