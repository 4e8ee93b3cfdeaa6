"""Issue 17's benchmark on real generated files: the Splink pipeline reads every row the truth
numbers (with the truth's record ids), and one round of `benchmarks/bench_speed.py` runs the
real CLI under GNU time, parses its stages from the real log and scores both systems (Splink's
half only where Splink is installed: `pip install -r benchmarks/requirements.txt`)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bansos_merge.sample import generate_sample

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
PEOPLE, SEED = 600, 3
ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _module(name: str):
    sys.path.insert(0, str(BENCH))  # the benchmark scripts import one another
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A sample where bench_speed's cache looks for it (so it is not generated twice)."""
    root = tmp_path_factory.mktemp("bench-cache")
    generate_sample(PEOPLE, SEED, root / f"people{PEOPLE}-seed{SEED}")
    return root


def test_splink_pipeline_reads_every_row_with_the_truths_record_id(cache):
    sample = cache / f"people{PEOPLE}-seed{SEED}"
    pipeline = _module("splink_pipeline")
    raw = pipeline.read_sources(sample / "merge.yaml")
    truth = pd.read_parquet(sample / "truth" / "rows.parquet")
    # every file is read whole: xlsx with title rows, cp1252 ';' CSV, pipe CSV, ...
    assert raw.groupby("source").size().to_dict() == truth.groupby("source").size().to_dict()
    for source, rows in truth.groupby("source"):
        assert sorted(raw.loc[raw.source == source, "record_id"]) == sorted(rows.record_id), source

    table = pipeline.splink_input(raw)
    kept = raw.iloc[table["unique_id"].to_numpy()]
    dropped = raw.drop(index=kept.index)[["source", "record_id"]].merge(truth, on=["source", "record_id"])
    assert len(dropped) and (dropped.expect == "reject").all()  # only rows that cannot be a person
    nik = table["nik"].dropna()
    assert nik.str.fullmatch(r"\d{16}").all() and not nik.map(lambda v: len(set(v[:15])) == 1).any()
    assert table["sex"].dropna().isin(["L", "P"]).all()
    assert table["birth_date"].notna().mean() > 0.8  # Excel date cells, DD-MM-YYYY, MM/DD/YYYY, "PLACE, date"


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="GNU time is not installed")
def test_one_round_of_bench_speed(cache, tmp_path):
    with_splink = importlib.util.find_spec("splink") is not None
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(BENCH / "bench_speed.py"), "--people", str(PEOPLE), "--seed", str(SEED),
           "--cache", str(cache), "--work", str(tmp_path / "work"), "--json", str(out)]
    proc = subprocess.run(cmd + ([] if with_splink else ["--skip-splink"]), env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    ours = figures["rounds"][0]["bansos"]
    assert ours["exit"] == 0 and ours["wall_s"] > 0 and ours["peak_rss_gib"] > 0
    # one entry per "[k/N] stage" line of the real log, in its order, together within the wall time
    log = (tmp_path / "work" / "bansos-1.log").read_text()
    named = [m.strip() for m in re.findall(r"\[\d+/\d+\]\s*([^:\n]*)", log)]
    assert list(ours["stages_s"]) == named and len(named) >= 3
    assert all(v >= 0 for v in ours["stages_s"].values()) and sum(ours["stages_s"].values()) <= ours["wall_s"]
    assert ours["pairwise"]["rows_missing"] == 0  # every expected record found by source + record_id
    assert "bansos-merge stages:" in proc.stdout and "issue 17 targets" in proc.stdout
    if with_splink:
        theirs = figures["rounds"][0]["splink"]
        assert theirs["pairwise"]["rows_missing"] == 0
        assert theirs["pairwise"]["precision"] > 0.5 and theirs["pairwise"]["recall"] > 0.5
        assert set(theirs["seconds"]) >= {"read", "estimate_u", "em", "predict", "cluster"}
        assert "ratio bansos-merge / Splink wall time" in proc.stdout


def test_stage_times_survive_renamed_stages_and_midnight():
    bench = _module("bench_speed")
    log = "\n".join([
        "Prefect: temporary server on http://127.0.0.1:1/api",
        "23:59:50.000 | INFO    | Flow run 'x' - [1/3] read: 6 sources",
        "23:59:58.500 | INFO    | Task run 'read-a' - Finished in state Completed()",
        "00:00:04.000 | INFO    | Flow run 'x' - [2/3] link and cluster: 10 records",
        "00:00:10.250 | INFO    | Flow run 'x' - [3/3] write",
        "00:00:11.000 | INFO    | Flow run 'x' - Finished in state Completed()",
        "run published: out/runs/1",
    ])
    assert bench.stage_times(log) == {"read": 14.0, "link and cluster": 6.25, "write": 0.75}
    assert bench.stage_times("no timestamps here") == {}
