"""What the previous published run left: person IDs by record, the ID history, its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..identity import FINGERPRINT_FIELDS
from .run_folder import latest_run


@dataclass
class PreviousRun:
    folder: Path
    records: pd.DataFrame  # source, record_id, person_id
    id_history: pd.DataFrame

    @property
    def known_ids(self) -> set[str]:
        ids = set(self.records["person_id"].dropna())
        for col in ("old_id", "new_id"):
            ids |= set(self.id_history[col].dropna())
        return ids


def load_previous(output_dir: Path) -> PreviousRun | None:
    folder = latest_run(output_dir)
    if folder is None or not (folder / "records.parquet").exists():
        return None
    columns = ["source", "record_id", "person_id", "nik", *FINGERPRINT_FIELDS]
    records = pq.read_table(folder / "records.parquet", columns=columns).to_pandas()
    history_file = folder / "id_history.parquet"
    history = (
        pq.read_table(history_file).to_pandas()
        if history_file.exists()
        else pd.DataFrame(columns=["old_id", "new_id", "reason", "run_id"])
    )
    return PreviousRun(folder, records, history)


def previous_manifest(output_dir: Path) -> dict | None:
    """The manifest of the run `latest` points at, or None before the first run."""
    folder = latest_run(output_dir)
    path = folder / "manifest.json" if folder else None
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
