"""Peak memory as input grows: `bansos-merge run` end to end on samples of several sizes.

    python benchmarks/bench_memory_scale.py                       # 920,000 and 4,600,000 people
    python benchmarks/bench_memory_scale.py --people 200000 920000 [--json FILE]

Each sample (`bansos-merge sample`, seed `--seed`) is generated into ``--cache`` or reused
from there, as in bench_link_scale.py (920,000 people give about 1.0 M input rows, 4,600,000
about 5.1 M; generating the larger takes about 5 minutes and 10 GiB). Each merge runs under
``/usr/bin/time -v``: wall time and peak RSS of the whole process, stage times from the
flow's log, and pairwise precision / recall against the sample's truth.

The table ends with each size's growth over the first: input rows, time and peak memory.
Issue 6 asks that peak memory grow clearly less than linearly with input.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_link_scale import input_rows, run_bansos, sample_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, nargs="+", default=[920_000, 4_600_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bansos-bench-cache")
    ap.add_argument("--work", type=Path, help="keep the runs and logs here (default: a temporary folder, removed)")
    ap.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    print(f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB")
    rows = []
    for people in args.people:
        sample = sample_dir(args.cache, people, args.seed)
        work = (args.work / f"people{people}") if args.work else Path(tempfile.mkdtemp(prefix="bansos-mem-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            got = run_bansos(sample, work, "cli")
        finally:
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
        n = input_rows(sample)["input_rows"]
        rows.append({"people": people, "input_rows": n, **{k: got[k] for k in ("wall_s", "peak_rss_gib", "stages_s", "pairwise", "records")}})
        print(f"  {n:,} rows: {got['wall_s']:.1f} s, peak {got['peak_rss_gib']:.2f} GiB; stages {got['stages_s']}", flush=True)

    base = rows[0]
    print("\n| input rows | wall | peak RSS | rows × | time × | memory × | precision | recall |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pw = r["pairwise"]
        print(
            f"| {r['input_rows']:,} | {r['wall_s']:.1f} s | {r['peak_rss_gib']:.2f} GiB | {r['input_rows'] / base['input_rows']:.2f} "
            f"| {r['wall_s'] / base['wall_s']:.2f} | {r['peak_rss_gib'] / base['peak_rss_gib']:.2f} "
            f"| {pw['precision']:.4f} | {pw['recall']:.4f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
