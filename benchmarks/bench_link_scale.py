"""End-to-end merge at scale: bansos-merge (`bansos-merge run`) beside Splink on the same records.

    python benchmarks/bench_link_scale.py --people 200000 [--seed 1] [--cache DIR] [--json FILE]
    python benchmarks/bench_link_scale.py --people 920000          # >= 1,000,000 input rows

1. The synthetic sample of `--people` persons (`bansos-merge sample`, seed `--seed`) is
   generated into ``--cache`` (default ``$TMPDIR/bansos-bench-cache/people<N>-seed<S>``) or
   reused from there; its input row count (data rows of all extracts, garbage included) is
   printed. 900,000 people give about 0.99 M rows, 920,000 about 1.01 M.
2. bansos-merge end to end: ``bansos-merge run --config <sample>/merge.yaml --output <tmp>``
   under ``/usr/bin/time -v`` (read, normalise, link, cluster, assemble, write every output,
   including the Prefect flow's own start-up): wall time and peak RSS of the whole process,
   and the time of each flow stage from its log. ``--mode library`` times the same merge
   through the library without Prefect (read, normalise, link, cluster, assemble, write every
   output of a run: the Parquet files, workbook, report and manifest), in a child process
   under GNU time as well.
3. Splink on the same normalised records: a child process under ``/usr/bin/time -v`` reads
   the normalised columns back from that run's ``records.parquet`` (the records bansos-merge
   linked, one row per accepted input row), runs ``splink_model.run_splink`` (DuckDB; train,
   predict, cluster at 0.95) and writes its cluster per record. Its wall time and peak RSS
   include the Python start, the parquet read and DuckDB; its own step times are printed too.
4. Both are scored against the sample's truth with ``bansos_merge.evaluate.metrics``
   (pairwise precision / recall / F1 over the rows the truth expects as records).

The load average is printed before each process: the machine is shared, and a busy neighbour
stretches wall times (CPU% from GNU time shows how much of a core each process got).
Issue 4's targets for 1 M rows: bansos-merge < 90 s and < 4 GiB peak, and at most half of
Splink's time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from splink_model import project_version  # noqa: E402

TARGET_WALL_S = 90.0
TARGET_RSS_GIB = 4.0
GNU_TIME = "/usr/bin/time"


def _gnu_time(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run `cmd` under GNU time; return wall seconds, peak RSS (GiB), CPU% and the exit code."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run([GNU_TIME, "-v", *cmd], stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    wall_perf = time.perf_counter() - t
    text = log.read_text(errors="replace")
    m_wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    m_rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    m_cpu = re.search(r"Percent of CPU this job got: (\d+)%", text)
    wall = wall_perf
    if m_wall:
        parts = [float(p) for p in m_wall.group(1).split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {
        "wall_s": wall,
        "peak_rss_gib": int(m_rss.group(1)) / 2**20 if m_rss else None,
        "cpu_percent": int(m_cpu.group(1)) if m_cpu else None,
        "exit": proc.returncode,
        "load_before": load,
        "log": str(log),
    }


def sample_dir(cache: Path, people: int, seed: int) -> Path:
    """The cached sample, generated first if missing (not timed as part of either system)."""
    out = cache / f"people{people}-seed{seed}"
    if (out / "merge.yaml").is_file() and (out / "truth" / "rows.parquet").is_file():
        return out
    partial = cache / f"people{people}-seed{seed}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("bansos-merge")
    print(f"generating the sample: {people:,} people, seed {seed} -> {out}", flush=True)
    t = time.perf_counter()
    subprocess.run([str(exe), "sample", "--people", str(people), "--seed", str(seed), "--out", str(partial)],
                   check=True, stdout=subprocess.DEVNULL)
    partial.rename(out)
    print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
    return out


def prepare(cache: Path, people: int, seed: int, work: Path | None, prefix: str) -> tuple[Path, dict, Path]:
    """The sample (generated if missing), its row counts, and the work folder (a temporary one
    when `work` is None)."""
    if not Path(GNU_TIME).exists():
        raise SystemExit("GNU time (/usr/bin/time) is required: apt-get install time")
    sample = sample_dir(cache, people, seed)
    rows = input_rows(sample)
    print(f"sample {sample}: {rows['input_rows']:,} input rows", flush=True)
    work = work or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    return sample, rows, work


def input_rows(sample: Path) -> dict:
    truth = pd.read_parquet(sample / "truth" / "rows.parquet", columns=["source", "expect"])
    return {
        "input_rows": len(truth),
        "expected_records": int((truth["expect"] == "record").sum()),
        "by_source": truth["source"].value_counts().to_dict(),
    }


def truth_pairs(sample: Path, keys: pd.DataFrame, predicted: np.ndarray) -> dict:
    """Pairwise scores of `predicted` (aligned with `keys`: source, record_id) on the truth."""
    from bansos_merge.evaluate.metrics import clustering_scores

    truth = pd.read_parquet(sample / "truth" / "rows.parquet", columns=["source", "record_id", "person_id", "expect"])
    truth = truth[truth["expect"] == "record"].astype({"source": str, "record_id": str})
    got = pd.DataFrame({"source": keys["source"].astype(str).to_numpy(), "record_id": keys["record_id"].astype(str).to_numpy(),
                        "pred": predicted}).drop_duplicates(["source", "record_id"])
    j = truth.merge(got, on=["source", "record_id"], how="left")
    s = clustering_scores(j["person_id"].to_numpy(dtype=object), j["pred"].to_numpy(dtype=object))
    return {**s["pairwise"], "rows_scored": s["rows"], "rows_missing": int(j["pred"].isna().sum())}


def read_records(path: Path, columns: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas(ignore_metadata=True)


def splink_child(records_parquet: str, out_parquet: str) -> int:
    """Inside the timed child: read the normalised records, run Splink, write the clusters.
    Splink's seed is bansos-merge's default linkage seed."""
    from bansos_merge.config import LinkageConfig
    from splink_model import RECORD_COLUMNS, run_splink

    seed = LinkageConfig().seed

    t = time.perf_counter()
    records = read_records(Path(records_parquet), ["source", "record_id", *RECORD_COLUMNS])
    t_read = time.perf_counter() - t
    result = run_splink(records, seed=seed)
    pd.DataFrame({"source": records["source"], "record_id": records["record_id"], "cluster": result.cluster}).to_parquet(
        out_parquet, index=False
    )
    print("SPLINK " + json.dumps({"read_s": t_read, "seconds": result.seconds, "info": result.info}, default=float))
    return 0


def bansos_child(config_path: str, out_dir: str) -> int:
    """`--mode library`, inside the timed child: the whole merge through the library, without
    Prefect: read + normalise every source, combine, link, cluster, assemble (registry,
    conflicts, review), and publish every output of a run (Parquet files, workbook, report,
    manifest) into a run folder, as the flow does (no earlier run, no analysts' decisions)."""
    from bansos_merge.cluster.resolve import resolve_with
    from bansos_merge.config import load_config
    from bansos_merge.ingest.source import read_source
    from bansos_merge.link.linker import link_records
    from bansos_merge.normalize.source import normalize_source
    from bansos_merge.publish.manifest import now_utc
    from bansos_merge.publish.outputs import assemble, combine, run_manifest, write_run
    from bansos_merge.publish.run_folder import RunFolder

    t = {"start": time.perf_counter()}
    started = now_utc()
    config = load_config(config_path, out_dir)
    sources = [normalize_source(read_source(src)) for src in config.sources]
    records, rejects = combine(sources)
    t["normalise"] = time.perf_counter()
    lk = config.linkage
    links = link_records(records, lk.seed, None, lk.max_block)
    t["link"] = time.perf_counter()
    run = RunFolder(Path(config.output_dir))
    resolution = resolve_with(config, records, links, run.run_id)
    t["cluster"] = time.perf_counter()
    outputs = assemble(sources, records, rejects, links, resolution, None)
    t["assemble"] = time.perf_counter()
    manifest = run_manifest(run.run_id, started, config, config_path, sources, links.blocking, resolution, outputs)
    write_run(run.start(), outputs, manifest, config.publish)
    run.commit(keep=config.publish.keep_runs)
    t["write"] = time.perf_counter()
    marks = ["start", "normalise", "link", "cluster", "assemble", "write"]
    print("BANSOS " + json.dumps({"seconds": {k: t[k] - t[p] for p, k in zip(marks, marks[1:])}}))
    return 0


def _stage_times(log: Path) -> dict:
    """Seconds between the flow's '[k/5] stage' log lines (Prefect's timestamps)."""
    marks = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) \|.*\[(\d)/\d\] ([a-z ]+)", line)
        if m:
            marks.append((int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), m[5].strip()))
        elif marks and "Finished in state Completed()" in line and "Flow run" in line:
            m = re.match(r"(\d\d):(\d\d):(\d\d\.\d+)", line)
            marks.append((int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), "end"))
    return {name: round(marks[i + 1][0] - t, 2) for i, (t, name) in enumerate(marks[:-1])}


