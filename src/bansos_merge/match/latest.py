"""The latest published run, loaded for matching: checked once, then held in memory.

A match needs of a run what its linkage had: the link frame of its records (built as `explain`
builds it, from records.parquet), the term frequencies, the trained model and the thresholds
the run decided with (manifest `linkage_config`; a threshold the model learned from analysts'
labels wins, as in the run); and, to answer, each record's person, the registry's facts per
person and the conflicts that concern them. A run that is absent, incomplete or written under
another major contract version is one error naming the file and the field.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..contracts import SCHEMA_VERSION
from ..errors import InputError, UserError
from ..link.features import LinkFrame, build_link_frame
from ..link.model import FSModel, link_term_frequencies
from ..publish.run_folder import latest_run
from .index import CandidateIndex

# What records.parquet must hold: the columns the link frame is built from
# (link/features.py: build_link_frame) and each record's person.
LINK_COLUMNS = (
    "source", "source_kind", "status", "nik", "nik_known_digits", "nik_birth_date", "kk", "kk_known_digits",
    "name_key", "name_alias", "birth_date", "sex", "address", "rt", "rw", "village", "village_code",
    "district_code", "regency_code", "mother_name", "birth_place",
)  # fmt: skip
REGISTRY_COLUMNS = ("person_id", "nik", "name", "birth_date", "status", "in_civil_registry", "programs", "sources")
CONFLICT_COLUMNS = ("conflict_id", "kind", "person_id")
VERSION_KEY = b"bansos_merge.schema_version"


@dataclass(frozen=True)
class Thresholds:
    """The run's decision rules (cluster/resolve.py: decide), as the run applied them."""

    match: float
    review: float
    family_rules: bool
    double: float
    max_block: int


@dataclass
class LatestRun:
    folder: Path
    run_id: str
    frame: LinkFrame  # the run's records, row i = record i
    person: np.ndarray  # int32: registry row of each record
    tf: dict[str, np.ndarray]  # the run's term frequencies per record (link/model.py)
    registered_niks: np.ndarray  # sorted NIKs the civil registry holds
    model: FSModel
    thresholds: Thresholds
    index: CandidateIndex
    registry: pa.Table  # REGISTRY_COLUMNS, row = person
    conflicts: pd.DataFrame  # per registry row with conflicts: `kinds`, `conflict_ids` (sorted lists)

    def nik_registered(self, nik: np.ndarray) -> np.ndarray:
        """Whether each NIK (-1: none) is held by a civil-registry record of the run."""
        held = self.registered_niks
        if len(held) == 0:
            return np.zeros(len(nik), dtype=bool)
        at = np.minimum(np.searchsorted(held, nik), len(held) - 1)
        return (nik >= 0) & (held[at] == nik)


def run_folder(output_dir: Path) -> Path:
    """The folder `OUTPUT/latest` points at, with every file a match reads."""
    folder = latest_run(Path(output_dir))
    if folder is None:
        raise UserError(f"{output_dir}: no published run here (expected {Path(output_dir) / 'latest'}); run `bansos-merge run` first")
    for name in ("manifest.json", "model.json", "records.parquet", "registry.parquet", "conflicts.parquet"):
        if not (folder / name).is_file():
            raise InputError("missing from the run folder; rerun the merge", file=str(folder / name))
    return folder


def _compatible(version: object, path: Path, field: str = "schema_version") -> None:
    """A run is readable when its contract has our major version (minor versions only add)."""
    ours = SCHEMA_VERSION.split(".")[0]
    if not isinstance(version, str) or version.split(".")[0] != ours:
        raise InputError(
            f"written under contract version {version!r}; this bansos-merge reads version {ours}.x ({SCHEMA_VERSION}): "
            "rerun the merge with this version",
            file=str(path),
            field=field,
        )


