"""A real run folder for the review-app tests: a small synthetic sample merged through the
library sequence a `bansos-merge run` takes, without Prefect (fast, no server):
read_source -> normalize_source -> combine -> link_records -> resolve -> assemble ->
write_run into a RunFolder -> commit.

`merge_sample(config, output_dir, decisions_state=STATE_DIR)` merges again with the
analysts' decisions applied (`decisions.constraints.constraints` on the freshly combined records,
then `resolve(..., must_link=, cannot_link=)`), as the flow will once decisions are wired in.

`built_run(tmp_path_factory)` builds the sample and its first run once per test session and
returns them; tests that publish more runs copy the output folder first (`copy_output`).

Besides the generated people, the sample holds one household made for a *group item*
(`HOUSEHOLD`): a father and son of the same name on one family card in the civil registry,
and a BPNT (food aid) record with that name and card, no NIK and no birth date. The aid
record fits both equally well, so the run links it to neither and the queue asks about the
three records together ("ambiguous_match", one group item of 3 records). The queue's budget is
raised to 1 pair per 100 records so that every question of this small sample is queued.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from bansos_merge.cluster.resolve import resolve_with
from bansos_merge.config import load_config
from bansos_merge.ingest.source import read_source
from bansos_merge.link.linker import link_records
from bansos_merge.normalize.source import normalize_source
from bansos_merge.publish.manifest import now_utc
from bansos_merge.publish.outputs import assemble, combine, run_manifest, write_run
from bansos_merge.publish.previous import load_previous
from bansos_merge.publish.run_folder import RunFolder
from bansos_merge.decisions.constraints import constraints, load_decisions
from bansos_merge.sample.generate import generate_sample
from linkage_fixtures import SUKABUMI, Person, append_registry, make_kk, make_nik

SAMPLE_PEOPLE = 800
SAMPLE_SEED = 3


@dataclass
class Merged:
    run_dir: Path
    records: pd.DataFrame  # in memory, as assembled (before the Parquet round trip)
    review: pd.DataFrame
    manifest: dict
    decisions_report: dict | None = None


@dataclass(frozen=True)
class Household:
    """Record keys (SOURCE:RECORD_ID) of the group-item household."""

    aid: str  # the BPNT record: no NIK, no birth date
    father: str
    son: str


@dataclass
class BuiltRun:
    config: Path  # the sample's merge.yaml
    output_dir: Path  # its first run, published (read-only for the tests: copy to change)
    merged: Merged
    household: Household  # the group item's records


_BUILT: dict[str, BuiltRun] = {}

_KK = make_kk(SUKABUMI, "14-02-2001", 9)
_FATHER = Person(
    "DARSONO HADIWIJOYO", "L", "12-03-1968", SUKABUMI, make_nik(SUKABUMI, "12-03-1968", "L", 7), _KK,
    mother="SUMIATI", address="KP. CIBODAS", rt="002", rw="003",
)
_SON = _FATHER.but(born="05-09-1996", nik=make_nik(SUKABUMI, "05-09-1996", "L", 8), mother="WARTINI", relation="ANAK")
AID_CARD = "6013019999000001"  # the BPNT card number: the aid record's id


def _add_household(sample_dir: Path) -> Household:
    """Append the father and son to the registry and the aid record to the BPNT list."""
    ids = append_registry(sample_dir / "dukcapil.csv", [_FATHER, _SON])
    row = [AID_CARD, _FATHER.name, "", _KK, SUKABUMI.prop, SUKABUMI.kab, SUKABUMI.kec, SUKABUMI.kel]
    with (sample_dir / "kemensos_bpnt.csv").open("a", encoding="utf-8") as fh:
        fh.write("|".join(row) + "\n")
    return Household(f"bpnt:{AID_CARD}", f"dukcapil:{ids[_FATHER.nik]}", f"dukcapil:{ids[_SON.nik]}")


def built_run(tmp_path_factory) -> BuiltRun:
    """The sample and its first run, built once per test session (every module shares it)."""
    if "run" not in _BUILT:
        base = tmp_path_factory.mktemp("review_sample")
        config, household = make_sample(base / "sample")
        merged = merge_sample(config, base / "out")
        _BUILT["run"] = BuiltRun(config, base / "out", merged, household)
    return _BUILT["run"]


def copy_output(built: BuiltRun, dest: Path) -> Path:
    """A private copy of the built output folder (runs/ and the `latest` symlink), no state."""
    shutil.copytree(built.output_dir, dest, symlinks=True, ignore=shutil.ignore_patterns("state"))
    return dest


def make_sample(sample_dir: Path) -> tuple[Path, Household]:
    """The synthetic sample with the group-item household (files + merge.yaml); returns the
    merge.yaml path and the household's record keys."""
    config = sample_dir / "merge.yaml"
    generate_sample(SAMPLE_PEOPLE, SAMPLE_SEED, sample_dir)
    household = _add_household(sample_dir)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["review"] = {"per_100_records": 1.0}
    config.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config, household


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
