"""Run folders: each run writes into `runs/.<id>.partial/`, is renamed to `runs/<id>/` when
complete, and only then does `latest` (a symlink) switch to it, by an atomic rename.

One run at a time writes to an output directory: a run holds an exclusive lock on `runs/.lock`
from start to publish (the kernel drops it when the process dies, however it dies). So a
`.partial` folder found while holding the lock belongs to a run that crashed or was killed:
the next run, and `bansos-merge clean`, remove it. The previous `latest` is never touched by a
run that does not complete.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import IO

from ..errors import UserError

LATEST = "latest"
RUNS = "runs"
LOCK = ".lock"
WORK = ".work"


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
        self.work = self.partial / WORK
        self._lock: IO[str] | None = None

    def start(self) -> Path:
        """Take the output directory's lock, clear what crashed runs left, and make the partial
        folder with its work folder (intermediate personal data: 0700, this user only)."""
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(self.runs, self.run_id)
            remove_stale(self.runs)
            self.partial.mkdir()
            self.work.mkdir(mode=0o700)
            self.work.chmod(0o700)
        except OSError as e:
            self._release()
            raise UserError(f"cannot write to output directory {self.output_dir}: {e.strerror}") from None
        return self.partial

    def commit(self, keep: int = 10) -> Path:
        """Rename the complete run into place, then point `latest` at it atomically."""
        try:
            shutil.rmtree(self.work, ignore_errors=True)
            _fsync_files(self.partial)
            os.rename(self.partial, self.final)
            link = self.output_dir / LATEST
            tmp = self.output_dir / f".{LATEST}.{self.run_id}"
            try:
                os.symlink(Path(RUNS) / self.run_id, tmp)
                os.replace(tmp, link)
            except BaseException:  # `latest` did not switch: the run is not published
                tmp.unlink(missing_ok=True)
                shutil.rmtree(self.final, ignore_errors=True)
                raise
            _fsync_dir(self.output_dir)
            self._prune(keep)
        finally:
            self._release()
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the lock
            self._lock = None

    def _prune(self, keep: int) -> None:
        runs = sorted(p for p in self.runs.iterdir() if p.is_dir() and not p.name.startswith("."))
        for old in runs[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def check_writable(output_dir: Path) -> None:
    """Before anything slow starts (a Prefect server, reading the sources): the output directory
    can be written to, and no other run holds its lock. Raises the UserError the run itself
    would raise, seconds earlier and once. Leaves nothing behind: where the directory does not
    exist yet, its nearest existing parent is tried."""
    runs = Path(output_dir) / RUNS
    existing = next(p for p in (runs, *runs.parents) if p.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        with tempfile.TemporaryFile(dir=existing):
            pass
        if existing == runs:
            _lock(runs, "none yet: checking the output directory").close()
    except OSError as e:
        raise UserError(f"cannot write to output directory {output_dir}: {e.strerror}") from None


def _lock(runs: Path, run_id: str) -> IO[str]:
    """The exclusive lock on `runs/.lock`, or a UserError naming the run that holds it."""
    fd = os.open(runs / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fh = os.fdopen(fd, "r+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = fh.read().strip() or "another process"
        fh.close()
        raise UserError(
            f"another bansos-merge run ({holder}) is writing to {runs.parent}: wait for it to finish, or use another --output"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}, run {run_id}\n")
    fh.flush()
    return fh


def remove_stale(runs: Path) -> list[tuple[str, int]]:
    """Remove what crashed or killed runs left in `runs/` (partial folders, a half-made `latest`
    link); the caller holds the lock. Returns (name, bytes) of each folder removed."""
    removed = []
    for stale in sorted(runs.glob(".*.partial")):
        removed.append((stale.name, _size(stale)))
        shutil.rmtree(stale, ignore_errors=True)
    for link in runs.parent.glob(f".{LATEST}.*"):
        if link.is_symlink():
            link.unlink(missing_ok=True)
    return removed


def clean(output_dir: Path) -> list[tuple[str, int]]:
    """`bansos-merge clean`: remove stale run folders, unless a run is writing right now."""
    runs = Path(output_dir) / RUNS
    if not runs.is_dir():
        return []
    lock = _lock(runs, "clean")
    try:
        return remove_stale(runs)
    finally:
        lock.close()


def published(output_dir: Path, run_id: str) -> bool:
    """Whether `latest` points at run `run_id`: what a run's exit code must agree with."""
    latest = latest_run(output_dir)
    return latest is not None and latest == (Path(output_dir) / RUNS / run_id).resolve()


def settled(output_dir: Path, run_id: str) -> bool:
    """Published, and done with: its run no longer holds the output directory's lock."""
    if not published(output_dir, run_id):
        return False
    try:
        with open(Path(output_dir) / RUNS / LOCK) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # dropped again when fh closes
    except OSError:  # BlockingIOError: still held
        return False
    return True


def latest_run(output_dir: Path) -> Path | None:
    """The folder `latest` points at, or None before the first run."""
    link = Path(output_dir) / LATEST
    return link.resolve() if link.exists() else None


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


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
