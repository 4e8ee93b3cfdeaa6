"""Assemble a run's outputs from the linked records, and write them into the run folder."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..cluster.resolve import Resolution
from ..config import MergeConfig, PublishConfig
from ..contracts import SCHEMA_VERSION, ConflictRow, IdHistoryRow, RecordRow, RegistryRow, RejectRow, ReviewRow
from ..link.linker import Links
from ..link.model import FSModel
from ..normalize.cross_source import mark_kk_pasted_as_nik
from ..normalize.source import NormalizedSource
from .conflicts import KINDS, find_conflicts
from .manifest import now_utc, versions, write_json
from .parquet import write_parquet
from .previous import PreviousRun
from .registry import build_registry, person_codes
from .report import write_report
from .review import review_table
from .workbook import workbook_input, write_workbook


@dataclass
class RunOutputs:
    records: pd.DataFrame
    rejects: pd.DataFrame
    review: pd.DataFrame
    id_history: pd.DataFrame
    registry: pd.DataFrame
    conflicts: pd.DataFrame
    model: FSModel


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
    history = resolution.id_history
    if previous is not None and len(previous.id_history):
        history = pd.concat([previous.id_history, history], ignore_index=True)
    return RunOutputs(
        records=linked,
        rejects=rejects,
        review=review_table(records, resolution.review, resolution.person_id),
        id_history=history,
        registry=registry,
        conflicts=find_conflicts(linked, registry, resolution.review, persons),
        model=links.model,
    )


def run_manifest(
    run_id: str,
    started: str,
    config: MergeConfig,
    config_path: str,
    sources: list[NormalizedSource],
    links: Links,
    resolution: Resolution,
    outputs: RunOutputs,
) -> dict:
    summary = [{"source": s.name, "kind": s.kind, "as_of": s.as_of, "files": s.files, **s.accounting()} for s in sources]
    by_kind = outputs.conflicts.groupby("kind")["conflict_id"].nunique()
    return {
        "run_id": run_id,
        "started_at": started,
        "config_path": str(Path(config_path).resolve()),
        "config_sha256": config.fingerprint(),
        "versions": versions(),
        "sources": summary,
        "totals": {k: sum(s[k] for s in summary) for k in ("rows_read", "accepted", "rejected")},
        "accounting_ok": all(s["rows_read"] == s["accepted"] + s["rejected"] for s in summary),
        "persons": int(len(outputs.registry)),
        "links": int(resolution.counts["match_pairs"]),
        "review_queue": int(len(outputs.review)),
        "conflicts": {k: int(by_kind.get(k, 0)) for k in KINDS},
        "conflict_rows": int(len(outputs.conflicts)),
        "linkage_config": config.linkage.model_dump(mode="json"),
        "linkage": {
            "blocking": links.blocking.as_dict(),
            "model": {"prior": links.model.prior, **links.model.trained_on},
            **resolution.counts,
            "id_changes": resolution.id_history["reason"].value_counts().to_dict(),
        },
    }


def write_run(folder: Path, outputs: RunOutputs, manifest: dict, publish: PublishConfig) -> None:
    """Every output file of a run into `folder`. The workbook (pure Python cell by cell: the
    slowest file) is written by a second process while this one writes the Parquet files and
    the report: two cores, one publish."""
    manifest = {"schema_version": SCHEMA_VERSION, **manifest, "finished_at": now_utc()}
    content = workbook_input(outputs.conflicts, outputs.records, publish.workbook_rows_per_kind)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        workbook = pool.submit(write_workbook, content, folder / "conflicts.xlsx", publish.language, publish.show_full_nik)
        write_parquet(outputs.records, RecordRow, folder / "records.parquet")
        write_parquet(outputs.rejects, RejectRow, folder / "rejects.parquet")
        write_parquet(outputs.review, ReviewRow, folder / "review.parquet")
        write_parquet(outputs.id_history, IdHistoryRow, folder / "id_history.parquet")
        write_parquet(outputs.registry, RegistryRow, folder / "registry.parquet")
        write_parquet(outputs.conflicts, ConflictRow, folder / "conflicts.parquet")
        outputs.model.save(folder / "model.json")
        write_report(
            manifest, outputs.records, outputs.rejects, outputs.conflicts, len(outputs.review), folder / "report.html", publish.language
        )
        workbook.result()
    write_json(manifest, folder / "manifest.json")
