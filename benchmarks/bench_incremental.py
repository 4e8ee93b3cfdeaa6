"""Issue 18's incremental-run benchmark: a full run, an agency's update, the incremental run, and a
full run on the updated files, side by side in one run.

    python benchmarks/bench_incremental.py --sample /work/data2/s1000000 [--work DIR]
        [--scenario update|add] [--list dukcapil --remove 0.005 --change 0.005 --add 0.005]
        [--later bpnt,bkn_asn] [--baseline-python /work/main/.venv/bin/python] [--json FILE]

`--sample`: a folder written by `bansos-merge sample` (its inputs are linked into --work, never
written). Scenarios:
  update  the list `--list` (a CSV) is resent (bansos_merge.sample.update.resend): its before
          version is merged in full, then the after version (rows removed, changed, added) is
          merged incrementally, and in full;
  add     a full run on every source but `--later`, then an incremental run with all of them,
          and a full run on all of them.
Both full runs after the first start from the same previous run as the incremental one (copies
of its output folder): carrying person IDs over is part of what a run costs.
Prints each run's wall time and stages (from its log), the incremental run's share of the full
run's wall time, what it reused, and the equivalence figures: the share of records whose person
holds the same records in both runs, and each run's pairwise precision / recall against the
truth. `--baseline-python`: also a full run of another build (say main's), to see what writing
the state costs a full run. The load average is printed before each run: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from bansos_merge.evaluate.metrics import pairwise_scores
from bansos_merge.sample.update import resend

CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?)\s*\|")
STAGE = re.compile(r"\[(\d+)/(\d+)\]\s*([^:\n]*)")


def _seconds(line: str) -> float | None:
    m = CLOCK.match(line)
    return None if m is None else int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def stage_times(log: str) -> dict[str, float]:
    """Each numbered stage's seconds, from the run's log (the last stage ends at "run published")."""
    marks = []
    for line in log.splitlines():
        at = _seconds(line)
        if at is None:
            continue
        m = STAGE.search(line)
        if m:
            marks.append((m.group(3).strip(), at))
        elif "run published" in line:
            marks.append(("end", at))
    return {name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])}


def run(python: str, config: Path, out: Path, log: Path, *flags: str) -> dict:
    load = os.getloadavg()[0]
    cmd = [python, "-m", "bansos_merge.cli", "run", "--config", str(config), "--output", str(out), "--no-prefect", *flags]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    wall = time.perf_counter() - started
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}); see {log}")
    manifest = json.loads((out / "latest" / "manifest.json").read_text())
    return {"wall_s": round(wall, 2), "load_before": round(load, 2), "stages_s": stage_times(done.stderr), "manifest": manifest,
            "run": str((out / "latest").resolve())}


def records(run_dir: str) -> pd.DataFrame:
    frame = pd.read_parquet(Path(run_dir) / "records.parquet", columns=["source", "record_id", "person_id"])
    return frame.astype({"source": str, "record_id": str})


def same_persons(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Share of records whose person holds the same records in both runs."""
    m = a.merge(b, on=["source", "record_id"], suffixes=("_a", "_b"), how="outer")
    one_a = m.groupby("person_id_a")["person_id_b"].transform("nunique") == 1
    one_b = m.groupby("person_id_b")["person_id_a"].transform("nunique") == 1
    return float((one_a & one_b & m["person_id_a"].notna() & m["person_id_b"].notna()).mean())


def pairwise(frame: pd.DataFrame, truth: pd.DataFrame) -> dict:
    m = frame.merge(truth, on=["source", "record_id"], suffixes=("", "_true"))
    s = pairwise_scores(m["person_id_true"].to_numpy(), m["person_id"].to_numpy())
    return {"precision": s["precision"], "recall": s["recall"]}


def _config(sample: Path, work: Path, name: str, drop: set[str]) -> Path:
    raw = yaml.safe_load((sample / "merge.yaml").read_text())
    raw["sources"] = [s for s in raw["sources"] if s["name"] not in drop]
    path = work / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def prepare(sample: Path, work: Path) -> None:
    """The sample's inputs linked into `work` (read only, never written)."""
    work.mkdir(parents=True, exist_ok=True)
    for f in sample.iterdir():
        if f.is_file() and f.suffix in (".csv", ".xlsx", ".xls") and not (work / f.name).exists():
            (work / f.name).symlink_to(f.resolve())


