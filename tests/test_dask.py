"""The same merge on Prefect's local task runner and on a Dask LocalCluster with two worker
processes gives the same outputs, byte for byte but for the run id; on the cluster, blocking and
comparing are sharded into buckets on the workers (run/sharded_link.py), with the same blocking
report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from bansos_merge.sample.generate import generate_sample
from bansos_merge.output_key import KEY_FILE

pytest.importorskip("prefect_dask")
CLI = [str(Path(sys.executable).parent / "bansos-merge")]
OUTPUTS = ("records", "rejects", "registry", "conflicts", "review", "id_history")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dask") / "sample"
    generate_sample(2500, 9, out)
    config = yaml.safe_load((out / "merge.yaml").read_text())
    # Small partitions and chunks, so the work really is cut into many tasks.
    config["execution"] = {"partition_rows": 1000, "pair_chunk": 10_000, "person_partition_rows": 400}
    (out / "merge.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def _run(config: Path, output: Path, *extra: str) -> str:
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run(
        CLI + ["run", "--config", str(config), "--output", str(output), *extra], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_local_and_dask_runs_give_identical_outputs(sample: Path, tmp_path: Path) -> None:
    local_log = _run(sample / "merge.yaml", tmp_path / "local")
    # New person IDs are hashed under the output folder's key: the second folder gets the first's.
    (tmp_path / "dask" / "runs").mkdir(parents=True)
    shutil.copy2(tmp_path / "local" / "runs" / KEY_FILE, tmp_path / "dask" / "runs" / KEY_FILE)
    dask_log = _run(sample / "merge.yaml", tmp_path / "dask", "--dask-workers", "2")
    assert "a pass on the Dask cluster" in dask_log and "a pass on the Dask cluster" not in local_log
    manifests = [json.loads((tmp_path / run / "latest" / "manifest.json").read_text()) for run in ("local", "dask")]
    assert manifests[0]["linkage"]["blocking"] == manifests[1]["linkage"]["blocking"]
    for name in OUTPUTS:
        local = pq.read_table(tmp_path / "local" / "latest" / f"{name}.parquet")
        dask = pq.read_table(tmp_path / "dask" / "latest" / f"{name}.parquet")
        if "run_id" in local.column_names:
            local, dask = local.drop(["run_id"]), dask.drop(["run_id"])
        assert local.num_rows > 0 or name == "rejects"
        assert local.equals(dask), f"{name}.parquet differs between the local and the Dask run"
