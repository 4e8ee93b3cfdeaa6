"""What the previous published run left: person IDs by record, the ID history, its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..identity import FINGERPRINT_FIELDS
from .run_folder import latest_run


@dataclass
class PreviousRun:
    folder: Path
    records: pd.DataFrame  # source, record_id, person_id
    id_history: pd.DataFrame

    @property
    def known_ids(self) -> pa.ChunkedArray:
        """Every person ID the folder has given (with repeats): new IDs must not take one again."""
        columns = [self.records["person_id"], self.id_history["old_id"], self.id_history["new_id"]]
        arrays = [pa.array(c.array if isinstance(c.dtype, pd.ArrowDtype) else c.to_numpy(dtype=object), from_pandas=True) for c in columns]
        return pa.chunked_array([chunk.cast(pa.string()) for a in arrays for chunk in getattr(a, "chunks", [a])])


def load_previous(output_dir: Path) -> PreviousRun | None:
    folder = latest_run(output_dir)
    if folder is None or not (folder / "records.parquet").exists():
        return None
    columns = ["source", "record_id", "person_id", "nik", *FINGERPRINT_FIELDS]
    # Arrow-backed text: at a million records, Python strings would cost a gigabyte.
    records = pq.read_table(folder / "records.parquet", columns=columns).to_pandas(types_mapper=pd.ArrowDtype)
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