def du(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "bansos-bench-incremental")
    ap.add_argument("--scenario", choices=("update", "add"), default="update")
    ap.add_argument("--list", default="dukcapil", help="update: the CSV source resent")
    ap.add_argument("--name-column", default="NAMA_LGKP", help="update: the list's name column (a change edits it)")
    ap.add_argument("--remove", type=float, default=0.005)
    ap.add_argument("--change", type=float, default=0.005)
    ap.add_argument("--add", type=float, default=0.0)
    ap.add_argument("--later", default="bpnt,bkn_asn", help="add: the sources the incremental run adds")
    ap.add_argument("--retrain", action="store_true", help="the incremental run with --retrain")
    ap.add_argument("--baseline-python", help="also a full run of another build's python (its state-less cost)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    sample, work = args.sample.resolve(), args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    prepare(sample, work)
    truth = pd.read_parquet(sample / "truth" / "rows.parquet", columns=["source", "record_id", "row_number", "person_id"])
    truth = truth.astype({"source": str, "record_id": str})
    every = _config(sample, work, "merge.yaml", set())
    python = sys.executable
    flags = ["--incremental", *(["--retrain"] if args.retrain else [])]
    result: dict = {"sample": str(sample), "scenario": args.scenario, "uptime": os.popen("uptime").read().strip()}
    print(result["uptime"], flush=True)

    if args.scenario == "update":
        src = next(s for s in yaml.safe_load(every.read_text())["sources"] if s["name"] == args.list)
        mine = truth["source"] == args.list
        (work / src["path"]).unlink()
        update = resend(sample / src["path"], truth[mine].sort_values("row_number"), args.name_column, not src.get("id_column"),
                        work / src["path"], work / "after.csv", args.remove, args.change, args.add)
        truth = pd.concat([truth[~mine], update.after], ignore_index=True)
        result["update"] = {"list": args.list, "removed": update.removed, "changed": update.changed, "added": update.added}
        print(f"update of {args.list}: {update.removed:,} rows removed, {update.changed:,} changed, {update.added:,} added", flush=True)
        before_config, after_config = every, every
    else:
        before_config, after_config = _config(sample, work, "some.yaml", set(args.later.split(","))), every

    result["full_before"] = run(python, before_config, work / "out", work / "full_before.log")
    # The full runs start from the same previous run as the incremental one (its person IDs
    # carried over: part of a run's cost): copies of the output folder, files hard-linked
    # (a published run's files are never written again).
    for copy in ("out_full", "out_base"):
        subprocess.run(["cp", "-al", str(work / "out"), str(work / copy)], check=True)
    if args.scenario == "update":
        os.replace(work / "after.csv", work / src["path"])
    result["incremental"] = run(python, after_config, work / "out", work / "incremental.log", *flags)
    result["full"] = run(python, after_config, work / "out_full", work / "full.log")
    if args.baseline_python:
        result["baseline_full"] = run(args.baseline_python, after_config, work / "out_base", work / "baseline.log")

    inc, full = records(result["incremental"]["run"]), records(result["full"]["run"])
    result["equivalence"] = {"same_persons": same_persons(inc, full), "incremental": pairwise(inc, truth), "full": pairwise(full, truth)}
    result["state_bytes"] = du(Path(result["full"]["run"]) / "state")
    result["share_of_full"] = round(result["incremental"]["wall_s"] / result["full"]["wall_s"], 3)

    for name in ("full_before", "incremental", "full", "baseline_full"):
        if name in result:
            r = result[name]
            stages = ", ".join(f"{k} {v}" for k, v in r["stages_s"].items())
            print(f"{name:>13}: {r['wall_s']:7.2f} s wall (load {r['load_before']}): {stages}", flush=True)
    m = result["incremental"]["manifest"]
    print(f"incremental run: {result['share_of_full']:.1%} of the full run's wall time; model {m['incremental']['model']}; "
          f"pairs {m['incremental']['pairs']}; link steps {m['incremental'].get('link_s')}")
    for name, c in m["incremental"]["sources"].items():
        if c["added"] or c["removed"] or c["changed"]:
            print(f"  {name}: {c}")
    print(f"  sources read: {m['incremental']['sources_read']}")
    e = result["equivalence"]
    print(f"same persons: {e['same_persons']:.5f}; pairwise P/R incremental {e['incremental']['precision']:.4f} / "
          f"{e['incremental']['recall']:.4f}, full {e['full']['precision']:.4f} / {e['full']['recall']:.4f}")
    print(f"state folder: {result['state_bytes'] / 2**20:.1f} MiB; {os.popen('uptime').read().strip()}")
    if args.json:
        for name in ("full_before", "incremental", "full", "baseline_full"):
            if name in result:
                result[name]["manifest"] = {k: result[name]["manifest"].get(k) for k in ("mode", "incremental", "stages_s", "persons")}
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
