"""Time the synthetic-data generator at a given size: wall time and peak RSS.

    python benchmarks/bench_generate.py --people 1000000 [--seed 1] [--out DIR] [--keep]

Runs `generate_sample` in a child process under GNU time (`/usr/bin/time -v`) and prints the
wall time, the peak resident set size and the generator's row counts. Without --out the sample
goes to a temporary folder that is removed afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from pathlib import Path
from bansos_merge.sample import generate_sample
t = time.perf_counter()
summary = generate_sample(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
summary["generate_seconds"] = round(time.perf_counter() - t, 2)
print("SUMMARY " + json.dumps(summary))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary output folder")
    args = ap.parse_args(argv)

    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        print("GNU time (/usr/bin/time) is required: apt-get install time", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="bansos-sample-"))
    try:
        proc = subprocess.run(
            [gnu_time, "-v", sys.executable, "-c", CHILD, str(args.people), str(args.seed), str(out)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
            return proc.returncode
        summary = json.loads(next(line[8:] for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")))
        wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", proc.stderr).group(1)
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"people:          {args.people:,} (seed {args.seed})")
        print(f"wall time:       {wall} (generate_sample: {summary['generate_seconds']} s)")
        print(f"peak RSS:        {rss_kb / 1024 / 1024:.2f} GiB")
        print(f"output on disk:  {size / 1024 / 1024:.1f} MiB in {out}")
        for name, s in summary["sources"].items():
            print(f"  {name:<28} {s['rows']:>10,} rows  {s['records']:>10,} records  {s['file']}")
        print("conditions:      " + ", ".join(f"{k} {v:,}" for k, v in summary["conditions"].items()))
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
