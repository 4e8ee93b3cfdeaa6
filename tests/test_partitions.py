"""The merge with its records kept on disk in parts and its outputs built one person partition
at a time gives exactly the outputs of the in-memory library path (rows in another order)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from bansos_merge.cluster.resolve import resolve_with
from bansos_merge.config import load_config
from bansos_merge.ingest.source import read_source
from bansos_merge.link.features import Strings, build_link_frame, concat_link_frames
from bansos_merge.link.linker import link_records
from bansos_merge.normalize.source import normalize_source, split_source, stream_parts
from bansos_merge.output_key import KEY_FILE
from bansos_merge.parts import partition_plan
from bansos_merge.publish.manifest import now_utc
from bansos_merge.publish.outputs import assemble, combine, run_manifest, write_run
from bansos_merge.publish.registry import person_codes
from bansos_merge.publish.run_folder import RunFolder
from bansos_merge.sample.generate import generate_sample

CLI = [str(Path(sys.executable).parent / "bansos-merge")]
# Rows compared as sets, sorted by these (written partition by partition); the rest in the same order too.
SORT = {
    "records": ["source", "record_id"],
    "registry": ["person_id"],
    "rejects": ["source", "source_file", "source_sheet", "row_number"],
    "conflicts": ["kind", "conflict_id", "source", "record_id"],
}



def _numbered_tags(sheet: pd.DataFrame) -> pd.DataFrame:
    """A workbook's NIK tags (`#KTRM`, keyed afresh per workbook) numbered in order of first
    appearance: two workbooks agree when the same cells carry the same and different tags."""
    seen: dict[str, str] = {}
    number = lambda m: seen.setdefault(m.group(0), f"#{len(seen)}")  # noqa: E731
    return sheet.apply(lambda col: col.map(lambda v: re.sub(r"#[A-Z]{4}\b", number, v) if isinstance(v, str) else v))

@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parts") / "sample"
    generate_sample(2500, 11, out)
    config = yaml.safe_load((out / "merge.yaml").read_text())
    # Small slices and person partitions, so that the records really are cut into many.
    config["execution"] = {"partition_rows": 1000, "person_partition_rows": 300}
    config["publish"] = {"workbook_rows_per_kind": 15}  # the workbook picks its rows across partitions
    config["review"] = {"min_doubt": 0.0}  # a queue to compare: this small sample leaves hardly a pair in doubt
    (out / "merge.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return out


@pytest.fixture(scope="module")
def records(sample: Path) -> pd.DataFrame:
    config = load_config(sample / "merge.yaml")
    return combine([normalize_source(read_source(s)) for s in config.sources])[0]


def _in_memory_run(config_path: Path, output: Path) -> Path:
    config = load_config(config_path, output)
    sources = [normalize_source(read_source(s)) for s in config.sources]
    records, rejects = combine(sources)
    links = link_records(records, config.linkage.seed, None, config.linkage.max_block)
    run = RunFolder(output)
    resolution = resolve_with(config, records, links, run.run_id)
    outputs = assemble(sources, records, rejects, links, resolution, None)
    manifest = run_manifest(run.run_id, now_utc(), config, str(config_path), sources, links.blocking, resolution, outputs)
    write_run(run.start(), outputs, manifest, config.publish)
    return run.commit()


def test_partitioned_flow_gives_the_in_memory_outputs(sample: Path, tmp_path: Path) -> None:
    memory = _in_memory_run(sample / "merge.yaml", tmp_path / "memory")
    # New person IDs are hashed under the output folder's key: the second folder gets the first's.
    (tmp_path / "parts" / "runs").mkdir(parents=True)
    shutil.copy2(tmp_path / "memory" / "runs" / KEY_FILE, tmp_path / "parts" / "runs" / KEY_FILE)
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run(
        CLI + ["run", "--config", str(sample / "merge.yaml"), "--output", str(tmp_path / "parts")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parts = tmp_path / "parts" / "latest"
    manifest = json.loads((parts / "manifest.json").read_text())
    assert manifest["execution"]["person_partitions"] >= 5 and manifest["execution"]["parts"] >= 5
    assert not (parts / ".work").exists()

    for name in ("records", "rejects", "registry", "conflicts", "review", "id_history"):
        a, b = pq.read_table(memory / f"{name}.parquet"), pq.read_table(parts / f"{name}.parquet")
        assert a.schema.equals(b.schema, check_metadata=True), name
        a, b = a.to_pandas(), b.to_pandas()
        if name in SORT:
            a, b = (f.sort_values(SORT[name], kind="stable").reset_index(drop=True) for f in (a, b))
        if name == "id_history":
            a, b = a.drop(columns="run_id"), b.drop(columns="run_id")
        assert len(a) > 0 or name == "rejects"
        pd.testing.assert_frame_equal(a, b, obj=f"{name}.parquet")
    # The workbook shows the same rows: picked from the counted rows, fetched from the pieces.
    sheets = [pd.read_excel(run / "conflicts.xlsx", sheet_name=None) for run in (memory, parts)]
    assert list(sheets[0]) == list(sheets[1])
    for name in sheets[0]:
        a, b = (_numbered_tags(sheet[name]) for sheet in sheets)
        pd.testing.assert_frame_equal(a, b, obj=f"conflicts.xlsx sheet {name}")
    # The public export: counted per partition, summed, then suppressed, as a whole-run count.
    for name in ("aggregates.parquet", "aggregates.csv"):
        assert (memory / "public" / name).read_bytes() == (parts / "public" / name).read_bytes(), name
    memory_manifest = json.loads((memory / "manifest.json").read_text())
    for key in ("totals", "persons", "links", "review_queue", "conflicts", "conflict_rows", "invalid_nik_by_reason", "linkage"):
        assert manifest[key] == memory_manifest[key], key


def test_link_frames_of_parts_stack_into_the_whole_frame(sample: Path, records: pd.DataFrame) -> None:
    """Codes included: the parts' text codes are renumbered as one factorisation would."""
    bounds = [(s, g.index.to_numpy()[i : i + 250]) for s, g in records.groupby("source", sort=False) for i in range(0, len(g), 250)]
    parts = [build_link_frame(records.iloc[rows].reset_index(drop=True)) for _, rows in bounds]
    stacked, whole = concat_link_frames(parts, [s for s, _ in bounds]), build_link_frame(records)
    for field in fields(whole):
        a, b = getattr(whole, field.name), getattr(stacked, field.name)
        if isinstance(a, Strings):
            assert np.array_equal(a.codes, b.codes) and list(a.values) == list(b.values), field.name
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), field.name
        else:
            assert a == b


