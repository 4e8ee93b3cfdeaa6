"""The merge as an operator runs it: the real CLI and Prefect, interrupted, killed, and
scheduled on a real Prefect server started on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bansos_merge.sample.generate import generate_sample

BIN = Path(sys.executable).parent
CLI = [str(BIN / "bansos-merge")]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    env.pop("PREFECT_API_URL", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("orchestration") / "sample"
    generate_sample(4000, 5, out)
    return out


def _run(config: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["run", "--config", str(config)], capture_output=True, text=True, env=_env(), **kw)


def _start(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        CLI + ["run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        # pytest may run with SIGINT ignored in children; a data officer's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(proc: subprocess.Popen, marker: str) -> list[str]:
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen[-20:])}")


def _latest_is_complete(out: Path) -> str:
    latest = out / "latest"
    target = latest.resolve()
    manifest = json.loads((target / "manifest.json").read_text())
    assert pq.read_metadata(target / "records.parquet").num_rows == manifest["totals"]["accepted"]
    return target.name


def test_ctrl_c_stops_cleanly_without_publishing(sample: Path) -> None:
    first = _run(sample / "merge.yaml")
    assert first.returncode == 0, first.stderr
    before = _latest_is_complete(sample / "out")

    proc = _start(sample / "merge.yaml")
    _wait_for(proc, "[2/5] link")
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130
    assert "interrupted; nothing was published" in rest
    assert "Traceback" not in rest
    assert _latest_is_complete(sample / "out") == before
    assert not list((sample / "out" / "runs").glob(".*.partial"))


def test_killed_while_publishing_leaves_latest_whole(sample: Path) -> None:
    before = _latest_is_complete(sample / "out")
    proc = _start(sample / "merge.yaml")
    _wait_for(proc, "[5/5] publish")
    proc.kill()  # SIGKILL: no cleanup runs at all
    proc.wait(timeout=60)
    after = _latest_is_complete(sample / "out")  # the old run, or the new one if it had already switched
    runs = sorted(p.name for p in (sample / "out" / "runs").iterdir() if not p.name.startswith("."))
    assert after in runs and (after == before or after == runs[-1])
    # The next run clears whatever half-written folder the killed one left behind.
    again = _run(sample / "merge.yaml")
    assert again.returncode == 0, again.stderr
    assert not list((sample / "out" / "runs").glob(".*.partial"))
    _latest_is_complete(sample / "out")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not come up in {seconds}s")


_TRIGGER = """
import asyncio, json, sys
from prefect.deployments import run_deployment
from prefect.client.orchestration import get_client

flow_run = run_deployment(sys.argv[1], timeout=600)
async def artifact():
    async with get_client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["bansos-merge-run"])))
        return [a.data for a in arts]
print(json.dumps({"state": flow_run.state.type.value, "artifacts": asyncio.run(artifact())}))
"""


def test_scheduled_deployment_on_a_real_prefect_server(sample: Path, tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=api, PREFECT_UI_ENABLED="false")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    serve = None
    try:
        _wait_http(f"{api}/health", 180)
        serve = subprocess.Popen(
            CLI + ["serve", "--config", str(sample / "merge.yaml"), "--cron", "0 2 * * *", "--name", "ci-merge"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        _wait_for(serve, "serving deployment")
        deadline = time.time() + 120
        while time.time() < deadline:  # the deployment appears once the runner has registered it
            check = subprocess.run(
                [str(BIN / "prefect"), "deployment", "inspect", "bansos-merge/ci-merge"], capture_output=True, text=True, env=env
            )
            if check.returncode == 0:
                break
            time.sleep(2)
        assert "0 2 * * *" in check.stdout

        before = {p.name for p in (sample / "out" / "runs").iterdir()} if (sample / "out" / "runs").exists() else set()
        triggered = subprocess.run(
            [sys.executable, "-c", _TRIGGER, "bansos-merge/ci-merge"], capture_output=True, text=True, env=env, timeout=900
        )
        assert triggered.returncode == 0, triggered.stderr[-3000:]
        result = json.loads(triggered.stdout.strip().splitlines()[-1])
        assert result["state"] == "COMPLETED"
        new_runs = {p.name for p in (sample / "out" / "runs").iterdir()} - before
        assert len(new_runs) == 1
        run_id = new_runs.pop()
        assert _latest_is_complete(sample / "out") == run_id
        summary = next(a for a in result["artifacts"] if run_id in a)
        assert "rows read" in summary and "| dukcapil | civil_registry |" in summary
    finally:
        for proc in (serve, server):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_analysts_decisions_drive_the_next_run_and_reruns_are_identical(sample: Path) -> None:
    """Decisions stored by the review app become constraints in the next `bansos-merge run`;
    and re-running the same inputs (and decisions) gives the same registry and the same IDs."""
    import pandas as pd

    from bansos_merge.decisions.store import Store
    from bansos_merge.identity import record_fingerprint

    out = sample / "out"
    assert _run(sample / "merge.yaml").returncode == 0
    latest = out / "latest"
    records = pd.read_parquet(latest / "records.parquet")
    keys = records["source"] + ":" + records["record_id"]
    fingerprint = dict(zip(keys, record_fingerprint(records)))
    pid = dict(zip(keys, records["person_id"]))
    review = pd.read_parquet(latest / "review.parquet")
    apart = review[review["left_person_id"] != review["right_person_id"]].iloc[0]
    same_left = f"{apart['left_source']}:{apart['left_record_id']}"
    same_right = f"{apart['right_source']}:{apart['right_record_id']}"
    together = records[records.duplicated("person_id", keep=False)].sort_values("person_id").head(2)
    diff_left, diff_right = (together["source"] + ":" + together["record_id"]).tolist()
    assert pid[diff_left] == pid[diff_right] and pid[same_left] != pid[same_right]

    store = Store(out / "state")
    for left, right, decision in ((same_left, same_right, "same"), (diff_left, diff_right, "different")):
        store.add_decision(left, right, decision, "ci-analyst", "checked", fingerprint[left], fingerprint[right], latest.resolve().name)

    assert _run(sample / "merge.yaml").returncode == 0
    after = pd.read_parquet(out / "latest" / "records.parquet")
    pid2 = dict(zip(after["source"] + ":" + after["record_id"], after["person_id"]))
    assert pid2[same_left] == pid2[same_right]
    assert pid2[diff_left] != pid2[diff_right]
    manifest = json.loads((out / "latest" / "manifest.json").read_text())
    assert manifest["decisions"]["applied_same"] == 1 and manifest["decisions"]["applied_different"] == 1
    registry = pd.read_parquet(out / "latest" / "registry.parquet")

    assert _run(sample / "merge.yaml").returncode == 0
    again = pd.read_parquet(out / "latest" / "registry.parquet")
    pd.testing.assert_frame_equal(registry, again)
    rerun = pd.read_parquet(out / "latest" / "records.parquet")
    assert dict(zip(rerun["source"] + ":" + rerun["record_id"], rerun["person_id"])) == pid2
