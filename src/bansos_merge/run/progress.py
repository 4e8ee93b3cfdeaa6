"""Progress of a run's long stages on the console: a bar on a terminal, plain lines otherwise.

The units of work of the long stages leave files in the run's work folder as they finish (raw
slices while a source is read, parts as they are normalised, shuffled pieces, assembled
partitions). A thread of the driver's process counts them, so progress looks the same
whichever executor runs the units (threads here, Prefect tasks, Dask workers), and no unit
writes to the console itself. A stage that leaves no files (blocking) shows a spinner and its
elapsed time. Lines carry counts only, never personal data.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.25
LINE_EVERY_S = 30.0  # without a terminal: a line per stage at most this often, while it runs


class Progress:
    """Shows each watched stage. `bars`: draw a bar on the terminal (default: when stderr is
    one and the log does not print debug lines, which would tear the bar); otherwise a plain log line every `line_every_s` seconds while a stage runs, and a
    debug line at every change (the console shows those with --verbose)."""

    def __init__(self, log: logging.Logger, bars: bool | None = None, line_every_s: float = LINE_EVERY_S) -> None:
        self.log, self.line_every_s = log, line_every_s
        self.bars = sys.stderr.isatty() and not log.isEnabledFor(logging.DEBUG) if bars is None else bars

    @contextmanager
    def watch(self, label: str, folder: Path | None = None, pattern: str = "*", total: int | None = None,
              unit: str = "") -> Iterator[None]:
        """While the block runs, count the files matching `pattern` under `folder` (None: no
        files, a spinner only) against `total` units (None: unknown)."""
        done = threading.Event()
        show = _Bar(label, total, unit) if self.bars else _Lines(self.log, label, total, unit, self.line_every_s)
        thread = threading.Thread(target=self._poll, args=(show, folder, pattern, done), name="bansos-merge-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            show.close()

    def _poll(self, show: _Bar | _Lines, folder: Path | None, pattern: str, done: threading.Event) -> None:
        logged = self._step(show, folder, pattern, None)
        while not done.wait(POLL_S):
            logged = self._step(show, folder, pattern, logged)
        self._step(show, folder, pattern, logged)  # the count the stage ended with

    def _step(self, show: _Bar | _Lines, folder: Path | None, pattern: str, logged: int | None) -> int | None:
        """Count, show, and log the count at debug level when it changed."""
        count = _count(folder, pattern)
        show.update(count)
        if show.unit and count != logged:
            self.log.debug("  %s: %s", show.label, _text(count, show.total, show.unit))
            return count
        return logged


def _count(folder: Path | None, pattern: str) -> int:
    if folder is None:
        return 0
    try:
        return sum(1 for _ in folder.glob(pattern))
    except OSError:  # the folder is being made or removed
        return 0


def _text(count: int, total: int | None, unit: str) -> str:
    return f"{count:,}/{total:,} {unit}" if total is not None else f"{count:,} {unit} so far"


class _Lines:
    """Without a terminal: a plain line now and then, while the stage is still running."""

    def __init__(self, log: logging.Logger, label: str, total: int | None, unit: str, every_s: float) -> None:
        self.log, self.label, self.total, self.unit, self.every_s = log, label, total, unit, every_s
        self.started = self.last_line = time.monotonic()

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last_line >= self.every_s:
            self.last_line = now
            done = _text(count, self.total, self.unit) if self.unit else "running"
            self.log.info("  %s: %s, %d s", self.label, done, round(now - self.started))

    def close(self) -> None:
        pass


class _Bar:
    """On a terminal: rich's progress bar on stderr, removed when the stage ends (the stage's
    own lines say what it did)."""

    def __init__(self, label: str, total: int | None, unit: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.label, self.total, self.unit = label, total, unit
        columns = [SpinnerColumn(), TextColumn("  {task.description}")]
        if unit:
            columns += [BarColumn(), MofNCompleteColumn() if total is not None else TextColumn("{task.completed:,.0f}"), TextColumn(unit)]
        self.progress = Progress(*columns, TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
        self.task = self.progress.add_task(label, total=total)
        self.progress.start()

    def update(self, count: int) -> None:
        self.progress.update(self.task, completed=count)

    def close(self) -> None:
        self.progress.stop()
