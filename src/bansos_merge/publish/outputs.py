"""Assemble a run's outputs from the linked records, and write them into the run folder."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
from multiprocessing import resource_tracker
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from ..cluster.resolve import Resolution
from ..config import MergeConfig, PublishConfig
from ..contracts import SCHEMA_VERSION, ConflictRow, IdHistoryRow, RecordRow, RegistryRow, RejectRow, ReviewRow
from ..ingest.check import manifest_messages
from ..link.blocking import BlockingReport
from ..link.linker import Links
from ..link.model import FSModel
from ..normalize.cross_source import mark_kk_pasted_as_nik
from ..normalize.source import NormalizedSource
from .conflicts import KINDS, find_conflicts
from .manifest import now_utc, versions, write_json
from .masking import tag_key
from .parquet import join_pieces, write_parquet
from .previous import PreviousRun
from .public import public_counts, write_public
from .registry import build_registry, person_codes
from .report import write_report
from .review import review_table
from .workbook import write_workbook
from .workbook_content import WorkbookInput, workbook_input


@dataclass
class Tallies:
    """What the report, the manifest and the workbook need of outputs written as pieces."""

    records: pd.DataFrame  # per record: source, source_kind, nik_status, nik_recovered
    conflicts: pd.DataFrame  # per conflict row: kind, conflict_id, severity, person_id, source, regency
    review_rows: int
    workbook: WorkbookInput
    public: pd.DataFrame | None = None  # public.public_counts summed over the partitions


@dataclass
class RunOutputs:
    """A run's outputs as frames, or (a run built per person partition) as Parquet pieces to
    join, with their `tallies`. Review pieces carry their rows' place in the queue, ORDER."""

    records: pd.DataFrame | list[Path]
    rejects: pd.DataFrame
    review: pd.DataFrame | list[Path]
    id_history: pd.DataFrame
    registry: pd.DataFrame | list[Path]
    conflicts: pd.DataFrame | list[Path]
    model: FSModel
    tallies: Tallies | None = None

    @property
    def counted_conflicts(self) -> pd.DataFrame:
        return self.conflicts if self.tallies is None else self.tallies.conflicts

    @property
    def counted_records(self) -> pd.DataFrame:
        return self.records if self.tallies is None else self.tallies.records

    @property
    def review_rows(self) -> int:
        return len(self.review) if self.tallies is None else self.tallies.review_rows


ORDER = "_order"  # a review row's place in the run's review queue, in review pieces


