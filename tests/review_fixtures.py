"""A real run folder for the review-app tests: a small synthetic sample merged through the
library sequence a `bansos-merge run` takes, without Prefect (fast, no server):
read_source -> normalize_source -> combine -> link_records -> resolve -> assemble ->
write_run into a RunFolder -> commit.

`merge_sample(config, output_dir, decisions_state=STATE_DIR)` merges again with the
analysts' decisions applied (`review.decisions.constraints` on the freshly combined records,
then `resolve(..., must_link=, cannot_link=)`), as the flow will once decisions are wired in.

`built_run(tmp_path_factory)` builds the sample and its first run once per test session and
returns them; tests that publish more runs copy the output folder first (`copy_output`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bansos_merge.cluster.resolve import resolve_with
from bansos_merge.config import load_config
from bansos_merge.ingest.source import read_source
from bansos_merge.link.linker import link_records
from bansos_merge.normalize.source import normalize_source
from bansos_merge.publish.manifest import now_utc
from bansos_merge.publish.outputs import assemble, combine, run_manifest, write_run
from bansos_merge.publish.previous import load_previous
from bansos_merge.publish.run_folder import RunFolder
from bansos_merge.review.decisions import constraints, load_decisions
from bansos_merge.sample.generate import generate_sample

SAMPLE_PEOPLE = 800
SAMPLE_SEED = 3


@dataclass
class Merged:
    run_dir: Path
    records: pd.DataFrame  # in memory, as assembled (before the Parquet round trip)
    review: pd.DataFrame
    manifest: dict
    decisions_report: dict | None = None


@dataclass
class BuiltRun:
    config: Path  # the sample's merge.yaml
    output_dir: Path  # its first run, published (read-only for the tests: copy to change)
    merged: Merged


_BUILT: dict[str, BuiltRun] = {}


def built_run(tmp_path_factory) -> BuiltRun:
    """The sample and its first run, built once per test session (every module shares it)."""
    if "run" not in _BUILT:
        base = tmp_path_factory.mktemp("review_sample")
        config = make_sample(base / "sample")
        merged = merge_sample(config, base / "out")
        _BUILT["run"] = BuiltRun(config, base / "out", merged)
    return _BUILT["run"]


def copy_output(built: BuiltRun, dest: Path) -> Path:
    """A private copy of the built output folder (runs/ and the `latest` symlink), no state."""
    shutil.copytree(built.output_dir, dest, symlinks=True, ignore=shutil.ignore_patterns("state"))
    return dest


def make_sample(sample_dir: Path) -> Path:
    """The synthetic sample (files + merge.yaml); returns the merge.yaml path."""
    if not (sample_dir / "merge.yaml").exists():
        generate_sample(SAMPLE_PEOPLE, SAMPLE_SEED, sample_dir)
    return sample_dir / "merge.yaml"


def merge_sample(config_path: Path, output_dir: Path, decisions_state: Path | None = None) -> Merged:
    """Merge the sample into `output_dir` (a new run under runs/, `latest` switched to it),
    applying the decisions in `decisions_state` (a review state dir) when given."""
    started = now_utc()
    config = load_config(config_path, output_dir)
    run = RunFolder(Path(config.output_dir))
    sources = [normalize_source(read_source(src)) for src in config.sources]
    records, rejects = combine(sources)
    must_link = cannot_link = report = None
    if decisions_state is not None:
        must_link, cannot_link, report = constraints(load_decisions(decisions_state), records)
    lk = config.linkage
    links = link_records(records, lk.seed, None, lk.max_block)
    previous = load_previous(Path(config.output_dir))
    resolution = resolve_with(
        config,
        records,
        links,
        run.run_id,
        previous.records if previous else None,
        previous.known_ids if previous else set(),
        must_link,
        cannot_link,
    )
    outputs = assemble(sources, records, rejects, links, resolution, previous)
    manifest = run_manifest(run.run_id, started, config, str(config_path), sources, links.blocking, resolution, outputs)
    folder = run.start()
    write_run(folder, outputs, manifest, config.publish)
    final = run.commit(keep=config.publish.keep_runs)
    return Merged(final, outputs.records, outputs.review, json.loads((final / "manifest.json").read_text()), report)
