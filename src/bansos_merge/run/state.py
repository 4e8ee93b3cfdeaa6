"""A run's state: what the next, incremental run needs of it (README, "Incremental runs").

Every run, full or incremental, writes `state/` inside its run folder (published with it, so it
is as atomic as the run):

  state.json                 STATE_VERSION, the linkage fingerprint, per source its config's and
                             files' sha256, its part files and what the manifest says of it
  normalised/<source>/*.arrow  the source's normalised records, before the cross-source checks
  rejects/<source>.arrow     the source's rejected rows
  keys.arrow                 per record of the run (in its order): stable record key, source and
                             digest of the link frame's values (what a comparison sees of it)
  pairs.arrow                the candidate pairs: left, right (positions in keys.arrow), pass,
                             and each comparison's level
  model.json                 the model as trained, before the analysts' labels were learned

Arrow IPC (LZ4) keeps the records' pandas dtypes exactly and reads back in a fraction of a second.
A source whose files and config are unchanged is restored from here instead of being read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib.metadata import version
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from ..config import MergeConfig, SourceConfig
from ..ingest.source import file_sha256, source_files
from ..link.blocking import blocking_table
from ..link.comparisons import COMPARISONS
from ..link.features import LinkFrame, Strings
from ..link.model import FSModel
from ..normalize.source import NormalizedSource
from ..parts import Part, SpilledPart, load, normalise_to_part, save
from ..publish.manifest import write_json

STATE_VERSION = 1
STATE = "state"
# Linkage settings that do not change which pairs are compared or how: not in the fingerprint.
NOT_FINGERPRINTED = {"incremental_retrain_share"}


def linkage_fingerprint(config: MergeConfig) -> str:
    """sha256 of what makes a pair's comparison: the linkage settings, the blocking table, the
    comparisons and their levels, and the package version (normalisation rules live in code)."""
    settings = {k: v for k, v in config.linkage.model_dump(mode="json").items() if k not in NOT_FINGERPRINTED}
    text = json.dumps(
        {"linkage": settings, "blocking": blocking_table(), "comparisons": {c.name: list(c.levels) for c in COMPARISONS},
         "version": version("bansos-merge")},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def source_fingerprint(src: SourceConfig) -> str:
    """sha256 of a source's config: a changed mapping makes other records of unchanged files."""
    return hashlib.sha256(json.dumps(src.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def file_hashes(src: SourceConfig) -> list[dict]:
    """The source's files as they are now: path and sha256 (hashing reads bytes, parses nothing)."""
    return [{"path": str(p), "sha256": file_sha256(p)} for p in source_files(src)]


def _arrow_dtype(t: pa.DataType):
    return pd.ArrowDtype(t) if pa.types.is_string(t) or pa.types.is_list(t) else None


OBJECT_COLUMNS = b"bansos_merge.object_columns"


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """A frame as Arrow IPC (LZ4), without pandas' metadata (which cannot name an Arrow list
    dtype) but with which columns were Python objects: `read_frame` gives every dtype back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    objects = json.dumps([str(c) for c in frame.columns if frame[c].dtype == object]).encode()
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata({OBJECT_COLUMNS: objects})
    feather.write_feather(table, tmp, compression="lz4")
    os.replace(tmp, path)


def read_frame(path: Path) -> pd.DataFrame:
    table = feather.read_table(path)
    frame = table.to_pandas(types_mapper=_arrow_dtype)
    for column in json.loads((table.schema.metadata or {}).get(OBJECT_COLUMNS, b"[]")):
        frame[column] = table.column(column).to_pandas()
    return frame


def normalise_and_keep(raw: Path, path: Path, keep: Path) -> SpilledPart:
    """`parts.normalise_to_part`, and the part's records kept in the state as they were
    normalised (before the cross-source checks, which depend on the other sources)."""
    spilled = normalise_to_part(raw, path)
    write_frame(load(path), keep)
    return spilled


def restore_part(kept: Path, source: str, path: Path, keep: Path) -> SpilledPart:
    """A previous run's kept part as this run's part file (and linked into this run's state)."""
    records = read_frame(kept)
    save(records, path)
    keep.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(kept, keep)
    except OSError:  # another file system: copy
        shutil.copyfile(kept, keep)
    empty = pd.DataFrame()
    return SpilledPart(Part(Path(path), source, len(records)), empty, records["kk"].dropna().drop_duplicates())


def frame_digest(f: LinkFrame) -> np.ndarray:
    """Per record, a 64-bit digest of its link frame values (what a comparison sees of it, but
    the source's code, which is the run's numbering): equal digests, equal comparisons."""
    out = np.zeros(f.n, np.uint64)
    with np.errstate(over="ignore"):
        for field in fields(LinkFrame):
            if field.name in ("n", "source"):
                continue
            value = getattr(f, field.name)
            if isinstance(value, Strings):
                hashed = pd.util.hash_array(np.asarray(value.values, dtype=object)) if len(value.values) else np.empty(0, np.uint64)
                column = np.where(value.codes >= 0, hashed[np.maximum(value.codes, 0)] if len(hashed) else 0, np.uint64(7))
            elif value.ndim == 1:
                column = pd.util.hash_array(value.astype(np.int64))
            else:  # derived from a 1-d field (the NIK's digits)
                continue
            out = out * np.uint64(0x100000001B3) ^ column.astype(np.uint64)
    return out


@dataclass
class State:
    """A previous run's state, as read back."""

    folder: Path  # the state/ folder
    meta: dict  # state.json

    @property
    def run_id(self) -> str:
        return self.meta["run_id"]

    def source(self, name: str) -> dict | None:
        return next((s for s in self.meta["sources"] if s["name"] == name), None)

    def keys(self) -> pd.DataFrame:
        return read_frame(self.folder / "keys.arrow")

    def pairs(self) -> pd.DataFrame:
        return feather.read_table(self.folder / "pairs.arrow").to_pandas()


def read_state(run_folder: Path) -> State | str:
    """The state of a run folder, or why it cannot serve an incremental run."""
    meta_path = run_folder / STATE / "state.json"
    if not meta_path.is_file():
        return f"run {run_folder.name} has no state (written by a version without incremental runs)"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"run {run_folder.name}: {STATE}/state.json cannot be read"
    if meta.get("state_version") != STATE_VERSION:
        return f"run {run_folder.name}: state version {meta.get('state_version')}, this version reads {STATE_VERSION}"
    return State(run_folder / STATE, meta)


def kept_part(state_dir: Path, source: str, k: int) -> Path:
    return state_dir / "normalised" / source / f"{k:05d}.arrow"


def rejects_path(state_dir: Path, source: str) -> Path:
    return state_dir / "rejects" / f"{source}.arrow"


def source_entry(src: SourceConfig, source: NormalizedSource, parts: int) -> dict:
    """state.json's entry of a source: what identifies its input and what the manifest says of it."""
    return {
        "name": src.name,
        "config_sha256": source_fingerprint(src),
        "files": [{"path": f["path"], "sha256": f["sha256"]} for f in source.files],
        "parts": parts,
        "summary": {"kind": source.kind, "as_of": source.as_of, "rows_read": source.rows_read, "files": source.files,
                    "accepted": source.accepted},
    }


def restored_source(entry: dict, rejects: pd.DataFrame) -> NormalizedSource:
    """A source restored from state, as the manifest and the assembly see it."""
    s = entry["summary"]
    return NormalizedSource(entry["name"], s["kind"], None, rejects, s["rows_read"], s["files"], s["as_of"], s["accepted"])


def write_state(state_dir: Path, meta: dict, keys: pd.Series, digest: np.ndarray, sources: np.ndarray, pairs: pd.DataFrame,
                gamma: np.ndarray, model: FSModel) -> None:
    """keys.arrow, pairs.arrow, model.json, then state.json (last: its presence says the rest is there)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    write_frame(pd.DataFrame({"key": keys.to_numpy(dtype=object), "source": sources.astype(object), "digest": digest}),
                state_dir / "keys.arrow")
    columns = {"left": pairs["left"].to_numpy(np.int64), "right": pairs["right"].to_numpy(np.int64),
               "pass": pairs["pass"].to_numpy(np.int8)}
    columns.update({c.name: gamma[:, k].astype(np.int8) for k, c in enumerate(COMPARISONS)})
    feather.write_feather(pa.table(columns), state_dir / "pairs.arrow", compression="lz4")
    model.save(state_dir / "model.json")
    write_json({"state_version": STATE_VERSION, **meta}, state_dir / "state.json")
