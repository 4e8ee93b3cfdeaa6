"""The command line as an officer meets it: `--version`, help for every option, an output
folder that cannot be written found before Prefect starts, and an install without
setuptools' warnings. Each through the real CLI (a subprocess) or the real build."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from bansos_merge.cli import build_parser
from bansos_merge.contracts import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
CLI = [sys.executable, "-m", "bansos_merge.cli"]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)


def _config(folder: Path, output: str) -> Path:
    """A one-source merge.yaml over a real three-row CSV."""
    (folder / "dukcapil.csv").write_text(
        "NIK;NAMA;TGL_LHR\n3201014508700001;SITI AMINAH;05-08-1970\n3201011203650002;SOEPARMAN;12-03-1965\n", encoding="utf-8"
    )
    path = folder / "merge.yaml"
    path.write_text(
        f"output_dir: {output}\nsources:\n  - name: dukcapil\n    path: dukcapil.csv\n    kind: civil_registry\n"
        "    columns: {nik: NIK, name: NAMA, birth_date: TGL_LHR}\n",
        encoding="utf-8",
    )
    return path


def test_version_names_the_package_and_the_output_schema():
    done = _cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bansos-merge {version('bansos-merge')} (output schema {SCHEMA_VERSION})"


def _undocumented(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> list[str]:
    """Every command without a help line and every option or argument without help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {c.dest: c.help for c in action._choices_actions}
            for name, sub in action.choices.items():
                if not helped.get(name) or not sub.description:
                    missing.append(" ".join((*path, name)))
                missing += _undocumented(sub, (*path, name))
        elif not action.help:
            missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help():
    assert _undocumented(build_parser(), ("bansos-merge",)) == []
    sample = _cli("sample", "--help").stdout
    for option, words in {"--people": "synthetic people", "--seed": "same seed", "--out": "folder"}.items():
        line = next(line for line in sample.splitlines() if line.strip().startswith(option))
        assert words in line + sample.split(line, 1)[1].splitlines()[0], sample


def test_top_level_help_speaks_to_the_user_not_the_developer():
    out = _cli("--help").stdout
    assert "User errors end with one message" not in out
    assert "bansos-merge run --config merge.yaml" in out
    assert "--version" in out


def _assert_refused_before_prefect(done: subprocess.CompletedProcess, output: Path) -> None:
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [errors[0]] and errors[0].startswith(f"bansos-merge: error: cannot write to output directory {output}"), done.stderr
    assert "Traceback" not in done.stderr
    assert "Prefect" not in done.stdout  # no server was started, no flow ran


@pytest.mark.parametrize("prefect", ["--prefect", "--no-prefect"])
def test_output_under_a_file_is_refused_once_before_prefect_starts(tmp_path, prefect):
    """A path below a regular file cannot be made, even by root."""
    (tmp_path / "not-a-folder").write_text("a file where the output folder should be")
    output = tmp_path / "not-a-folder" / "out"
    done = _cli("run", "--config", str(_config(tmp_path, str(output))), prefect)
    _assert_refused_before_prefect(done, output)
    assert "Not a directory" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder; the file case above covers root")
def test_read_only_output_folder_is_refused_once_before_prefect_starts(tmp_path):
    output = tmp_path / "locked"
    output.mkdir()
    output.chmod(0o500)
    try:
        done = _cli("run", "--config", str(_config(tmp_path, str(output))), "--prefect")
    finally:
        output.chmod(0o700)
    _assert_refused_before_prefect(done, output)
    assert "Permission denied" in done.stderr


def test_build_ships_the_review_app_files_without_warnings(tmp_path):
    """A real wheel build of the project: no setuptools warning about the review app's
    template and static folders, and every one of their files in the wheel."""
    src = tmp_path / "src-tree"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
    shutil.copytree(ROOT / "pipelines", src / "pipelines", ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "wheel"), str(src)],
        capture_output=True, text=True, env=ENV, timeout=600,
    )  # fmt: skip
    if done.returncode != 0 and "setuptools" in done.stderr and "No matching distribution" in done.stderr:
        pytest.skip("the build backend (setuptools) cannot be fetched from the package index here")
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "BuildBackendWarning" not in output and "absent from the `packages` configuration" not in output, output
    (wheel,) = (tmp_path / "wheel").glob("bansos_merge-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    review = ROOT / "src" / "bansos_merge" / "review"
    expected = {f"bansos_merge/review/{p.relative_to(review).as_posix()}" for d in ("templates", "static") for p in (review / d).iterdir()}
    assert expected and expected <= shipped


# ---------------------------------------------------------------- the console of a run

STAGES = ["read and normalise", "link", "cluster", "assemble", "publish"]
TASK_DONE = re.compile(r"Task run '[^']+' - Finished in state Completed\(\)")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A small synthetic sample written by the real `bansos-merge sample`."""
    out = tmp_path_factory.mktemp("console") / "sample"
    done = _cli("sample", "--people", "300", "--seed", "5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def _assert_stages_and_counts(console: str) -> None:
    assert [name for _, name in re.findall(r"\[(\d)/5\] ([a-z ]+):", console)] == STAGES, console
    for count in ("rows read", "accepted", "rejected", "candidate pairs", "persons; review queue", "conflicts:"):
        assert count in console, count


def test_local_run_shows_numbered_stages_and_counts_in_plain_lines(sample, tmp_path):
    done = _cli("run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--no-prefect")
    assert done.returncode == 0, done.stderr
    _assert_stages_and_counts(done.stderr)
    assert "\x1b[" not in done.stderr + done.stdout  # not a terminal: no bar, no escape codes
    assert "DEBUG" not in done.stderr


def test_local_run_verbose_shows_each_unit_of_work(sample, tmp_path):
    done = _cli("run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--no-prefect", "--verbose")
    assert done.returncode == 0, done.stderr
    _assert_stages_and_counts(done.stderr)
    assert re.search(r"\| DEBUG   \|   normalising: (\d+)/\1 slices", done.stderr), done.stderr
    assert re.search(r"\| DEBUG   \|   assembling: 1/1 partitions", done.stderr), done.stderr


def _run_on_a_terminal(args: list[str]) -> tuple[int, str]:
    """The CLI with stdout and stderr on a pseudo-terminal, as an officer's shell runs it."""
    import pty
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env={**ENV, "COLUMNS": "120"})
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    code = proc.wait(timeout=600)
    reader.join(timeout=60)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_local_run_on_a_terminal_draws_progress_bars_and_clears_them(sample, tmp_path):
    code, console = _run_on_a_terminal(["run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--no-prefect"])
    assert code == 0, console
    _assert_stages_and_counts(console)
    assert "\x1b[?25l" in console and "\x1b[2K" in console  # rich's live bar drawn, then erased
    for stage in ("reading", "normalising", "blocking", "assembling"):
        assert f"   {stage} " in console, stage
    assert "run published:" in console