def run_bansos(sample: Path, work: Path, mode: str) -> dict:
    exe = Path(sys.executable).with_name("bansos-merge")
    out = work / "bansos-out"
    print(f"bansos-merge ({mode}) ... (load average {os.getloadavg()[0]:.2f})", flush=True)
    if mode == "cli":
        cmd = [str(exe), "run", "--config", str(sample / "merge.yaml"), "--output", str(out)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--bansos-child", str(sample / "merge.yaml"), str(out)]
    timing = _gnu_time(cmd, work / "bansos-run.log")
    timing["mode"] = mode
    if mode == "cli":
        timing["stages_s"] = _stage_times(Path(timing["log"]))
    else:
        line = next((x for x in Path(timing["log"]).read_text().splitlines() if x.startswith("BANSOS ")), None)
        timing["stages_s"] = json.loads(line[len("BANSOS "):])["seconds"] if line else {}
    if timing["exit"] != 0:
        print(f"bansos-merge ({mode}) FAILED after {timing['wall_s']:.1f} s (peak {timing['peak_rss_gib']:.2f} GiB); "
              f"stages: {timing['stages_s']}; see {timing['log']}")
        raise SystemExit(1)
    run_dir = out / "latest"
    records = read_records(run_dir / "records.parquet", ["source", "record_id", "person_id"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    timing["records"] = len(records)
    timing["pairwise"] = truth_pairs(sample, records, records["person_id"].to_numpy(dtype=object))
    timing["candidate_pairs"] = manifest.get("linkage", {}).get("candidate_pairs")
    timing["records_parquet"] = str(run_dir / "records.parquet")
    return timing


def run_splink(sample: Path, work: Path, records_parquet: str) -> dict:
    out = work / "splink-clusters.parquet"
    print(f"Splink ... (load average {os.getloadavg()[0]:.2f})", flush=True)
    timing = _gnu_time([sys.executable, str(Path(__file__).resolve()), "--splink-child", records_parquet, str(out)],
                       work / "splink-run.log")
    if timing["exit"] != 0:
        raise SystemExit(f"Splink child failed; see {timing['log']}")
    line = next(x for x in Path(timing["log"]).read_text().splitlines() if x.startswith("SPLINK "))
    timing.update(json.loads(line[len("SPLINK "):]))
    got = pd.read_parquet(out)
    timing["records"] = len(got)
    timing["pairwise"] = truth_pairs(sample, got, got["cluster"].to_numpy())
    return timing


def _f(x, d=4):
    return "-" if x is None else f"{x:.{d}f}"


def report(people: int, seed: int, rows: dict, ours: dict | None, theirs: dict | None) -> None:
    print()
    print(f"{people:,} people (seed {seed}): {rows['input_rows']:,} input rows, {rows['expected_records']:,} expected records; "
          f"bansos-merge {project_version()}, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    head = (f"{'system':<26} {'records':>9} {'wall s':>7} {'peak GiB':>8} {'CPU%':>5} {'load':>5} "
            f"{'precision':>9} {'recall':>7} {'F1':>7}")
    print(head)
    print("-" * len(head))
    label_ours = "bansos-merge run (e2e)" if ours and ours.get("mode") == "cli" else "bansos-merge library e2e"
    for label, r in ((label_ours, ours), ("Splink (records -> clusters)", theirs)):
        if r is None:
            continue
        p = r["pairwise"]
        print(f"{label:<26} {r['records']:>9,} {r['wall_s']:>7.1f} {r['peak_rss_gib']:>8.2f} {r['cpu_percent']:>5} "
              f"{r['load_before']:>5.2f} {_f(p['precision']):>9} {_f(p['recall']):>7} {_f(p['f1']):>7}")
    if theirs is not None:
        st = theirs["seconds"]
        print(f"Splink inside its process: read parquet {theirs['read_s']:.1f} s; " +
              ", ".join(f"{k} {v:.1f} s" for k, v in st.items()))
        used = [f"{b['rule']} ({b['pairs']:,})" for b in theirs["info"]["blocking"] if b["used"]]
        left = [f"{b['rule']} ({b['pairs']:,})" for b in theirs["info"]["blocking"] if not b["used"] and b["pairs"]]
        print(f"  blocking rules used: {', '.join(used)}")
        if left:
            print(f"  left out (over budget): {', '.join(left)}")
        print(f"  predicted pairs >= 0.2: {theirs['info']['predicted_pairs_over_0.2']:,}; "
              f">= 0.95: {theirs['info']['pairs_at_cluster_threshold']:,}")
    if ours is not None:
        other = ours["wall_s"] - sum(ours["stages_s"].values())
        print(f"bansos-merge stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in ours["stages_s"].items())
              + f", other (interpreter, imports{', Prefect start and stop' if ours.get('mode') == 'cli' else ''}) {other:.1f} s"
              + (f"; candidate pairs: {ours['candidate_pairs']:,}" if ours.get("candidate_pairs") else ""))
        small = rows["input_rows"] < 1_000_000
        ok_wall = ours["wall_s"] < TARGET_WALL_S
        ok_rss = ours["peak_rss_gib"] < TARGET_RSS_GIB
        msg = [f"wall {ours['wall_s']:.1f} s vs {TARGET_WALL_S:.0f} s " + ("MET" if ok_wall else "MISSED")
               + (" (the targets are for 1 M rows)" if small else ""),
               f"peak {ours['peak_rss_gib']:.2f} GiB vs {TARGET_RSS_GIB:.0f} GiB " + ("MET" if ok_rss else "MISSED")]
        if theirs is not None:
            ratio = ours["wall_s"] / theirs["wall_s"]
            msg.append(f"{ratio:.2f} x Splink's time (target <= 0.5) " + ("MET" if ratio <= 0.5 else "MISSED"))
        print("targets (issue 4): " + "; ".join(msg))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bansos-bench-cache")
    ap.add_argument("--work", type=Path, help="keep the runs and logs here (default: a temporary folder, removed)")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--mode", choices=["cli", "library"], default="cli",
                    help="cli: `bansos-merge run` (default); library: the same merge and outputs through the "
                         "library, without Prefect")
    ap.add_argument("--json", type=Path, help="write the figures as JSON here")
    ap.add_argument("--splink-child", nargs=2, metavar=("RECORDS", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--bansos-child", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.splink_child:
        return splink_child(*args.splink_child)
    if args.bansos_child:
        return bansos_child(*args.bansos_child)
    sample, rows, work = prepare(args.cache, args.people, args.seed, args.work, "bench-link-scale-")
    try:
        ours = run_bansos(sample, work, args.mode)
        theirs = None if args.skip_splink else run_splink(sample, work, ours["records_parquet"])
        report(args.people, args.seed, rows, ours, theirs)
        if args.json:
            args.json.write_text(json.dumps(
                {"people": args.people, "seed": args.seed, "rows": rows, "bansos_merge": ours, "splink": theirs,
                 "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "project": project_version()}, indent=2, default=float) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
