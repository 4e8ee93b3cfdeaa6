"""Issue 17's speed benchmark: `bansos-merge run` beside a competent Splink pipeline, both
starting from the same agency files, in one run.

    python benchmarks/bench_speed.py --people 1000000 [--seed 7] [--repeat K] [--work DIR] [--json FILE]

1. The sample of `--people` persons (`bansos-merge sample --seed`) is taken from ``--cache``
   (default ``$TMPDIR/bansos-bench-cache/people<N>-seed<S>``) or generated there first (not
   timed).
2. ``bansos-merge run --config SAMPLE/merge.yaml --output TMP`` (the default configuration,
   every output) under ``/usr/bin/time -v``: wall time, peak RSS, CPU %, and the time of each
   stage from its log (the ``[k/N] stage`` lines; whatever the stages are called).
3. ``splink_pipeline.py SAMPLE/merge.yaml`` in a child process under ``/usr/bin/time -v``: reads
   the same files with pandas, cleans them, trains, predicts and clusters with Splink 5 on
   DuckDB (see that module); its own step times are printed too.
4. Both are scored against ``truth/rows.parquet`` (pairwise precision / recall / F1 over the
   rows the truth expects as records, ``bansos_merge.evaluate.metrics``).

``--repeat K`` runs K rounds, alternating which system goes first, and prints each round and
the medians. The load average is printed before each process: the machine is shared.
Issue 17's targets at 1 M people: bansos-merge <= 60 s wall, <= 3 GiB peak, and less wall time
than Splink.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_link_scale import _gnu_time, prepare, read_records, truth_pairs  # noqa: E402

TARGET_WALL_S = 60.0
TARGET_RSS_GIB = 3.0
STAGE = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?)\b.*?\[(\d+)/(\d+)\]\s*([^:\n]*)")
CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?)\b")


def code_version() -> str:
    """The last commit that changed bansos-merge's code (src/, pipelines/; '+dirty' when the work
    tree differs there): the code measured, whatever happened in benchmarks/ since."""
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(HERE.parent), *a], capture_output=True, text=True).stdout.strip()

    try:
        commit = git("log", "-1", "--format=%h", "--", "src", "pipelines")
        return commit + ("+dirty" if git("status", "--porcelain", "--", "src", "pipelines") else "")
    except OSError:
        return "unknown"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return f"Python {sys.version.split()[0]}, pandas {v('pandas')}, Splink {v('splink')}, DuckDB {v('duckdb')}"


def stage_times(log_text: str) -> dict[str, float]:
    """Seconds from each ``[k/N] stage`` log line to the next one (the last stage ends at the
    last timestamped line: the flow's end). Robust to renamed or added stages."""
    marks: list[tuple[float, str]] = []
    last = None
    day = 0.0
    for line in log_text.splitlines():
        m = CLOCK.match(line)
        if not m:
            continue
        t = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) + day
        if last is not None and t < last - 43200:  # past midnight
            day += 86400.0
            t += 86400.0
        last = t
        s = STAGE.match(line)
        if s:
            marks.append((t, s[6].strip() or f"stage {s[4]}"))
    if not marks:
        return {}
    ends = [t for t, _ in marks[1:]] + [last]
    return {name: round(end - t, 2) for (t, name), end in zip(marks, ends)}


def run_bansos(sample: Path, work: Path, round_no: int) -> dict:
    exe = Path(sys.executable).with_name("bansos-merge")
    out = work / f"bansos-out-{round_no}"
    print(f"  bansos-merge run ... (load average {os.getloadavg()[0]:.2f})", flush=True)
    timing = _gnu_time([str(exe), "run", "--config", str(sample / "merge.yaml"), "--output", str(out)],
                       work / f"bansos-{round_no}.log")
    log_text = Path(timing["log"]).read_text(errors="replace")
    timing["stages_s"] = stage_times(log_text)
    if timing["exit"] != 0:
        raise SystemExit(f"bansos-merge run exited {timing['exit']} after {timing['wall_s']:.1f} s; see {timing['log']}")
    records = read_records(out / "latest" / "records.parquet", ["source", "record_id", "person_id"])
    timing["records"] = len(records)
    timing["pairwise"] = truth_pairs(sample, records, records["person_id"].to_numpy(dtype=object))
    shutil.rmtree(out, ignore_errors=True)
    return timing