def combine(sources: list[NormalizedSource]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All sources' records (with the cross-source checks applied) and rejects."""
    records = pd.concat([s.records for s in sources], ignore_index=True)
    rejects = pd.concat([s.rejects for s in sources], ignore_index=True)
    return mark_kk_pasted_as_nik(records), rejects


def assemble(
    sources: list[NormalizedSource],
    records: pd.DataFrame,
    rejects: pd.DataFrame,
    links: Links,
    resolution: Resolution,
    previous: PreviousRun | None,
) -> RunOutputs:
    linked = records.assign(person_id=resolution.person_id, link_score=resolution.link_score)
    persons = person_codes(resolution.person_id)
    registry = build_registry(linked, {s.name: s.as_of for s in sources}, persons)
    return RunOutputs(
        records=linked,
        rejects=rejects,
        review=review_table(records, resolution.review, resolution.person_id),
        id_history=history_so_far(resolution, previous),
        registry=registry,
        conflicts=find_conflicts(linked, registry, resolution.review, persons),
        model=links.model,
    )


def history_so_far(resolution: Resolution, previous: PreviousRun | None) -> pd.DataFrame:
    """The ID history so far: the previous run's, then this run's changes."""
    if previous is not None and len(previous.id_history):
        return pd.concat([previous.id_history, resolution.id_history], ignore_index=True)
    return resolution.id_history


def run_manifest(
    run_id: str,
    started: str,
    config: MergeConfig,
    config_path: str,
    sources: list[NormalizedSource],
    blocking: BlockingReport,
    resolution: Resolution,
    outputs: RunOutputs,
    decided: dict | None = None,
) -> dict:
    summary = [{"source": s.name, "kind": s.kind, "as_of": s.as_of, "files": s.files, **s.accounting()} for s in sources]
    counts = dict(resolution.counts)
    review = counts.pop("review", {})
    # Each file's rows against its independent count (ingest.check): a disagreement fails the accounting.
    disagreements, notes = manifest_messages(summary)
    by_kind = outputs.counted_conflicts.groupby("kind", observed=True)["conflict_id"].nunique()
    return {
        "run_id": run_id,
        "started_at": started,
        "config_path": str(Path(config_path).resolve()),
        "config_sha256": config.fingerprint(),
        "versions": versions(),
        "sources": summary,
        "totals": {k: sum(s[k] for s in summary) for k in ("rows_read", "accepted", "rejected")},
        "accounting_ok": all(s["rows_read"] == s["accepted"] + s["rejected"] for s in summary) and not disagreements,
        "line_check": {"ok": not disagreements, "disagreements": disagreements, "notes": notes},
        "persons": int(resolution.counts["persons"]),
        "links": int(resolution.counts["match_pairs"]),
        "review_queue": int(outputs.review_rows),
        "review": review_summary(review, int(outputs.review_rows), decided),
        "conflicts": {k: int(by_kind.get(k, 0)) for k in KINDS},
        "conflict_rows": int(len(outputs.counted_conflicts)),
        "invalid_nik_by_reason": invalid_nik_reasons(outputs.counted_records),
        "linkage_config": config.linkage.model_dump(mode="json"),
        "linkage": {
            "blocking": blocking.as_dict(),
            "model": {"prior": outputs.model.prior, **outputs.model.trained_on},
            **counts,
            "id_changes": resolution.id_history["reason"].value_counts().to_dict(),
        },
    }


def review_summary(stats: dict, queued: int, decided: dict | None) -> dict:
    """The queue's figures for the manifest, the report and the workbook: its size and value
    (cluster/queue.py) and how much of the work is done: the analysts' decisions this run
    applied, against those plus what is still queued."""
    done = 0 if not decided else int(decided.get("applied_same", 0)) + int(decided.get("applied_different", 0))
    return {**stats, "pairs": queued, "decided_by_analysts": done, "done_share": round(done / (done + queued), 4) if done + queued else 1.0}


def invalid_nik_reasons(records: pd.DataFrame) -> dict[str, int]:
    """invalid_nik rows by reason (the NIK status), so that "no NIK" is counted apart from "a wrong NIK"."""
    counts = records["nik_status"].astype(str).value_counts() if len(records) else pd.Series(dtype=int)
    return {str(k): int(v) for k, v in counts.sort_index().items() if k != "valid" and v}


def write_run(folder: Path, outputs: RunOutputs, manifest: dict, publish: PublishConfig, key_dir: Path | None = None) -> None:
    """Every output file of a run into `folder`. The workbook (pure Python cell by cell: the
    slowest file) is written by a second process while this one writes the Parquet files and
    the report: two cores, one publish. `key_dir` keeps the key of the workbook's NIK tags
    (the output's runs/ folder; None: a key for this workbook alone)."""
    manifest = {"schema_version": SCHEMA_VERSION, **manifest, "finished_at": now_utc()}
    tallies = outputs.tallies
    content = tallies.workbook if tallies else workbook_input(outputs.conflicts, outputs.records, publish.workbook_rows_per_kind)
    content = dataclasses.replace(content, review=manifest.get("review"))
    with _second_process() as pool:
        key = tag_key(key_dir) if key_dir is not None and not publish.show_full_nik else None
        workbook = pool.submit(write_workbook, content, folder / "conflicts.xlsx", publish.language, publish.show_full_nik, key)
        _write(outputs.records, RecordRow, folder / "records.parquet")
        write_parquet(outputs.rejects, RejectRow, folder / "rejects.parquet")
        _write(outputs.review, ReviewRow, folder / "review.parquet", order=ORDER)
        write_parquet(outputs.id_history, IdHistoryRow, folder / "id_history.parquet")
        _write(outputs.registry, RegistryRow, folder / "registry.parquet")
        _write(outputs.conflicts, ConflictRow, folder / "conflicts.parquet")
        outputs.model.save(folder / "model.json")
        write_report(
            manifest, outputs.counted_records, outputs.rejects, outputs.counted_conflicts, outputs.review_rows, folder / "report.html", publish.language
        )
        counts = tallies.public if tallies else public_counts(outputs.records, outputs.conflicts)
        write_public(folder / "public", counts, manifest, publish.public_min_cell, publish.language)
        workbook.result()
    write_json(manifest, folder / "manifest.json")


@contextlib.contextmanager
def _second_process() -> Iterator[ProcessPoolExecutor]:
    """A one-process spawn pool. The pool starts multiprocessing's resource tracker, which would
    outlive the CLI by a moment (it exits when the last holder of its pipe closes it): a tracker
    the pool started is stopped with the pool, so that a run, failed or not, leaves no process
    behind. One already running is left alone: its other holders (a local Dask cluster's
    workers) keep it alive, and stopping it would wait for them. `_stop` is CPython's own
    (3.11+); the tracker restarts itself should anything need it later."""
    tracker = resource_tracker._resource_tracker
    ours = getattr(tracker, "_fd", None) is None
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
    finally:
        stop = getattr(tracker, "_stop", None)
        if ours and stop is not None:
            stop()


def _write(frame: pd.DataFrame | list[Path], model: type[BaseModel], path: Path, order: str | None = None) -> None:
    if isinstance(frame, pd.DataFrame):
        write_parquet(frame, model, path)
    else:
        join_pieces(frame, model, path, order)