def test_prefect_run_console_keeps_task_lines_out_unless_verbose(sample, tmp_path):
    quiet = _cli("run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--prefect")
    assert quiet.returncode == 0, quiet.stderr
    _assert_stages_and_counts(quiet.stderr)
    assert not TASK_DONE.search(quiet.stderr), quiet.stderr
    verbose = _cli("run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--prefect", "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    task_lines = [line for line in verbose.stderr.splitlines() if TASK_DONE.search(line)]
    assert task_lines and all("| DEBUG   |" in line for line in task_lines), verbose.stderr
    assert any("Task run 'read-" in line for line in task_lines)


def test_progress_without_a_terminal_writes_plain_lines_and_the_final_count(tmp_path, caplog):
    """The watcher counts the files a stage's units leave, whoever runs them."""
    import logging

    from bansos_merge.run.progress import Progress

    log = logging.getLogger("bansos_merge.test_progress")
    with caplog.at_level(logging.DEBUG, logger=log.name):
        with Progress(log, bars=False, line_every_s=0).watch("normalising", tmp_path, "*.pkl", 3, "slices"):
            for i in range(3):
                (tmp_path / f"{i:05d}.pkl").write_bytes(b"part")
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    debug = [r.getMessage() for r in caplog.records if r.levelname == "DEBUG"]
    assert info and all(m.startswith("  normalising: ") and "/3 slices, " in m for m in info), info
    assert debug[-1] == "  normalising: 3/3 slices", debug


def test_a_user_error_inside_a_prefect_run_is_reported_once(sample, tmp_path):
    """The shrink guard stops a Prefect run: the CLI's one message, not Prefect's two more."""
    folder = tmp_path / "sample"
    shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("out"))
    first = _cli("run", "--config", str(folder / "merge.yaml"), "--output", str(tmp_path / "out"), "--no-prefect")
    assert first.returncode == 0, first.stderr
    civil = folder / "dukcapil.csv"
    civil.write_text(civil.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")  # the header alone
    done = _cli("run", "--config", str(folder / "merge.yaml"), "--output", str(tmp_path / "out"), "--prefect")
    assert done.returncode == 2, done.stderr
    mentions = [line for line in done.stderr.splitlines() if "would shrink" in line or "UserError" in line]
    assert len(mentions) == 1 and mentions[0].startswith("bansos-merge: error: the registry would shrink"), done.stderr
    assert "Traceback" not in done.stderr


def test_evaluate_reports_the_review_queue_apart_from_planted_conditions(sample, tmp_path):
    run = _cli("run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "out"), "--no-prefect")
    assert run.returncode == 0, run.stderr
    done = _cli("evaluate", "--run", str(tmp_path / "out"), "--truth", str(sample))
    assert done.returncode == 0, done.stderr
    planted, queue = done.stdout.split("Planted conditions", 1)[1].split("\nReview queue", 1)
    assert "review_needed" not in planted  # review items are not planted conditions
    import pyarrow.parquet as pq

    pairs = pq.read_metadata(tmp_path / "out" / "latest" / "review.parquet").num_rows
    rows = dict(re.findall(r"^  (\S.*?)\s{2,}(\S.*)$", queue, re.M))
    assert int(rows["pairs"].replace(",", "")) == pairs
    for metric in ("pairs per 100 records", "yield: worth it / pairs", "the run's pairwise errors"):
        assert metric in rows, queue
    assert "precision" not in queue


def test_an_output_another_run_is_writing_to_is_refused_before_prefect_starts(tmp_path):
    """The lock a running run holds (taken here as a run takes it) stops a second run at once."""
    import fcntl

    output = tmp_path / "out"
    (output / "runs").mkdir(parents=True)
    with open(output / "runs" / ".lock", "w") as held:
        held.write("pid 4242, run 20261201T000000Z-abcdef\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        done = _cli("run", "--config", str(_config(tmp_path, str(output))), "--prefect")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"bansos-merge: error: another bansos-merge run (pid 4242, run 20261201T000000Z-abcdef) is writing to {output}: "
        "wait for it to finish, or use another --output"
    ]
    assert "Prefect" not in done.stdout
