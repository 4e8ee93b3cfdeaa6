"""Incremental runs (issue 18): equal to a full run for additions, removals and changes; an
unchanged source restored from state, not read; incompatible state falls back to a full run;
stable person IDs survive. Real sample files, the real CLI, runs published to tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import yaml

from bansos_merge.cli import main
from bansos_merge.evaluate.metrics import pairwise_scores
from bansos_merge.sample.generate import generate_sample
from bansos_merge.sample.update import resend

SEED = 11
LISTS_ADDED_LATER = ("bpnt", "bkn_asn")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """For the equivalence tests: at 4,000 people u, estimated from 20 random pairs a record, is
    noisy enough that reusing the previous run's moves 0.1% of records (at 20,000 people and
    above, 400,000 pairs: none, see README)."""
    folder = tmp_path_factory.mktemp("incr-sample")
    generate_sample(20_000, SEED, folder)
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("incr-small")
    generate_sample(3_000, SEED, folder)
    return folder


def _copy(sample: Path, to: Path) -> Path:
    shutil.copytree(sample, to, ignore=shutil.ignore_patterns("out"))
    return to


def _config(folder: Path, name: str, keep=lambda s: True, **linkage) -> Path:
    raw = yaml.safe_load((folder / "merge.yaml").read_text())
    raw["sources"] = [s for s in raw["sources"] if keep(s)]
    if linkage:
        raw.setdefault("linkage", {}).update(linkage)
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run(config: Path, out: Path, *flags: str) -> dict:
    assert main(["run", "--config", str(config), "--output", str(out), "--no-prefect", *flags]) == 0
    return json.loads((out / "latest" / "manifest.json").read_text())


def _records(out: Path) -> pd.DataFrame:
    table = pq.read_table(out / "latest" / "records.parquet", columns=["source", "record_id", "person_id", "name"])
    return table.to_pandas().astype({"source": str, "record_id": str})


def _same_persons(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Share of records whose person holds the same records in both runs."""
    m = a.merge(b, on=["source", "record_id"], suffixes=("_a", "_b"), how="outer")
    assert m["person_id_a"].notna().all() and m["person_id_b"].notna().all(), "the runs hold other records"
    one_a = m.groupby("person_id_a")["person_id_b"].transform("nunique") == 1
    one_b = m.groupby("person_id_b")["person_id_a"].transform("nunique") == 1
    return float((one_a & one_b).mean())


