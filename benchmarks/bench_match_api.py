"""The matching service at the registry's size: the review app's `POST /api/match` and
`bansos-merge match` against a run of a generated sample (issue 18).

    python benchmarks/bench_match_api.py api   --people 1000000 [--requests 300] [--run OUT] [--seed 7] [--cache DIR]
    python benchmarks/bench_match_api.py lists --people 1000000 [--rows 300 10000] [--run OUT] [--seed 7] [--cache DIR]

Both use the run in ``--run`` (an output directory with `latest`), else merge the cached sample
(`bansos-merge run`, timed) into a work folder first. Queries are built from the run's own
records (a third as listed, a third without their NIK, a third with a letter of the name
changed) and, a quarter of them, people the run has never seen (the civil registry of a small
sample of another seed); each copied row's answer is the person the run gave its record.

`api`: issues a reviewer an API token (`bansos-merge review-users add --token`), starts
`bansos-merge review` on loopback, sends one request to load the run (timed apart), then
``--requests`` requests one after another (keep-alive), and reports the median and p95
latency, the app's RSS (VmRSS, VmHWM: before the first match, after it loaded the run, after
the requests) and what the answers were. Then, in this process, the
same queries through the library to say where the time goes: normalising the row (the
library's vectorised normalisers on one row), linking it (lookup, compare, score, decide) and
the answer.

Latencies are wall time; on a machine shared with other work they grow with its load, so the
app's CPU time per request (from /proc) and the library steps' CPU medians are printed too.

`lists`: writes proposal lists of ``--rows`` rows (Excel, a title row above the header) and
runs `bansos-merge match` on each under GNU time: wall, peak RSS, rows per status, and the
share of copied rows matched to their record's person and of new people not found.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_link_scale import _gnu_time, sample_dir  # noqa: E402

EXE = Path(sys.executable).with_name("bansos-merge")
FIELDS = {"nik": "NIK", "name": "NAMA", "birth_date": "TGL LAHIR", "sex": "JK", "village": "DESA", "district": "KECAMATAN",
          "regency": "KABUPATEN", "kk": "NO KK"}  # fmt: skip
COLUMNS = ",".join(f"{f}={h}" for f, h in FIELDS.items())
NEW_SEED_OFFSET = 1000  # the new people: a sample of another seed


def the_run(args: argparse.Namespace, work: Path) -> Path:
    if args.run:
        return Path(args.run)
    sample = sample_dir(Path(args.cache), args.people, args.seed)
    out = work / "out"
    timed = _gnu_time([str(EXE), "run", "--config", str(sample / "merge.yaml"), "--output", str(out), "--no-prefect"], work / "run.log")
    if timed["exit"] != 0:
        raise SystemExit(f"bansos-merge run failed; see {timed['log']}")
    print(f"merged {sample} in {timed['wall_s']:.1f} s, peak {timed['peak_rss_gib']:.2f} GiB", flush=True)
    return out


def _text(v: object) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _typo(name: str, rng: np.random.Generator) -> str:
    if len(name) < 5:
        return name
    at = int(rng.integers(1, len(name) - 1))
    return name[:at] + ("A" if name[at] != "A" else "E") + name[at + 1 :]


def queries(run: Path, n: int, seed: int, cache: Path) -> pd.DataFrame:
    """`n` rows to ask about (columns FIELDS, `expected`: the run's person, None for new people)."""
    rng = np.random.default_rng(seed)
    cols = ["nik_raw", "name_raw", "birth_date", "sex", "village", "district", "regency", "kk_raw", "person_id", "source_kind"]
    records = pd.read_parquet(run / "latest" / "records.parquet", columns=cols)
    records = records[records["source_kind"] != "exclusion_list"]
    known = records.sample(n - n // 4, random_state=seed).reset_index(drop=True)
    known["birth_date"] = known["birth_date"].astype(str).where(known["birth_date"].notna(), None)  # ISO
    out = pd.DataFrame({f: known[c].map(_text) for f, c in zip(FIELDS, cols)})
    out["expected"] = known["person_id"].to_numpy()
    third = len(out) // 3
    out.loc[third : 2 * third - 1, "nik"] = ""
    out.loc[2 * third :, "name"] = [_typo(v, rng) for v in out.loc[2 * third :, "name"]]
    new_sample = sample_dir(cache, max(2000, n), seed + NEW_SEED_OFFSET)
    people = pd.read_csv(new_sample / "dukcapil.csv", dtype=str, keep_default_na=False).sample(n // 4, random_state=seed)
    new = pd.DataFrame({"nik": people["NIK"], "name": people["NAMA_LGKP"], "birth_date": people["TGL_LHR"], "sex": people["JENIS_KLMIN"],
                        "village": people["KEL_NAME"], "district": people["KEC_NAME"], "regency": people["KAB_NAME"],
                        "kk": people["NO_KK"], "expected": None})  # fmt: skip
    return pd.concat([out, new], ignore_index=True).sample(frac=1, random_state=seed).reset_index(drop=True)


def write_list(rows: pd.DataFrame, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("USULAN")
    ws.write_string(0, 0, "DAFTAR USULAN PENERIMA BANTUAN")
    ws.write_row(2, 0, ["NO", *FIELDS.values()])
    for i, values in enumerate(rows[list(FIELDS)].itertuples(index=False), start=1):
        ws.write_string(2 + i, 0, str(i))
        for c, v in enumerate(values, start=1):
            if v:
                ws.write_string(2 + i, c, v)
    wb.close()


def scored(answers: pd.DataFrame, expected: pd.Series) -> dict:
    """Rows per status; copied rows matched to their person; new people not found."""
    known, new = expected.notna().to_numpy(), expected.isna().to_numpy()
    right = (answers["person_id"].to_numpy() == expected.to_numpy()) & known
    return {
        "statuses": answers["status"].value_counts().to_dict(),
        "known_matched_to_their_person": round(float(right.sum() / max(known.sum(), 1)), 4),
        "known_ambiguous": int(((answers["status"] == "ambiguous").to_numpy() & known).sum()),
        "new_not_found": round(float(((answers["status"] == "not_found").to_numpy() & new).sum() / max(new.sum(), 1)), 4),
    }


def lists(args: argparse.Namespace, work: Path) -> list[dict]:
    run = the_run(args, work)
    results = []
    for n in args.rows:
        rows = queries(run, n, args.seed, Path(args.cache))
        listing = work / f"usulan-{n}.xlsx"
        write_list(rows, listing)
        out = work / f"answers-{n}"
        timed = _gnu_time([str(EXE), "match", "--output", str(run), "--input", str(listing), "--columns", COLUMNS, "--to", str(out)],
                          work / f"match-{n}.log")  # fmt: skip
        if timed["exit"] != 0:
            raise SystemExit(f"bansos-merge match failed; see {timed['log']}")
        answers = pd.read_parquet(out / "match_results.parquet")
        result = {"rows": n, "wall_s": round(timed["wall_s"], 1), "peak_rss_gib": round(timed["peak_rss_gib"], 2),
                  "load": round(timed["load_before"], 1), **scored(answers, rows["expected"])}  # fmt: skip
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: round(int(re.search(rf"{k}:\s+(\d+) kB", status).group(1)) / 2**20, 2) for k in ("VmRSS", "VmHWM")}


def _cpu_s(pid: int) -> float:
    """CPU seconds a process has used (user + system): what a request costs whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(args: argparse.Namespace, work: Path) -> dict:
    run = the_run(args, work)
    state = work / "state"
    made = subprocess.run([str(EXE), "review-users", "add", "bench", "--role", "reviewer", "--token", "--output", str(run),
                           "--state-dir", str(state)], check=True, capture_output=True, text=True)  # fmt: skip
    token = made.stdout.strip().splitlines()[-1]
    port = _free_port()
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with (work / "review.log").open("w") as log:
        app = subprocess.Popen([str(EXE), "review", "--output", str(run), "--state-dir", str(state), "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 900  # the app reads the run's review queue first: a minute, more on a busy machine
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/login")
                break
            except OSError:
                if app.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the review app did not start; see {work / 'review.log'}") from None
                time.sleep(0.2)
        rows = queries(run, args.requests, args.seed, Path(args.cache))
        bodies = [json.dumps({f: (v or None) for f, v in r.items() if f in FIELDS}) for r in rows.to_dict("records")]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Host": "127.0.0.1"}

        def ask(body: str) -> tuple[float, dict]:
            t = time.perf_counter()
            conn.request("POST", "/api/match", body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}: {answer}")
            return time.perf_counter() - t, answer

        rss_app = _rss(app.pid)  # the review app with its queue, before any match
        first, _ = ask(bodies[0])
        rss_loaded = _rss(app.pid)
        cpu, load = _cpu_s(app.pid), os.getloadavg()[0]
        timed = [ask(b) for b in bodies]  # bounded: one request per query
        cpu, load = _cpu_s(app.pid) - cpu, (load + os.getloadavg()[0]) / 2
        latency = np.array([t for t, _ in timed]) * 1000
        answers = pd.DataFrame([a for _, a in timed])
        result = {
            "records": int(len(pd.read_parquet(run / "latest" / "records.parquet", columns=["person_id"]))),
            "requests": len(bodies),
            "first_request_s (loads the run)": round(first, 1),
            "median_ms": round(float(np.median(latency)), 1),
            "p95_ms": round(float(np.percentile(latency, 95)), 1),
            "min_ms": round(float(latency.min()), 1),
            "app_cpu_ms_per_request": round(cpu * 1000 / len(bodies), 1),
            "rss_app_before_matching_gib": rss_app,
            "rss_after_load_gib": rss_loaded,
            "rss_after_requests_gib": _rss(app.pid),
            "load (1-min average, before and after the requests)": round(load, 1),
            **scored(answers, rows["expected"]),
        }
    finally:
        app.terminate()
        app.wait(timeout=30)
    result["where_the_time_goes_ms"] = breakdown(run, bodies)
    print(json.dumps(result, indent=2), flush=True)
    return result


def breakdown(run: Path, bodies: list[str]) -> dict:
    """Median milliseconds per step of a query, through the library in this process."""
    from bansos_merge.match.inputs import json_query
    from bansos_merge.match.latest import load_latest
    from bansos_merge.match.results import result_rows
    from bansos_merge.match.score import link_to_run

    loaded = load_latest(run)
    steps: dict[str, list[float]] = {"normalise the row": [], "link it to the run": [], "the answer row": []}
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    for body in bodies:
        t0, c0 = time.perf_counter(), time.process_time()
        inputs = json_query(json.loads(body))
        t1, c1 = time.perf_counter(), time.process_time()
        found = link_to_run(loaded, inputs.records)
        t2, c2 = time.perf_counter(), time.process_time()
        result_rows(loaded, inputs, found)
        t3, c3 = time.perf_counter(), time.process_time()
        for key, seconds, cpu_s in zip(steps, (t1 - t0, t2 - t1, t3 - t2), (c1 - c0, c2 - c1, c3 - c2)):
            steps[key].append(seconds * 1000)
            cpu[key].append(cpu_s * 1000)
    return {**{k: round(statistics.median(v), 1) for k, v in steps.items()},
            **{f"{k} (CPU)": round(statistics.median(v), 1) for k, v in cpu.items()}}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("api", "lists"))
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cache", default="/tmp/bansos-bench-cache", help="generated samples, by size and seed")
    p.add_argument("--run", help="an output directory with a published run of that sample (else merged here first)")
    p.add_argument("--requests", type=int, default=300, help="api: requests after the one that loads the run")
    p.add_argument("--rows", type=int, nargs="+", default=[300, 10_000], help="lists: rows per proposal list")
    p.add_argument("--work", help="work folder (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-match-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder {work}", flush=True)
    api(args, work) if args.what == "api" else lists(args, work)


if __name__ == "__main__":
    main()