def _read(path: Path, columns: tuple[str, ...]) -> pa.Table:
    """Columns of an output, after checking its contract version and that it has them."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"not a readable Parquet file ({type(e).__name__})", file=str(path)) from None
    _compatible((schema.metadata or {}).get(VERSION_KEY, b"").decode() or None, path, "metadata bansos_merge.schema_version")
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise InputError("column(s) missing: the run is from another version; rerun the merge", file=str(path), field=", ".join(missing))
    return pq.read_table(path, columns=list(columns)).replace_schema_metadata(None)


def thresholds(manifest: dict, model: FSModel) -> Thresholds:
    lk = manifest.get("linkage_config") or {}
    learned = model.match_threshold
    return Thresholds(
        match=float(lk.get("match_threshold", 6.0) if learned is None else learned),
        review=float(lk.get("review_threshold", 0.0)),
        family_rules=bool(lk.get("family_rules", True)),
        double=float(lk.get("registry_double_threshold", 28.0)),
        max_block=int(lk.get("max_block", 200)),
    )


def _per_person(conflicts: pd.DataFrame, person_index: pd.Index) -> pd.DataFrame:
    """The kinds and ids of the conflicts each person is in (sorted, distinct)."""
    rows = pd.DataFrame(
        {
            "person": person_index.get_indexer(conflicts["person_id"].astype(str)),
            "kind": conflicts["kind"].astype(str).to_numpy(),
            "conflict_id": conflicts["conflict_id"].astype(str).to_numpy(),
        }
    )
    rows = rows[rows["person"] >= 0]
    grouped = rows.groupby("person")
    return pd.DataFrame(
        {
            "kinds": grouped["kind"].agg(lambda s: sorted(set(s))),
            "conflict_ids": grouped["conflict_id"].agg(lambda s: sorted(set(s))),
        }
    )


def load_latest(output_dir: Path) -> LatestRun:
    """The latest run of `output_dir`, checked and loaded (a 1M-record run: seconds)."""
    folder = run_folder(output_dir)
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"not readable JSON ({type(e).__name__})", file=str(manifest_path)) from None
    _compatible(manifest.get("schema_version"), manifest_path)
    model = FSModel.load(folder / "model.json")
    records = _read(folder / "records.parquet", (*LINK_COLUMNS, "person_id")).to_pandas(types_mapper=pd.ArrowDtype)
    registry = _read(folder / "registry.parquet", REGISTRY_COLUMNS).combine_chunks()
    conflicts = _read(folder / "conflicts.parquet", CONFLICT_COLUMNS).to_pandas()

    person_index = pd.Index(registry.column("person_id").to_pandas())
    person = person_index.get_indexer(records["person_id"].astype(str)).astype(np.int32)
    if (person < 0).any():
        raise InputError("a record's person_id is not in registry.parquet: the run is inconsistent; rerun the merge",
                         file=str(folder / "records.parquet"), field="person_id")  # fmt: skip
    frame = build_link_frame(records.drop(columns="person_id"))
    del records
    loaded = LatestRun(
        folder=folder,
        run_id=str(manifest.get("run_id", folder.name)),
        frame=frame,
        person=person,
        tf=link_term_frequencies(frame),
        registered_niks=np.unique(frame.nik[frame.civil & (frame.nik >= 0)]),
        model=model,
        thresholds=thresholds(manifest, model),
        index=CandidateIndex(frame),
        registry=registry,
        conflicts=_per_person(conflicts, person_index),
    )
    pa.default_memory_pool().release_unused()  # the records' Arrow buffers, gone with the frame built
    return loaded


class LatestCache:
    """The latest run of an output directory, loaded on first use and again when `latest`
    moves to a new run (the review app holds one)."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self.lock = threading.Lock()
        self.run: LatestRun | None = None

    def get(self) -> LatestRun:
        folder = run_folder(self.output_dir)
        with self.lock:
            if self.run is None or self.run.folder != folder:
                self.run = None  # the old run's memory goes before the new one is loaded
                self.run = load_latest(self.output_dir)
            return self.run