def _pairwise(records: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    m = records.merge(truth.astype({"source": str, "record_id": str}), on=["source", "record_id"], suffixes=("", "_true"))
    scores = pairwise_scores(m["person_id_true"].to_numpy(), m["person_id"].to_numpy())
    return scores["precision"], scores["recall"]


def _assert_equivalent(incremental: Path, full: Path, truth: pd.DataFrame) -> None:
    a, b = _records(incremental), _records(full)
    assert _same_persons(a, b) >= 0.999
    (p_i, r_i), (p_f, r_f) = _pairwise(a, truth), _pairwise(b, truth)
    assert abs(p_i - p_f) <= 0.001 and abs(r_i - r_f) <= 0.001, ((p_i, r_i), (p_f, r_f))


def test_adding_sources_equals_a_full_run_and_retrains(sample, tmp_path):
    folder = _copy(sample, tmp_path / "data")
    some = _config(folder, "some.yaml", keep=lambda s: s["name"] not in LISTS_ADDED_LATER)
    every = _config(folder, "every.yaml")
    first = _run(some, tmp_path / "incr")
    assert first["mode"] == "full"
    manifest = _run(every, tmp_path / "incr", "--incremental")
    _run(every, tmp_path / "full")

    assert manifest["mode"] == "incremental" and manifest["incremental_from"] == first["run_id"]
    changes = manifest["incremental"]["sources"]
    assert set(manifest["incremental"]["sources_read"]) == set(LISTS_ADDED_LATER)
    for name in LISTS_ADDED_LATER:
        accepted = next(s["accepted"] for s in manifest["sources"] if s["source"] == name)
        assert changes[name] == {"added": accepted, "removed": 0, "changed": 0, "unchanged": 0}
    assert changes["dukcapil"]["added"] == changes["dukcapil"]["changed"] == 0
    assert manifest["incremental"]["pairs"]["reused"] > 0
    # the new records are far under 20% of the run here: the model is reused...
    assert manifest["incremental"]["model"] == "u reused, m and prior learned"
    _assert_equivalent(tmp_path / "incr", tmp_path / "full", pd.read_parquet(folder / "truth" / "rows.parquet"))
    # ...unless asked: then nothing differs from the full run (the same pairs, levels, model)
    again = _run(every, tmp_path / "incr", "--incremental", "--retrain")
    assert again["incremental"]["model"] == "retrained (--retrain)"
    assert _same_persons(_records(tmp_path / "incr"), _records(tmp_path / "full")) == 1.0


def _resent(sample: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame, object]:
    """A copy of the sample whose dukcapil.csv is the before version; returns the after file and
    the truth of the after version."""
    folder = _copy(sample, tmp_path / "data")
    truth = pd.read_parquet(folder / "truth" / "rows.parquet")
    mine = truth["source"] == "dukcapil"
    after = tmp_path / "dukcapil_after.csv"
    update = resend(folder / "dukcapil.csv", truth[mine].sort_values("row_number"), "NAMA_LGKP", True, folder / "dukcapil.csv", after)
    return after, pd.concat([truth[~mine], update.after], ignore_index=True), update


def test_an_update_that_removes_changes_and_adds_equals_a_full_run(sample, tmp_path):
    after, truth, update = _resent(sample, tmp_path)
    folder = tmp_path / "data"
    config = _config(folder, "merge.yaml")
    before = _run(config, tmp_path / "incr")
    ids_before = _records(tmp_path / "incr")
    shutil.copyfile(after, folder / "dukcapil.csv")
    manifest = _run(config, tmp_path / "incr", "--incremental")
    _run(config, tmp_path / "full")

    changes = manifest["incremental"]["sources"]["dukcapil"]
    assert manifest["incremental"]["sources_read"] == ["dukcapil"]
    # a removed or changed row without a usable NIK is known by its content: it counts as added
    assert update.removed * 0.8 <= changes["removed"] <= update.removed * 1.2
    assert update.changed * 0.8 <= changes["changed"] <= update.changed
    assert update.added <= changes["added"] <= update.added + 0.2 * (update.changed + update.removed)
    # Other lists' rows are as they were; a few of their records changed all the same: a fact
    # about the registry is part of a record's link values (its NIK held by a registry record).
    others = [c for n, c in manifest["incremental"]["sources"].items() if n != "dukcapil"]
    assert sum(c["added"] + c["removed"] for c in others) == 0
    assert sum(c["changed"] for c in others) <= 0.05 * sum(c["unchanged"] for c in others)
    _assert_equivalent(tmp_path / "incr", tmp_path / "full", truth)
    # The candidate pairs and their levels are the full run's, reused or compared (the records
    # are in the same order in both runs: the same files, the same config)
    pairs = [feather.read_table(out / "latest" / "state" / "pairs.arrow").to_pandas() for out in (tmp_path / "incr", tmp_path / "full")]
    pd.testing.assert_frame_equal(*pairs)
    assert manifest["incremental"]["pairs"]["compared"] < 0.2 * len(pairs[0])

    # Stable IDs: a person of the first run whose records are all still there, unchanged and
    # together (alone) keeps the ID.
    ids_after = _records(tmp_path / "incr")
    key = ["source", "record_id"]
    state = before["run_id"]
    assert state
    kept = ids_before[ids_before["source"] != "dukcapil"].merge(ids_after, on=key, suffixes=("_before", "_after"))
    whole = kept.groupby("person_id_before")["person_id_after"].transform("nunique") == 1
    same = kept.groupby("person_id_after")["person_id_before"].transform("nunique") == 1
    stable = kept[whole & same]
    assert len(stable) > 0.9 * len(kept)
    assert (stable["person_id_before"] == stable["person_id_after"]).all()


def test_an_unchanged_source_comes_from_state_not_from_its_file(small, tmp_path):
    after, _, _ = _resent(small, tmp_path)
    folder = tmp_path / "data"
    config = _config(folder, "merge.yaml")
    _run(config, tmp_path / "out")
    # Mark one DTKS record in the state's normalised records: if the incremental run read the
    # DTKS workbook again, the mark would not reach its outputs.
    kept = tmp_path / "out" / "latest" / "state" / "normalised" / "dtks" / "00000.arrow"
    table = feather.read_table(kept)
    names = table.column("name").to_pylist()
    names[0] = "FROM STATE"
    kept.unlink()  # published files are hard-linked by the next run's state: replace, never edit in place
    feather.write_feather(table.set_column(table.schema.get_field_index("name"), "name", pa.array(names, pa.string())), kept)
    shutil.copyfile(after, folder / "dukcapil.csv")
    manifest = _run(config, tmp_path / "out", "--incremental")

    assert "dtks" not in manifest["incremental"]["sources_read"]
    records = _records(tmp_path / "out")
    assert records.loc[records["source"] == "dtks", "name"].eq("FROM STATE").sum() == 1
    # the restored source's accounting is the first run's
    dtks = next(s for s in manifest["sources"] if s["source"] == "dtks")
    assert dtks["rows_read"] == dtks["accepted"] + dtks["rejected"] and dtks["files"][0]["sha256"]


@pytest.mark.parametrize("spoil", ["linkage", "state_version", "no_state"])
def test_incompatible_state_falls_back_to_a_full_run(small, tmp_path, spoil):
    folder = _copy(small, tmp_path / "data")
    config = _config(folder, "merge.yaml")
    _run(config, tmp_path / "out")
    state = tmp_path / "out" / "latest" / "state"
    if spoil == "linkage":
        config = _config(folder, "merge.yaml", max_block=150)
    elif spoil == "state_version":
        meta = json.loads((state / "state.json").read_text())
        (state / "state.json").write_text(json.dumps({**meta, "state_version": 999}))
    else:
        shutil.rmtree(state)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    cli = [sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(config), "--output", str(tmp_path / "out"), "--no-prefect"]
    done = subprocess.run([*cli, "--incremental"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "latest" / "manifest.json").read_text())

    assert manifest["mode"] == "full" and "incremental" not in manifest
    reason = {"linkage": "other linkage settings", "state_version": "state version 999", "no_state": "has no state"}[spoil]
    assert reason in manifest["incremental_fallback"]
    lines = [line for line in done.stderr.splitlines() if "falling back to a full run" in line]
    assert len(lines) == 1 and reason in lines[0]
    assert (tmp_path / "out" / "latest" / "state" / "state.json").is_file()  # the full run wrote a state


def test_no_previous_run_is_a_full_run(small, tmp_path):
    folder = _copy(small, tmp_path / "data")
    manifest = _run(_config(folder, "merge.yaml"), tmp_path / "out", "--incremental")
    assert manifest["mode"] == "full" and "no previous run" in manifest["incremental_fallback"]


def test_the_prefect_flow_runs_incrementally(small, tmp_path):
    folder = _copy(small, tmp_path / "data")
    config = _config(folder, "merge.yaml")
    first = _run(config, tmp_path / "out")
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    cli = [sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(config), "--output", str(tmp_path / "out"), "--prefect"]
    done = subprocess.run([*cli, "--incremental"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "latest" / "manifest.json").read_text())
    assert manifest["mode"] == "incremental" and manifest["incremental_from"] == first["run_id"]
    assert manifest["incremental"]["sources_read"] == [] and manifest["incremental"]["pairs"]["compared"] == 0
    assert manifest["persons"] == first["persons"]


def test_many_new_records_retrain_the_model(small, tmp_path):
    folder = _copy(small, tmp_path / "data")
    _run(_config(folder, "some.yaml", keep=lambda s: s["name"] not in LISTS_ADDED_LATER), tmp_path / "out")
    # the bound is not a linkage setting that makes the state incompatible
    manifest = _run(_config(folder, "every.yaml", incremental_retrain_share=0.01), tmp_path / "out", "--incremental")
    assert manifest["mode"] == "incremental"
    model = manifest["incremental"]["model"]
    assert model.startswith("retrained (") and "more than linkage.incremental_retrain_share (1%)" in model
