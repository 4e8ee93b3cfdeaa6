"""A run on a Dask cluster of worker processes on loopback: the driver's and each worker's
peak RSS and the wall time, and whether its persons are the local run's.

    python benchmarks/bench_dask_scale.py --sample /work/data2/s1000000 [--workers 2] [--memory-limit 8GiB]
                                          [--work DIR] [--no-local] [--json FILE]

The sample's input files are linked into a scratch folder (the sample stays read-only). A
`dask scheduler` and `--workers` `dask worker` processes (one thread each, `--memory-limit`
each) are started on 127.0.0.1; `bansos-merge run --dask-address` runs on them. The driver is
the `bansos-merge run` process; a worker is its `dask worker` process and the nanny's worker
process under it. RSS is sampled every 0.2 s with psutil (a peak shorter than that can be
missed). Then the same merge runs locally (no Dask) into a folder with the same output key,
and the two runs' person IDs per record are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import yaml

BIN = Path(sys.executable).parent
GIB = 2**30


class PeakRSS:
    """The largest RSS seen of a process tree, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / GIB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_sample(sample: Path, work: Path) -> Path:
    """The sample's inputs linked into `work`, with its merge.yaml: a run writes only there."""
    work.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((sample / "merge.yaml").read_text(encoding="utf-8"))
    for source in config["sources"]:
        link = work / source["path"]
        if not link.exists():
            link.symlink_to(sample / source["path"])
    config.pop("output_dir", None)
    (work / "merge.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return work / "merge.yaml"


def run(config: Path, output: Path, env: dict, *extra: str) -> tuple[float, float, str]:
    """`bansos-merge run`: (wall s, the driver's peak RSS GiB, its log)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "bansos-merge"), "run", "--config", str(config), "--output", str(output), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    peak = PeakRSS(proc.pid)
    log, _ = proc.communicate()
    wall, rss = time.perf_counter() - started, peak.stop()
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{log[-4000:]}")
    return wall, rss, log


def persons(output: Path) -> dict:
    table = pq.read_table(output / "latest" / "records.parquet", columns=["source", "record_id", "person_id"]).to_pandas()
    return dict(zip(table["source"].astype(str) + ":" + table["record_id"].astype(str), table["person_id"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="8GiB")
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temporary folder, removed)")
    ap.add_argument("--no-local", action="store_true", help="skip the local run and the comparison of persons")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bansos-dask-"))
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    config = scratch_sample(args.sample.resolve(), work / "inputs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    cluster = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    time.sleep(3)
    cluster += [
        subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--memory-limit", args.memory_limit, "--no-dashboard"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work)
        for _ in range(args.workers)
    ]
    watched = [PeakRSS(p.pid) for p in cluster[1:]]
    try:
        time.sleep(5)
        wall, driver, log = run(config, work / "dask", env, "--dask-address", address)
        (work / "dask.log").write_text(log, encoding="utf-8")
    finally:
        workers = [w.stop() for w in watched]
        for p in reversed(cluster):
            p.terminate()
        for p in cluster:
            p.wait(timeout=60)
    manifest = json.loads((work / "dask" / "latest" / "manifest.json").read_text())
    result = {
        "totals": manifest["totals"], "persons": manifest["persons"], "links": manifest["links"],
        "wall_s": round(wall, 1), "driver_peak_gib": round(driver, 2), "worker_peak_gib": [round(w, 2) for w in workers],
        "stages_s": manifest.get("stages_s"), "sharded": "a pass on the Dask cluster" in log,
    }
    if not args.no_local:
        (work / "local" / "runs").mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / "dask" / "runs" / ".output.key", work / "local" / "runs" / ".output.key")
        local_wall, local_peak, _ = run(config, work / "local", env)
        result.update(local_wall_s=round(local_wall, 1), local_peak_gib=round(local_peak, 2),
                      persons_identical=persons(work / "dask") == persons(work / "local"))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
