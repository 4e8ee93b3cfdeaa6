"""The test session's own hygiene (tests/conftest.py), checked on a real inner pytest run: its
Prefect and bansos-merge state is in a temporary folder, and a test module that leaves a
process running fails, naming it, and the process is killed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil

pytest_plugins = ["pytester"]

LEAVES_ONE = '''
import os, subprocess
from pathlib import Path

def test_leaves_a_process(tmp_path):
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)  # a server nobody stops
    Path(os.environ["PID_FILE"]).write_text(str(proc.pid))
    Path(os.environ["STATE_FILE"]).write_text(os.environ["PREFECT_HOME"] + "\\n" + os.environ["XDG_STATE_HOME"])
'''


def test_a_module_that_leaves_a_process_fails_and_the_process_is_killed(pytester, tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("conftest.py"), pytester.path / "conftest.py")
    pytester.makepyfile(test_inner=LEAVES_ONE)
    pid_file, state_file = tmp_path / "pid", tmp_path / "state"
    os.environ.update(PID_FILE=str(pid_file), STATE_FILE=str(state_file))
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    finally:
        del os.environ["PID_FILE"], os.environ["STATE_FILE"]
    pid = int(pid_file.read_text())
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*processes left running after the module's tests (now killed):*", f"*pid {pid}: sleep 600*"])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    prefect_home, xdg_state = state_file.read_text().splitlines()
    session = Path(prefect_home).parent
    assert session.name.startswith("bansos-merge-tests-") and Path(xdg_state).parent == session
    assert not session.exists()  # removed when the inner session ended
