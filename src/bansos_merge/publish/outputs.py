"""Write a run: records, rejects and the manifest, into the run's partial folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..contracts import SCHEMA_VERSION, RecordRow, RejectRow
from ..normalize.source import NormalizedSource
from .manifest import write_json
from .parquet import write_parquet


def combine(sources: list[NormalizedSource]) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = pd.concat([s.records for s in sources], ignore_index=True)
    rejects = pd.concat([s.rejects for s in sources], ignore_index=True)
    return records, rejects


def source_summary(sources: list[NormalizedSource]) -> list[dict]:
    return [{"source": s.name, "kind": s.kind, "files": s.files, **s.accounting()} for s in sources]


def write_core(folder: Path, records: pd.DataFrame, rejects: pd.DataFrame) -> None:
    write_parquet(records, RecordRow, folder / "records.parquet")
    write_parquet(rejects, RejectRow, folder / "rejects.parquet")


def write_manifest(folder: Path, manifest: dict) -> None:
    write_json({"schema_version": SCHEMA_VERSION, **manifest}, folder / "manifest.json")
