"""Which Prefect API a `bansos-merge run` talks to, and the long-lived local server it can reuse.

Prefect 3 with no API configured starts a temporary server inside every process: 4-25 s of
start-up on every run, on a port it picks at random from 8000-8999 and checks before its
server binds it, so two runs started together can pick the same one and one run then reports
to, and dies with, the other's server. Here a run uses, in this order:

1. `PREFECT_API_URL`, when set (the user's own server);
2. the server `bansos-merge server start` recorded in its state file, when it answers;
3. a temporary server of its own, on a socket this process binds to port 0 and hands to the
   server (the kernel's pick, held from the bind on: no other process can get that port), its
   start-up serialised with other runs' by a lock (two servers migrating one fresh database at
   once collide), stopped when the run ends, and killed by the kernel if the run is. It runs
   in a session of its own, so that Ctrl-C in the terminal reaches the run only: the run
   records its end in Prefect first, then stops the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines import state_dir  # importing pipelines sets Prefect's environment (telemetry off, PREFECT_HOME)

from bansos_merge.errors import RunFailed, UserError

HOST = "127.0.0.1"
STATE_NAME = "prefect-server.json"


def startup_timeout() -> float:
    return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))


def _private_dir() -> Path:
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


@dataclass(frozen=True)
class Api:
    url: str
    kind: str  # "environment", "recorded" or "temporary"

    def describe(self) -> str:
        return {
            "environment": f"Prefect: using PREFECT_API_URL {self.url}",
            "recorded": f"Prefect: reusing the server started by `bansos-merge server start` ({self.url})",
            "temporary": f"Prefect: temporary server on {self.url} for this run "
            "(`bansos-merge server start` keeps one running and saves its start-up)",
        }[self.kind]


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at `api_url`."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def _alive(pid: object) -> bool:
    """A running (not zombie) process; a container's init may never reap an orphan."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recorded_server() -> dict | None:
    """The record `bansos-merge server start` wrote, when it is this user's, private, and its
    process still runs (a stale or foreign record is ignored, never trusted)."""
    path = state_dir() / STATE_NAME
    try:
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and _alive(state.get("pid")) else None


@contextlib.contextmanager
def prefect_api() -> Iterator[Api]:
    """The API this process's flow runs report to, for the duration of the block."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        if not healthy(url):
            raise UserError(
                f"PREFECT_API_URL={url} does not answer its health check: start that server, or unset "
                "PREFECT_API_URL (a run then reuses `bansos-merge server start`'s server, or starts its own)"
            )
        yield Api(url, "environment")
        return
    state = recorded_server()
    if state and healthy(state["api_url"]):
        with _using(state["api_url"]):
            yield Api(state["api_url"], "recorded")
        return
    with temporary_server() as url, _using(url):
        yield Api(url, "temporary")


@contextlib.contextmanager
def _using(url: str) -> Iterator[None]:
    """PREFECT_API_URL for this process (Prefect's settings) and its children (Dask workers)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before


@contextlib.contextmanager
def temporary_server() -> Iterator[str]:
    """Prefect's API server (as Prefect runs its own temporary one: no UI, no services) on a
    port only this process can have; stopped when the block ends, however it ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        sock.listen(128)
        url = f"http://{HOST}:{sock.getsockname()[1]}/api"
        prefect_dir = Path(importlib.util.find_spec("prefect").submodule_search_locations[0])
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        env.pop("PREFECT_API_URL", None)
        command = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory",
            "prefect.server.api.server:create_app", "--fd", str(sock.fileno()), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        output = tempfile.TemporaryFile()
        with _startup_lock():
            proc = subprocess.Popen(
                command, pass_fds=(sock.fileno(),), env=env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, start_new_session=True,
            )  # fmt: skip
            sock.close()
            try:
                _wait_until_healthy(url, proc, output, "the temporary Prefect server")
            except BaseException:
                _stop(proc)
                raise
    finally:
        sock.close()
    try:
        yield url
    finally:
        drain_prefect()
        _stop(proc)
        output.close()


def drain_prefect(timeout: float = 5.0) -> None:
    """Send the logs and events Prefect still holds (as Prefect's own test harness does before
    stopping its server): else they retry against a stopped server at exit, for a minute."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout)


@contextlib.contextmanager
def _startup_lock() -> Iterator[None]:
    with open(_private_dir() / "prefect-start.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGTERM when the run that started it dies (even SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_until_healthy(url: str, proc: subprocess.Popen, output, what: str) -> None:
    deadline = time.monotonic() + startup_timeout()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"{what} exited with code {proc.returncode} while starting{_tail(output)}")
        if healthy(url, timeout=1.0):
            return
        time.sleep(0.2)
    raise RunFailed(f"{what} did not answer at {url} within {startup_timeout():.0f} s (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")


def _tail(output) -> str:
    output.seek(0)
    lines = output.read().decode("utf-8", "replace").strip().splitlines()
    return (": " + " | ".join(lines[-3:])) if lines else ""


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the long-lived server: `bansos-merge server start|stop|status` ---------------------------


def start_server() -> tuple[dict, bool]:
    """Start `prefect server start` (UI, scheduler) on loopback, detached from this terminal,
    and record its PID and port in a private state file; reuse a running one. Returns the
    record and whether this call started it."""
    running = recorded_server()
    if running and healthy(running["api_url"]):
        return running, False
    folder = _private_dir()
    log_path = folder / "prefect-server.log"
    for _ in range(3):  # a port freed by bind(0) is taken by someone else before the server binds it: try another
        port = _free_port()
        url = f"http://{HOST}:{port}/api"
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
            )  # fmt: skip
        try:
            with open(log_path, "rb") as output:
                output.seek(0, os.SEEK_END)
                _wait_until_healthy(url, proc, output, "the Prefect server")
        except RunFailed:
            if proc.poll() is None:
                _kill_group(proc.pid)
                raise
            continue
        except BaseException:
            _kill_group(proc.pid)
            raise
        state = {
            "pid": proc.pid,
            "port": port,
            "api_url": url,
            "ui_url": f"http://{HOST}:{port}",
            "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "log": str(log_path),
        }
        _write_private(folder / STATE_NAME, state)
        return state, True
    raise RunFailed(f"the Prefect server did not start (see {log_path})")


def stop_server() -> dict | None:
    """Stop the recorded server (its whole process group) and remove the record."""
    state = recorded_server()
    path = state_dir() / STATE_NAME
    if state is None:
        path.unlink(missing_ok=True)  # stale: its process is gone
        return None
    pid = state["pid"]
    if b"prefect" not in _cmdline(pid):  # the PID was reused by something else: not ours to kill
        path.unlink(missing_ok=True)
        return None
    _kill_group(pid)
    path.unlink(missing_ok=True)
    return state


def _kill_group(pid: int, grace: float = 30.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b"prefect"  # no /proc: trust the record


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _write_private(path: Path, data: dict) -> None:
    """Write a 0600 file atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