def run_splink(sample: Path, work: Path, round_no: int, seed: int | None) -> dict:
    out = work / f"splink-clusters-{round_no}.parquet"
    print(f"  Splink pipeline ... (load average {os.getloadavg()[0]:.2f})", flush=True)
    cmd = [sys.executable, str(HERE / "splink_pipeline.py"), str(sample / "merge.yaml"), str(out)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    timing = _gnu_time(cmd, work / f"splink-{round_no}.log")
    if timing["exit"] != 0:
        raise SystemExit(f"the Splink pipeline exited {timing['exit']}; see {timing['log']}")
    line = next(x for x in Path(timing["log"]).read_text().splitlines() if x.startswith("SPLINK "))
    timing.update(json.loads(line[len("SPLINK "):]))
    got = pd.read_parquet(out)
    timing["pairwise"] = truth_pairs(sample, got, got["cluster_id"].to_numpy())
    out.unlink()
    return timing


def _f(x, d: int = 4) -> str:
    return "-" if x is None else f"{x:.{d}f}"


def _row(label: str, r: dict) -> str:
    p = r["pairwise"]
    return (f"{label:<14} {r['wall_s']:>7.1f} {r['peak_rss_gib']:>8.2f} {r['cpu_percent']:>5} {r['load_before']:>5.2f} "
            f"{_f(p['precision']):>9} {_f(p['recall']):>7} {_f(p['f1']):>7}")


def report(people: int, seed: int, rows: dict, rounds: list[dict]) -> dict:
    head = f"{'system':<14} {'wall s':>7} {'peak GiB':>8} {'CPU%':>5} {'load':>5} {'precision':>9} {'recall':>7} {'F1':>7}"
    print()
    print(f"{people:,} people (seed {seed}): {rows['input_rows']:,} input rows, {rows['expected_records']:,} expected "
          f"records; bansos-merge {code_version()}, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; {versions()}")
    for i, r in enumerate(rounds, 1):
        print(f"round {i} ({r['first']} first)")
        print(head)
        for key, label in (("bansos", "bansos-merge"), ("splink", "Splink 5")):
            if key in r:
                print(_row(label, r[key]))
        if "bansos" in r:
            stages = r["bansos"]["stages_s"]
            other = r["bansos"]["wall_s"] - sum(stages.values())
            print("  bansos-merge stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
                  + f"; before the first stage (interpreter, imports, Prefect's start) and after the last {other:.1f} s")
        if "splink" in r:
            print("  Splink steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["splink"]["seconds"].items())
                  + f"; {r['splink']['predicted_pairs']:,} pairs >= {0.2}, {r['splink']['pairs_at_cluster_threshold']:,} >= 0.95")
        if "bansos" in r and "splink" in r:
            print(f"  ratio bansos-merge / Splink wall time: {r['bansos']['wall_s'] / r['splink']['wall_s']:.2f}")
    summary: dict = {}
    for key in ("bansos", "splink"):
        runs = [r[key] for r in rounds if key in r]
        if runs:
            summary[key] = {"wall_s": statistics.median(x["wall_s"] for x in runs),
                            "peak_rss_gib": statistics.median(x["peak_rss_gib"] for x in runs),
                            "pairwise": runs[-1]["pairwise"]}
    if "bansos" in summary:
        b = summary["bansos"]
        stage_names = list(rounds[0]["bansos"]["stages_s"])
        b["stages_s"] = {k: statistics.median(r["bansos"]["stages_s"].get(k, 0.0) for r in rounds) for k in stage_names}
        verdict = [f"wall {b['wall_s']:.1f} s vs {TARGET_WALL_S:.0f} s " + ("MET" if b["wall_s"] <= TARGET_WALL_S else "MISSED"),
                   f"peak {b['peak_rss_gib']:.2f} GiB vs {TARGET_RSS_GIB:.0f} GiB "
                   + ("MET" if b["peak_rss_gib"] <= TARGET_RSS_GIB else "MISSED")]
        if "splink" in summary:
            summary["ratio"] = b["wall_s"] / summary["splink"]["wall_s"]
            verdict.append(f"{summary['ratio']:.2f} x Splink's wall time (target < 1) " + ("MET" if summary["ratio"] < 1 else "MISSED"))
        print()
        print(f"{'medians of ' + str(len(rounds)) + ' rounds' if len(rounds) > 1 else 'summary'}: "
              + "; ".join(f"{k} {v['wall_s']:.1f} s / {v['peak_rss_gib']:.2f} GiB" for k, v in summary.items() if isinstance(v, dict)))
        print("issue 17 targets" + (" (set for 1 M people)" if people < 1_000_000 else "") + ": " + "; ".join(verdict))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7, help="the sample's generator seed (default 7)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bansos-bench-cache")
    ap.add_argument("--repeat", type=int, default=1, help="rounds, alternating which system runs first")
    ap.add_argument("--splink-seed", type=int, help="Splink's sampling seed (default: splink_pipeline's)")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--skip-bansos", action="store_true")
    ap.add_argument("--work", type=Path, help="keep the GNU time logs here (default: a temporary folder, removed)")
    ap.add_argument("--json", type=Path, help="write every figure as JSON here")
    args = ap.parse_args(argv)
    sample, rows, work = prepare(args.cache, args.people, args.seed, args.work, "bench-speed-")
    systems = [s for s in ("bansos", "splink") if not getattr(args, f"skip_{s}")]
    rounds = []
    try:
        for i in range(1, args.repeat + 1):
            order = systems if i % 2 else systems[::-1]
            print(f"round {i}/{args.repeat}", flush=True)
            r: dict = {"first": "bansos-merge" if order[0] == "bansos" else "Splink"}
            for system in order:
                r[system] = run_bansos(sample, work, i) if system == "bansos" else run_splink(sample, work, i, args.splink_seed)
            rounds.append(r)
        summary = report(args.people, args.seed, rows, rounds)
        if args.json:
            args.json.write_text(json.dumps(
                {"people": args.people, "seed": args.seed, "rows": rows, "rounds": rounds, "summary": summary,
                 "date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "code": code_version(),
                 "load_after": os.getloadavg()},
                indent=2, default=float) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
