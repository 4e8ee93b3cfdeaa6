"""`bansos-merge run`'s fixed overhead: a temporary Prefect server per run vs reusing the one
`bansos-merge server start` keeps running (issue 17).

Runs the merge of CONFIG (default: the bundled sample) N times each way, interleaved, after a
warm-up round, in a Prefect home and state folder of its own, and prints the median wall time
and the part outside the flow (from Prefect's "Beginning flow run" and "Finished in state" log
lines).

    .venv/bin/python benchmarks/bench_prefect_server.py [--runs 5] [--config sample_data/merge.yaml]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "bansos_merge.cli"]
FLOW_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) \| INFO .*(?:Beginning flow run|Finished in state)", re.M)


def flow_seconds(log: str) -> float:
    stamps = [dt.datetime.strptime(t, "%H:%M:%S.%f") for t in FLOW_LINE.findall(log)]
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) >= 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", default="sample_data/merge.yaml")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bansos-bench-prefect-"))
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(work / "prefect"))
    env.pop("PREFECT_API_URL", None)
    ways = {"temporary": dict(env, XDG_STATE_HOME=str(work / "none")), "reuse": dict(env, XDG_STATE_HOME=str(work / "server"))}
    subprocess.run(CLI + ["server", "start"], env=ways["reuse"], check=True)
    times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    try:
        for round_ in range(args.runs + 1):
            for way, way_env in ways.items():
                started = time.perf_counter()
                done = subprocess.run(
                    CLI + ["run", "--config", args.config, "--output", str(work / f"out-{way}")], env=way_env, capture_output=True, text=True
                )
                wall = time.perf_counter() - started
                if done.returncode != 0:
                    sys.exit(done.stderr[-3000:])
                if round_:  # the first round warms Prefect's database and the page cache
                    times[way].append((wall, flow_seconds(done.stdout + done.stderr)))
    finally:
        subprocess.run(CLI + ["server", "stop"], env=ways["reuse"])
        shutil.rmtree(work, ignore_errors=True)
    for way, rows in times.items():
        walls = [w for w, _ in rows]
        outside = statistics.median(w - f for w, f in rows)
        print(f"{way:10s} wall median {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}); outside the flow {outside:.1f} s")


if __name__ == "__main__":
    main()
