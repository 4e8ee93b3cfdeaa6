"""Write a run: every output file, into the run's partial folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..cluster.resolve import Resolution
from ..config import MergeConfig
from ..contracts import SCHEMA_VERSION, IdHistoryRow, RecordRow, RejectRow, ReviewRow
from ..link.linker import Links
from ..normalize.cross_source import mark_kk_pasted_as_nik
from ..normalize.source import NormalizedSource
from .manifest import now_utc, versions, write_json
from .parquet import write_parquet
from .previous import PreviousRun
from .review import review_table


@dataclass
class MergedRun:
    records: pd.DataFrame
    rejects: pd.DataFrame
    links: Links
    resolution: Resolution
    previous: PreviousRun | None = None


def combine(sources: list[NormalizedSource]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All sources' records (with the cross-source checks applied) and rejects."""
    records = pd.concat([s.records for s in sources], ignore_index=True)
    rejects = pd.concat([s.rejects for s in sources], ignore_index=True)
    return mark_kk_pasted_as_nik(records), rejects


def source_summary(sources: list[NormalizedSource]) -> list[dict]:
    return [{"source": s.name, "kind": s.kind, "files": s.files, **s.accounting()} for s in sources]


def run_manifest(
    run_id: str, started: str, config: MergeConfig, config_path: str, sources: list[NormalizedSource], merged: MergedRun
) -> dict:
    summary = source_summary(sources)
    return {
        "run_id": run_id,
        "started_at": started,
        "config_path": str(Path(config_path).resolve()),
        "config_sha256": config.fingerprint(),
        "versions": versions(),
        "sources": summary,
        "totals": {k: sum(s[k] for s in summary) for k in ("rows_read", "accepted", "rejected")},
        "accounting_ok": all(s["rows_read"] == s["accepted"] + s["rejected"] for s in summary),
        "linkage": {
            "blocking": merged.links.blocking.as_dict(),
            "model": {"prior": merged.links.model.prior, **merged.links.model.trained_on},
            **merged.resolution.counts,
            "id_changes": merged.resolution.id_history["reason"].value_counts().to_dict(),
        },
    }


def write_run(folder: Path, merged: MergedRun, manifest: dict) -> None:
    res = merged.resolution
    records = merged.records.assign(person_id=res.person_id, link_score=res.link_score)
    write_parquet(records, RecordRow, folder / "records.parquet")
    write_parquet(merged.rejects, RejectRow, folder / "rejects.parquet")
    write_parquet(review_table(merged.records, res.review, res.person_id), ReviewRow, folder / "review.parquet")
    history = res.id_history
    if merged.previous is not None and len(merged.previous.id_history):
        history = pd.concat([merged.previous.id_history, history], ignore_index=True)
    write_parquet(history, IdHistoryRow, folder / "id_history.parquet")
    merged.links.model.save(folder / "model.json")
    write_json({"schema_version": SCHEMA_VERSION, **manifest, "finished_at": now_utc()}, folder / "manifest.json")
