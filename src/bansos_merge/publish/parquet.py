"""Parquet files that carry their contract: columns in contract order, types cast to the
published Arrow schema, the schema version in the file metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import BaseModel

from ..contracts import arrow_schema


def to_arrow(frame: pd.DataFrame, model: type[BaseModel]) -> pa.Table:
    schema = arrow_schema(model)
    missing = [f.name for f in schema if f.name not in frame.columns]
    if missing:
        raise ValueError(f"{model.__name__}: frame lacks contract columns {missing}")
    if frame.empty:  # untyped empty columns (a run whose every row was rejected) cast to nothing
        return schema.empty_table()
    table = pa.Table.from_pandas(frame[schema.names], preserve_index=False)
    return table.cast(schema)


def write_parquet(frame: pd.DataFrame, model: type[BaseModel], path: Path) -> None:
    pq.write_table(to_arrow(frame, model), path, compression="zstd")


def write_piece(table: pa.Table, path: Path) -> None:
    """A piece of an output, to be joined by `join_pieces`: Arrow IPC, uncompressed, so that
    the run's file is encoded (and compressed) once, when joined."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def pieces_dataset(pieces: list[Path]) -> ds.Dataset:
    return ds.dataset([str(p) for p in pieces], format="arrow")


def join_pieces(pieces: list[Path], model: type[BaseModel], path: Path, order: str | None = None, rows: int = 200_000) -> None:
    """Pieces (`write_piece`) -> one Parquet file of the contract, streamed: a piece at a time,
    or with `order` (a column numbering the rows 0..n-1 across the pieces) `rows` rows at a
    time in that order."""
    schema = arrow_schema(model)
    data = pieces_dataset(pieces)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        if order is None:
            for batch in data.to_batches(batch_size=rows):
                writer.write_batch(batch.select(schema.names).cast(schema))
            return
        for start in range(0, data.count_rows(), rows):
            chunk = data.to_table(filter=(ds.field(order) >= start) & (ds.field(order) < start + rows))
            writer.write_table(chunk.sort_by(order).select(schema.names).cast(schema))
