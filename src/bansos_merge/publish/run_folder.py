"""Run folders: each run writes into `runs/.<id>.partial/`, is renamed to `runs/<id>/` when
complete, and only then does `latest` (a symlink) switch to it, by an atomic rename.

A run that crashes or is killed leaves a `.partial` folder behind and the previous `latest`
untouched; the next run removes stale partial folders.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from pathlib import Path

from ..errors import UserError

LATEST = "latest"
RUNS = "runs"


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunFolder:
    def __init__(self, output_dir: Path, run_id: str | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.run_id = run_id or new_run_id()
        self.runs = self.output_dir / RUNS
        self.final = self.runs / self.run_id
        self.partial = self.runs / f".{self.run_id}.partial"

    def start(self) -> Path:
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            for stale in self.runs.glob(".*.partial"):
                shutil.rmtree(stale, ignore_errors=True)
            self.partial.mkdir()
        except OSError as e:
            raise UserError(f"cannot write to output directory {self.output_dir}: {e.strerror}") from None
        return self.partial

    def commit(self, keep: int = 10) -> Path:
        """Rename the complete run into place, then point `latest` at it atomically."""
        _fsync_files(self.partial)
        os.rename(self.partial, self.final)
        link = self.output_dir / LATEST
        tmp = self.output_dir / f".{LATEST}.{self.run_id}"
        os.symlink(Path(RUNS) / self.run_id, tmp)
        os.replace(tmp, link)
        _fsync_dir(self.output_dir)
        self._prune(keep)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def _prune(self, keep: int) -> None:
        runs = sorted(p for p in self.runs.iterdir() if p.is_dir() and not p.name.startswith("."))
        for old in runs[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def latest_run(output_dir: Path) -> Path | None:
    """The folder `latest` points at, or None before the first run."""
    link = Path(output_dir) / LATEST
    return link.resolve() if link.exists() else None


def _fsync_files(folder: Path) -> None:
    for f in folder.iterdir():
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
