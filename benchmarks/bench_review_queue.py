"""The review queue at the scales users run: its size, its yield, and what an analyst's answers buy.

    python benchmarks/bench_review_queue.py queue --people 20000 200000 1000000 [--seed 7] [--cache DIR]
    python benchmarks/bench_review_queue.py simulate --people 200000 --items 0 100 500 2000 [--seed 7]

`queue`: for each sample (`bansos-merge sample`, cached in ``--cache``), `bansos-merge run` with
the default config under ``/usr/bin/time -v`` (wall time and peak RSS of the whole process),
then `bansos-merge evaluate`: pairwise precision / recall, and the queue's pairs, pairs per 100
records, yield (queued pairs whose truth differs from the run's decision), yield of its first
tenth and the run's pairwise errors the queue does not ask about.

`simulate`: on one sample, for each N in ``--items``, `bansos-merge evaluate --simulate-review N`
from a fresh run (an analyst answers the first N items of the queue from the truth, the merge
runs again, once learning from the answers and once with the answers as links only); prints
the pairwise F1 before, after, and with links only (what learning added beyond the pairs the
analyst decided directly), and the next queue.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_link_scale import _gnu_time, sample_dir  # noqa: E402

EXE = Path(sys.executable).with_name("bansos-merge")


def evaluate(out: Path, sample: Path, work: Path, *extra: str) -> dict:
    report = work / f"evaluate-{len(list(work.glob('evaluate-*.json')))}.json"
    with (work / "evaluate.log").open("a") as log:
        subprocess.run([str(EXE), "evaluate", "--run", str(out), "--truth", str(sample), "--json", str(report), *extra],
                       check=True, stdout=log, stderr=subprocess.STDOUT)
    return json.loads(report.read_text(encoding="utf-8"))


def merge(sample: Path, work: Path) -> tuple[Path, dict]:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    timed = _gnu_time([str(EXE), "run", "--config", str(sample / "merge.yaml"), "--output", str(out)], work / "run.log")
    if timed["exit"] != 0:
        raise SystemExit(f"bansos-merge run failed; see {timed['log']}")
    return out, timed


def queue_table(people: list[int], seed: int, cache: Path) -> list[dict]:
    rows = []
    for n in people:
        sample = sample_dir(cache, n, seed)
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
            work = Path(tmp)
            out, timed = merge(sample, work)
            result = evaluate(out, sample, work)
            manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))
        q, pw = result["queue"], result["clustering"]["pairwise"]
        rows.append({"people": n, "records": q["records"], "wall_s": round(timed["wall_s"], 1),
                     "peak_rss_gib": round(timed["peak_rss_gib"], 2), "precision": pw["precision"], "recall": pw["recall"],
                     "queue": q, "decided_automatically": manifest["review"]["decided_automatically"],
                     "expected_errors": manifest["review"]["expected_errors"]})
        print(f"{n:>9,} people  {q['records']:>9,} records  {timed['wall_s']:6.1f} s  {timed['peak_rss_gib']:5.2f} GiB  "
              f"P {pw['precision']:.4f}  R {pw['recall']:.4f}  queue {q['pairs']:>6,} pairs ({q['items']:,} items, "
              f"{q['group_items']:,} groups)  {q['per_100_records']:.3f}/100  yield {q['yield']:.3f}  "
              f"first tenth {q['first_tenth']['yield']:.3f}  expected wrong {manifest['review']['expected_errors']:.0f}, "
              f"found wrong {q['worth_it']:,}  errors not asked {q['errors_not_in_queue']:,}", flush=True)
    return rows


def simulate(people: int, items: list[int], seed: int, cache: Path) -> list[dict]:
    sample = sample_dir(cache, people, seed)
    rows = []
    for n in items:
        with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
            work = Path(tmp)
            out, _ = merge(sample, work)
            if n == 0:
                result = evaluate(out, sample, work)
                pw = result["clustering"]["pairwise"]
                entry = {"items": 0, "answered": 0, "f1_before": pw["f1"], "f1_after": pw["f1"], "f1_links_only": pw["f1"],
                         "queue_after": result["queue"]}
            else:
                sim = evaluate(out, sample, work, "--simulate-review", str(n), "--to", str(work / "sim"))
                before, after = sim["history"][0], sim["history"][-1]
                entry = {"items": n, "answered": after["pairs_answered"], "f1_before": before["f1"], "f1_after": after["f1"],
                         "f1_links_only": after["links_only_f1"], "queue_after": after["queue"], "labels": after["labels"]}
        rows.append(entry)
        q = entry["queue_after"] or {}
        print(f"N {n:>5,}  answered {entry['answered']:>5,} pairs  F1 {entry['f1_before']:.4f} -> {entry['f1_after']:.4f}  "
              f"(links only {entry['f1_links_only']:.4f}; learning added {entry['f1_after'] - entry['f1_links_only']:+.4f})  "
              f"next queue {q.get('pairs', 0):,} pairs, yield {q.get('yield') or 0:.3f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["queue", "simulate"])
    ap.add_argument("--people", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    ap.add_argument("--items", type=int, nargs="+", default=[0, 100, 500, 2000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bansos-bench-cache")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    rows = (queue_table(args.people, args.seed, args.cache) if args.mode == "queue"
            else simulate(args.people[0], args.items, args.seed, args.cache))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
