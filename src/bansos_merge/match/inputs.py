"""What a match is asked about, as normalised records and rejects: a file read and mapped
exactly like a merge's source (ingest -> normalize), or one person sent as JSON.

A file needs its mapping: a source config (one source entry as in merge.yaml, its `path`
given by --input) or `--columns FIELD=HEADER,...`. There is no default mapping: agencies'
headers are not the canonical names, and a guessed mapping would match the wrong column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..config import CANONICAL_FIELDS, SourceConfig, validate_source
from ..errors import ConfigError, InputError, UserError
from ..ingest.source import is_glob, read_source
from ..ingest.table import RawTable
from ..normalize.records import normalize_table
from ..normalize.source import normalize_source
from ..textcol import TEXT

INPUT_SOURCE = "input"  # the source name a list is read under (SOURCE in messages)
MAX_VALUE = 1000  # characters of one JSON value


@dataclass
class Inputs:
    """The rows asked about: accepted `records` (normalised, as a source's) and `rejects`."""

    records: pd.DataFrame
    rejects: pd.DataFrame
    sheets: list[str | None]  # the tables in the order read (an Excel file may have several)
    files: list[dict] = field(default_factory=list)  # what reading the file said (ingest/source.py: _file_entry)

    @property
    def rows(self) -> int:
        return len(self.records) + len(self.rejects)


def source_from_config(path: Path, input_path: Path) -> SourceConfig:
    """A YAML file holding one source entry (or a merge.yaml-like `sources:` list of one);
    `name` defaults to 'input', `kind` to aid_list; `path` is always `input_path`."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: source config not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the source config ({type(e).__name__})") from None
    if isinstance(raw, dict) and isinstance(raw.get("sources"), list):
        if len(raw["sources"]) != 1:
            raise ConfigError(f"{path}: sources: give exactly one source entry (the list's mapping)")
        raw = raw["sources"][0]
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected one source entry (a mapping with 'columns')")
    entry = {"name": INPUT_SOURCE, "kind": "aid_list", **raw, "path": str(Path(input_path).resolve())}
    return validate_source(entry, Path(path), Path(path).resolve().parent)


def source_from_columns(columns: str, input_path: Path) -> SourceConfig:
    """`nik=NIK,name=NAMA LENGKAP,birth_date=TGL_LAHIR` as the source's mapping."""
    mapping = {}
    for part in columns.split(","):
        field, sep, header = part.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise UserError(f"--columns: expected FIELD=HEADER pairs separated by commas, e.g. nik=NIK,name=NAMA; got {part.strip()!r}")
        mapping[field.strip()] = header.strip()
    entry = {"name": INPUT_SOURCE, "kind": "aid_list", "columns": mapping, "path": str(Path(input_path).resolve())}
    return validate_source(entry, Path("--columns"), Path.cwd())


def read_input(src: SourceConfig) -> Inputs:
    """The list's rows, read and normalised as a source's; a file without data rows is an error."""
    if is_glob(src.path):
        raise UserError(f"--input {src.path}: name one file (a pattern is not read here)")
    read = read_source(src)
    norm = normalize_source(read)
    if norm.rows_read == 0:
        table = read.tables[0] if read.tables else None
        raise InputError(
            "no data rows below the header: nothing to match",
            source=src.name,
            file=str(read.files[0]["path"]) if read.files else src.path,
            row=table.header_row if table is not None else None,
        )
    return Inputs(norm.records, norm.rejects, list(dict.fromkeys(t.sheet for t in read.tables)), read.files)


def json_query(body: object) -> Inputs:
    """One person as a JSON object of canonical fields (text values), normalised as a one-row
    source: {"nik": "3201...", "name": "SITI AMINAH", "birth_date": "12-05-1970", ...}."""
    if not isinstance(body, dict) or not body:
        raise UserError("expected a JSON object of canonical fields, e.g. {\"nik\": \"...\", \"name\": \"...\"}")
    unknown = sorted(str(k)[:40] for k in body if k not in CANONICAL_FIELDS)
    if unknown:
        raise InputError(f"unknown field; canonical fields are: {', '.join(CANONICAL_FIELDS)}", field=", ".join(unknown[:5]))
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise InputError("expected text (a JSON string) or null: identifiers sent as numbers lose digits", field=key)
        if isinstance(value, str) and len(value) > MAX_VALUE:
            raise InputError(f"longer than {MAX_VALUE} characters", field=key)
    if not ({"nik", "name"} & body.keys()):
        raise InputError("give 'nik' or 'name': without either no one can be found", field="nik, name")
    fields = list(body)
    # As a reader gives a row: every cell text, an empty one "" (null is no value of a cell).
    cells = pd.DataFrame({f"c{i}": pd.Series([body[f] or ""], dtype=TEXT) for i, f in enumerate(fields)})
    src = SourceConfig(name="query", path="request", kind="aid_list", columns={f: f for f in fields})
    raw = RawTable(src.name, Path("request"), None, 1, fields, cells, np.array([1], dtype=np.int64))
    records, rejects = normalize_table(raw, src)
    return Inputs(records, rejects, [None])
