"""Parquet files that carry their contract: columns in contract order, types cast to the
published Arrow schema, the schema version in the file metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from ..contracts import arrow_schema


def to_arrow(frame: pd.DataFrame, model: type[BaseModel]) -> pa.Table:
    schema = arrow_schema(model)
    missing = [f.name for f in schema if f.name not in frame.columns]
    if missing:
        raise ValueError(f"{model.__name__}: frame lacks contract columns {missing}")
    table = pa.Table.from_pandas(frame[schema.names], preserve_index=False)
    return table.cast(schema)


def write_parquet(frame: pd.DataFrame, model: type[BaseModel], path: Path) -> None:
    pq.write_table(to_arrow(frame, model), path, compression="zstd")


def join_pieces(pieces: list[Path], model: type[BaseModel], path: Path) -> None:
    """Parquet pieces written by `write_parquet` -> one file, streamed a piece at a time."""
    schema = arrow_schema(model)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for piece in pieces:
            writer.write_table(pq.read_table(piece).cast(schema))
