"""The merge over records kept on disk in parts, so that memory follows the part size, not the input.

The in-memory path (`publish.outputs.combine` and `assemble`) holds every record at once. Here a
*part* is one normalised slice of one source, written by whoever normalised it to the run's work
folder. The driver keeps only what linking and clustering need of every record together: the
link frame's integer arrays and the stable record keys. The outputs are then built one *person
partition* at a time, and each partition's rows are exactly those that a whole-run assembly would
give its persons.

  read_to_slices      a source -> raw slice files, read a slice at a time (CSV streamed)
  normalise_to_part   a raw slice -> a part file, its rejects and its family-card numbers
  prepare_part        a part -> its link frame, stable keys and the rows analysts' decisions
                      name, after the cross-source KK check (which needs every part's KKs)
  stack_views         the parts' views -> the run's link frame, keys and decision-named rows
  partition_plan      records -> person partitions keeping together whatever one conflict or
                      review pair spans (records sharing a NIK, both sides of a review pair)
  shuffle_part        a part -> one piece per partition, with person_id and link_score
  assemble_partition  a partition's pieces -> records, registry, conflicts and review rows
  gather_partitions   the partitions' results -> the run's outputs

Slice and part files are pickles: exact pandas dtypes back, fast, and read by nobody but this run
(the work folder lives inside the run's partial folder and is removed with it). Output pieces are
Arrow IPC, cast to their contract, and Parquet-encoded once, when joined into the run's files.
On a Dask cluster the output folder must be on storage that every worker can reach.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from pandas.api.types import union_categoricals
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .config import SourceConfig
from .contracts import ConflictRow, RecordRow, RegistryRow, ReviewRow
from .decisions.constraints import constraints
from .identity import FINGERPRINT_FIELDS, record_keys, stable_record_keys
from .ingest.source import SourceRead
from .link.features import LinkFrame, build_link_frame, concat_link_frames
from .link.model import FSModel
from .normalize.cross_source import mark_kk_pasted_as_nik
from .normalize.source import TablePart, normalize_part, stream_parts
from .publish.conflicts import find_conflicts
from .publish.outputs import ORDER, RunOutputs, Tallies
from .publish.parquet import pieces_dataset, to_arrow, write_piece
from .publish.public import public_counts, sum_counts
from .publish.registry import build_registry, person_codes
from .publish.report_figures import recovered_nik
from .publish.review import review_table
from .publish.workbook_content import WorkbookInput, shown_conflicts, summary_counts, workbook_records

ROW = "_row"  # a record's position in the whole run, carried through the shuffle


def save(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(frame, fh, protocol=5)


def load(path: Path) -> pd.DataFrame:
    with open(path, "rb") as fh:
        return pickle.load(fh)


@dataclass
class Part:
    path: Path
    source: str
    n: int  # records


@dataclass
class SpilledPart:
    part: Part
    rejects: pd.DataFrame
    kks: pd.Series  # the part's distinct family-card numbers


def read_to_slices(src: SourceConfig, rows: int, folder: Path) -> tuple[SourceRead, list[Path]]:
    """Read a source a slice at a time into raw slice files in `folder` (one slice in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[dict] = []
    paths = []
    for i, piece in enumerate(stream_parts(src, rows, files)):
        paths.append(folder / f"{i:05d}.pkl")
        save(piece, paths[-1])
    return SourceRead(src, [], files), paths


def normalise_to_part(raw: Path, path: Path) -> SpilledPart:
    """A raw slice file -> a part file (the raw one is removed), its rejects and its KKs."""
    table: TablePart = load(raw)
    records, rejects = normalize_part(table)
    save(records, path)
    raw.unlink()
    return SpilledPart(Part(Path(path), table.source.name, len(records)), rejects, records["kk"].dropna().drop_duplicates())


@dataclass
class PartView:
    """What the driver keeps of a part's records."""

    frame: LinkFrame
    keys: pa.Array  # stable record keys (identity.stable_record_keys), for person IDs across runs
    named: pd.DataFrame  # the records an analyst's decision names, with ROW (position in the part)


def prepare_part(part: Part, kks: pd.Series, sources_with_ids: set[str], decision_keys: set[str]) -> PartView:
    """`kks`: every part's family-card numbers; a NIK equal to one is a KK pasted as NIK."""
    records = load(part.path)
    marked = mark_kk_pasted_as_nik(records, kks)
    if marked is not records:
        save(marked, part.path)
    named = record_keys(marked).isin(decision_keys).to_numpy(dtype=bool) if decision_keys else np.zeros(len(marked), bool)
    columns = ["source", "record_id", *(c for c in FINGERPRINT_FIELDS if c in marked)]
    return PartView(
        build_link_frame(marked),
        pa.array(stable_record_keys(marked, sources_with_ids).to_numpy(dtype=object), pa.string()),
        marked.loc[named, columns].assign(**{ROW: np.flatnonzero(named)}).reset_index(drop=True),
    )


@dataclass
class Stacked:
    """The parts' views stacked: what linking and clustering need of every record of the run."""

    frame: LinkFrame
    keys: pd.Series  # stable record keys, Arrow strings
    named: pd.DataFrame  # the rows analysts' decisions name, ROW = position in the run
    offsets: np.ndarray  # part i holds the run's records offsets[i]:offsets[i + 1]


def per_part(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """A per-record array of the run cut into the parts' slices."""
    return [values[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def stack_views(parts: list[Part], views: list[PartView]) -> Stacked:
    offsets = np.cumsum([0] + [p.n for p in parts])
    return Stacked(
        concat_link_frames([v.frame for v in views], [p.source for p in parts]),
        pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([v.keys for v in views], pa.string()))),
        pd.concat([v.named.assign(**{ROW: v.named[ROW] + o}) for v, o in zip(views, offsets)], ignore_index=True),
        offsets,
    )


def decision_constraints(decisions: pd.DataFrame, named: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """`decisions.constraints.constraints` over only the records the decisions name; must/cannot
    links as positions in the run."""
    must, cannot, report = constraints(decisions, named)
    row = named[ROW].to_numpy()
    return must.assign(left=row[must["left"]], right=row[must["right"]]), cannot.assign(left=row[cannot["left"]], right=row[cannot["right"]]), report


def decision_keys(decisions: pd.DataFrame) -> set[str]:
    """The record keys (SOURCE:RECORD_ID) analysts' decisions name."""
    return set(decisions["left"]) | set(decisions["right"]) if {"left", "right"} <= set(decisions.columns) else set()


def partition_plan(person: np.ndarray, nik: np.ndarray, left: np.ndarray, right: np.ndarray, rows: int) -> np.ndarray:
    """Per record, its partition (0, 1, ...): whole persons, about `rows` records a partition.

    `person`: dense person codes; `nik`: usable NIK as int or -1; `left`/`right`: review pairs.
    Persons joined by a shared NIK or a review pair land in one partition, so that the
    cross-person conflicts (nik_shared, review_needed) and the review rows are whole in it.
    Partitions follow the input order of their first record.
    """
    n_persons = int(person.max()) + 1 if len(person) else 0
    has = nik >= 0
    order = np.flatnonzero(has)[np.argsort(nik[has], kind="stable")]
    same = nik[order[1:]] == nik[order[:-1]]
    a = np.r_[person[left], person[order[:-1][same]]]
    b = np.r_[person[right], person[order[1:][same]]]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_persons, n_persons))
    _, group = connected_components(graph, directed=False)
    of_record = group[person]
    groups, first = np.unique(of_record, return_index=True)  # every group has a record
    size = np.bincount(of_record, minlength=len(groups))
    by_first = np.argsort(first, kind="stable")
    start = np.cumsum(size[by_first]) - size[by_first]
    partition = np.empty(len(groups), dtype=np.int64)
    partition[by_first] = start // max(rows, 1)
    return np.unique(partition, return_inverse=True)[1][of_record]


def shuffle_part(
    part: Part, offset: int, partition: np.ndarray, person_id: np.ndarray, link_score: np.ndarray, folder: Path, index: int
) -> dict[int, Path]:
    """Split a part by partition (arrays: this part's slice); returns partition -> piece file."""
    records = load(part.path).assign(person_id=person_id, link_score=link_score)
    records[ROW] = np.arange(offset, offset + len(records), dtype=np.int64)
    pieces = {}
    for k in np.unique(partition) if len(partition) else [0]:  # an empty part goes to partition 0
        path = folder / f"p{k:05d}" / f"{index:05d}.pkl"
        path.parent.mkdir(exist_ok=True)
        save(records[partition == k], path)
        pieces[int(k)] = path
    return pieces


@dataclass
class PartitionResult:
    """What the driver keeps of a partition; its rows are in pieces (see `piece`)."""

    conflicts: pd.DataFrame  # per conflict row, the columns the counts need (COUNTED), as categories
    report: pd.DataFrame  # per record, what the report counts: source, source_kind, nik_status, nik_recovered
    public: pd.DataFrame  # the public export's counts (publish.public.public_counts)


COUNTED = ["kind", "conflict_id", "severity", "person_id", "source", "regency_code", "regency"]
PIECE, PIECE_ROW = "_piece", "_piece_row"  # where a counted conflict row's whole row is


def piece(out: Path, output: str, k: int) -> Path:
    """Partition k's piece of an output (records, registry, conflicts, review)."""
    return out / output / f"{k:05d}.arrow"


def assemble_partition(
    pieces: list[Path], review: pd.DataFrame, as_of: dict[str, str], civil_registry: bool, out: Path, k: int
) -> PartitionResult:
    """One partition's records, registry, conflicts and review rows, as pieces in `out`.

    `review`: the run's review pairs with both sides in this partition (left/right: positions in
    the run, ORDER: place in the run's review queue, which the review piece keeps).
    `civil_registry`: whether the run has civil-registry records (this partition may have none).
    """
    linked = pd.concat([load(p) for p in pieces], ignore_index=True)
    local = pd.Series(np.arange(len(linked), dtype=np.int64), index=linked.pop(ROW).to_numpy())
    review = review.assign(left=local[review["left"]].to_numpy(), right=local[review["right"]].to_numpy())
    persons = person_codes(linked["person_id"])
    registry = build_registry(linked, as_of, persons)
    conflicts = find_conflicts(linked, registry, review, persons, civil_registry)
    write_piece(to_arrow(linked, RecordRow), piece(out, "records", k))
    write_piece(to_arrow(registry, RegistryRow), piece(out, "registry", k))
    write_piece(to_arrow(conflicts, ConflictRow), piece(out, "conflicts", k))
    rows = to_arrow(review_table(linked, review, linked["person_id"].to_numpy()), ReviewRow)
    write_piece(rows.append_column(ORDER, pa.array(review[ORDER].to_numpy(), pa.int64())), piece(out, "review", k))
    return PartitionResult(
        conflicts[COUNTED].astype("category").assign(**{PIECE: np.int32(k), PIECE_ROW: np.arange(len(conflicts), dtype=np.int32)}),
        linked[["source", "source_kind", "nik_status"]].astype("category").assign(nik_recovered=recovered_nik(linked).to_numpy()),
        public_counts(linked, conflicts),
    )


def gather_partitions(
    results: list[PartitionResult], out: Path, rejects: pd.DataFrame, history: pd.DataFrame, model: FSModel, workbook_rows_per_kind: int | None
) -> RunOutputs:
    """The partitions' pieces and tallies as one run's outputs. Conflicts are counted, and the
    workbook's rows picked, in a whole-run assembly's order; the files are joined partition by
    partition (the review queue in its own order)."""
    count = len(results)
    conflicts = stack_categories([r.conflicts for r in results])
    # Each conflict lies in one piece, its rows there sorted by source and record_id.
    conflicts = conflicts.sort_values(["kind", "conflict_id", PIECE, PIECE_ROW], kind="stable").reset_index(drop=True)
    picked, cap = shown_conflicts(conflicts, workbook_rows_per_kind)
    shown = _rows_of(picked, lambda k: piece(out, "conflicts", k))
    named = pa.array(shown["record_id"].astype(object).unique(), pa.string())
    records = pieces_dataset([piece(out, "records", k) for k in range(count)])
    records = records.to_table(filter=ds.field("record_id").isin(named)).to_pandas()
    review = [piece(out, "review", k) for k in range(count)]
    return RunOutputs(
        records=[piece(out, "records", k) for k in range(count)],
        rejects=rejects,
        review=review,
        id_history=history,
        registry=[piece(out, "registry", k) for k in range(count)],
        conflicts=[piece(out, "conflicts", k) for k in range(count)],
        model=model,
        tallies=Tallies(
            records=stack_categories([r.report for r in results]),
            conflicts=conflicts.drop(columns=[PIECE, PIECE_ROW]),
            review_rows=pieces_dataset(review).count_rows(),
            workbook=WorkbookInput(summary_counts(conflicts), shown, workbook_records(records, shown), cap),
            public=sum_counts([r.public for r in results]),
        ),
    )


def _rows_of(picked: pd.DataFrame, path_of) -> pd.DataFrame:
    """The whole rows, from their pieces, of the counted rows `picked` (in that order)."""
    frames = []
    for k, rows in picked.groupby(PIECE, sort=False)[PIECE_ROW]:
        table = pieces_dataset([path_of(int(k))]).take(pa.array(rows.to_numpy()))
        frames.append(table.to_pandas().set_axis(rows.index))
    if not frames:  # no conflicts at all: no rows, the pieces' columns
        return pieces_dataset([path_of(0)]).head(0).to_pandas()
    return pd.concat(frames).loc[picked.index].reset_index(drop=True)


def stack_categories(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames as one, categorical columns united with their categories sorted (not widened to
    objects), so that sorting by one sorts by its values."""
    out = {}
    for column in frames[0].columns:
        values = [f[column] for f in frames]
        out[column] = (
            pd.Series(union_categoricals([v.array for v in values], sort_categories=True))
            if isinstance(values[0].dtype, pd.CategoricalDtype)
            else pd.concat(values, ignore_index=True)
        )
    return pd.DataFrame(out)