def test_streamed_parts_are_the_split_parts(sample: Path) -> None:
    """Reading a slice at a time gives the parts (ids, rows, bad rows) of reading whole."""
    config = load_config(sample / "merge.yaml")
    for src in config.sources:
        files: list[dict] = []
        streamed = list(stream_parts(src, 700, files))
        read = read_source(src)
        split = split_source(read, 700)
        assert files == read.files
        assert len(streamed) == len(split)
        for a, b in zip(streamed, split):
            assert a.table.cells.reset_index(drop=True).equals(b.table.cells.reset_index(drop=True))
            assert np.array_equal(a.table.row_number, b.table.row_number)
            assert a.ids[0].tolist() == b.ids[0].tolist() and np.array_equal(a.ids[1], b.ids[1])
        # Bad rows travel with the slice they fall in when streamed, with the first when split.
        bad = [pd.concat([p.table.bad_rows for p in parts], ignore_index=True) for parts in (streamed, split)]
        pd.testing.assert_frame_equal(*(b.sort_values("row_number", kind="stable").reset_index(drop=True) for b in bad), check_dtype=False)


def test_partitions_keep_whole_what_a_conflict_or_review_pair_spans() -> None:
    person = np.array([0, 0, 1, 2, 2, 3, 4, 5, 5, 6])
    nik = np.array([11, -1, 11, 12, -1, 13, -1, 14, -1, 15])  # persons 0 and 1 share NIK 11
    left, right = np.array([5]), np.array([9])  # a review pair: persons 3 and 6
    plan = partition_plan(person, nik, left, right, rows=2)
    same = lambda i, j: plan[i] == plan[j]  # noqa: E731
    assert same(0, 1) and same(0, 2)  # a person whole, and a shared NIK together
    assert same(5, 9)  # both sides of the review pair
    assert same(3, 4) and same(7, 8)
    assert len(np.unique(plan)) >= 3  # and still cut: ~2 records a partition where nothing ties them
    assert plan[0] == 0 and (np.diff(plan[np.unique(plan, return_index=True)[1]]) > 0).all()


def test_person_codes_of_partition_plan_cover_every_record(records: pd.DataFrame) -> None:
    codes = person_codes(records["source"] + ":" + records["record_id"]).code
    plan = partition_plan(codes, np.full(len(records), -1), np.array([], np.int64), np.array([], np.int64), rows=400)
    sizes = np.bincount(plan)
    assert sizes.sum() == len(records) and sizes.max() <= 400 and len(sizes) == -(-len(records) // 400)


def test_a_run_whose_every_row_is_rejected_publishes_its_rejects(tmp_path: Path) -> None:
    (tmp_path / "desa.csv").write_text("NIK,NAMA\n,\nJUMLAH,\n")
    (tmp_path / "merge.yaml").write_text(
        "output_dir: out\nsources:\n  - name: desa\n    path: desa.csv\n    kind: aid_list\n    columns: {nik: NIK, name: NAMA}\n"
    )
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run(CLI + ["run", "--config", str(tmp_path / "merge.yaml")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latest = tmp_path / "out" / "latest"
    assert pq.read_table(latest / "rejects.parquet").num_rows == 2
    for name in ("records", "registry", "conflicts", "review"):
        assert pq.read_table(latest / f"{name}.parquet").num_rows == 0, name
    assert json.loads((latest / "manifest.json").read_text())["totals"] == {"rows_read": 2, "accepted": 0, "rejected": 2}


def test_a_partition_without_registry_records_still_flags_recipients_missing_from_it(records: pd.DataFrame) -> None:
    """unmatched_civil_registry asks whether the run has a civil registry, not the partition."""
    from bansos_merge.publish.conflicts import find_conflicts
    from bansos_merge.publish.registry import build_registry

    aid = records[records["source_kind"] == "aid_list"].head(50).reset_index(drop=True)
    linked = aid.assign(person_id=aid["source"] + ":" + aid["record_id"], link_score=1.0)
    persons = person_codes(linked["person_id"])
    registry = build_registry(linked, {}, persons)
    no_review = pd.DataFrame({c: pd.Series(dtype=np.int64) for c in ("left", "right", "nik")}).assign(reason="", weight=0.0)
    in_run = find_conflicts(linked, registry, no_review, persons, civil_registry=True)
    alone = find_conflicts(linked, registry, no_review, persons)
    assert (in_run["kind"] == "unmatched_civil_registry").sum() == len(aid)
    assert not (alone["kind"] == "unmatched_civil_registry").any()
