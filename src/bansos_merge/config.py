"""The merge configuration (`merge.yaml`), validated once at the edge.

Relative paths are relative to the config file, so a config and its extracts can move
together. Everything downstream receives a validated, absolute `MergeConfig`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import ConfigError

CanonicalField = Literal[
    "nik",
    "kk",
    "name",
    "birth_place",
    "birth_date",
    "birth_place_date",
    "sex",
    "address",
    "rt",
    "rw",
    "village",
    "district",
    "regency",
    "province",
    "program",
    "status",
    "death_date",
    "mother_name",
    "phone",
]
CANONICAL_FIELDS: tuple[str, ...] = CanonicalField.__args__  # type: ignore[attr-defined]


def _resolve(value: str | Path, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return str(path)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One agency extract: where it is and how its columns map to canonical fields."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Short name; used in SOURCE:RECORD_ID")]
    path: str = Field(description="A file or a glob, relative to the config file")
    kind: Literal["civil_registry", "aid_list", "exclusion_list"] = Field(
        description="civil_registry is authoritative for identity and alive/deceased; exclusion_list names people "
        "no aid should be paid to (civil servants, soldiers and police, ...): evidence, never recipients"
    )
    reason: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")] | None = Field(
        None,
        description="Why an exclusion_list excludes its people, e.g. asn, tni_polri, bumn, wage_above_threshold "
        "(required for, and only for, an exclusion_list)",
    )
    id_column: str | None = Field(None, description="The source's own record id column; else the data row number")
    columns: dict[CanonicalField, str] = Field(description="Canonical field -> the source's header")
    defaults: dict[CanonicalField, str] = Field(
        default_factory=dict, description="Constant values for canonical fields the file lacks"
    )
    sheet: str | int | None = Field(
        None, description="Excel sheet name or 0-based index; unset: every sheet that carries the mapped header"
    )
    header_row: int | None = Field(None, ge=1, description="1-based row of the header; unset: detected")
    encoding: str | None = Field(None, description="CSV encoding; unset: UTF-8 (with or without BOM), else cp1252")
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="CSV delimiter; unset: detected")
    date_order: Literal["DMY", "MDY", "YMD"] = Field(
        "DMY", description="How to read an ambiguous date like 03/04/1970 when the NIK cannot decide"
    )
    as_of: dt.date | None = Field(
        None, description="Date of the extract, for survivorship recency; unset: the file's modification date"
    )

    _path = field_validator("path")(_resolve)

    @model_validator(mode="after")
    def _mapping_is_usable(self) -> SourceConfig:
        if not self.columns:
            raise ValueError("columns: map at least one canonical field to a header")
        if not ({"nik", "name"} & (self.columns.keys() | self.defaults.keys())):
            raise ValueError("columns: map 'nik' or 'name'; without either no row can be tied to a person")
        both = self.columns.keys() & self.defaults.keys()
        if both:
            raise ValueError(f"fields {sorted(both)} are both mapped to a column and given a default")
        if (self.kind == "exclusion_list") != (self.reason is not None):
            raise ValueError("reason: set it for an exclusion_list (e.g. asn, tni_polri), and only for one")
        if self.kind == "exclusion_list" and "program" in (self.columns.keys() | self.defaults.keys()):
            raise ValueError("program: an exclusion_list names no program; its people are evidence, not recipients")
        return self


class LinkageConfig(_Strict):
    """Scoring thresholds and the EM training set-up (see the linkage docs in README)."""

    match_threshold: float = Field(6.0, description="Match weight (log2 odds) at or above which a pair is a match")
    review_threshold: float = Field(0.0, description="Pairs between this and match_threshold go to review")
    cannot_link_threshold: float = Field(
        -10.0, description="A pair weighing less is two people: no chain of other links may join them"
    )
    max_block: int = Field(200, ge=2, description="Blocks larger than this are not expanded (reported)")
    registry_double_threshold: float = Field(
        25.0,
        description="Identity evidence (log2 odds: name, birth date, sex, mother, birth place) at or above which two "
        "civil-registry records with different NIKs are one person registered twice; below it they are reviewed. "
        "The registry is authoritative: overruling it takes far more than a match",
    )
    family_rules: bool = Field(
        True,
        description="Keep apart what a household shares but a person does not (names_differ, dates_differ, "
        "serial_apart); off only for data without households, such as FEBRL",
    )
    learn_from_decisions: bool = Field(
        True, description="Re-estimate the model from the analysts' decisions (else they only become links)"
    )
    seed: int = 20261129
    model_path: str | None = Field(None, description="Reuse a trained model (JSON) instead of training")
    incremental_retrain_share: float = Field(
        0.2, ge=0, le=1,
        description="An incremental run (--incremental) trains its model afresh when more than this share of its records "
        "are new or changed; below it the previous run's u-probabilities are reused (m and the prior are learned again)",
    )

    _model = field_validator("model_path")(lambda v, info: None if v is None else _resolve(v, info))

    @model_validator(mode="after")
    def _ordered(self) -> LinkageConfig:
        if self.review_threshold > self.match_threshold:
            raise ValueError("review_threshold must not exceed match_threshold")
        return self


class PublishConfig(_Strict):
    language: Literal["id", "en"] = Field("id", description="Language of the workbook and the report page")
    show_full_nik: bool = Field(False, description="Show NIKs unmasked in human-facing reports")
    keep_runs: int = Field(10, ge=1, description="How many past run folders to keep")
    workbook_rows_per_kind: int = Field(
        5_000, ge=1, description="Rows per conflict-kind sheet in conflicts.xlsx, most severe first (parquet has all)"
    )
    public_min_cell: int = Field(
        5, ge=3, le=100,
        description="The public export (public/) shows a count from 1 to this less one as '<N'; totals over such "
        "cells are shown as ranges",
    )


class ReviewConfig(_Strict):
    """The analysts' worklist: how many pairs it may hold and which pairs are not worth a person's time."""

    per_100_records: float = Field(
        0.5, ge=0, description="At most this many pairs per 100 records (the stricter of this and max_pairs wins)"
    )
    max_pairs: int | None = Field(None, ge=0, description="At most this many pairs; unset: no fixed cap")
    min_doubt: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A pair whose decision is wrong with a probability below this is decided automatically, not queued",
    )
    group_max_records: int = Field(
        8, ge=3, description="Records in doubt together in one cluster up to this many are one group item"
    )

    def budget(self, records: int) -> int:
        """Pairs the queue may hold for a run of `records` records."""
        by_share = int(self.per_100_records * records / 100)
        return by_share if self.max_pairs is None else min(by_share, self.max_pairs)


class ExecutionConfig(_Strict):
    """How the work is cut into tasks (the same cut locally and on Dask, so results agree)."""

    partition_rows: int = Field(250_000, ge=1_000, description="Rows per normalisation task")
    pair_chunk: int = Field(2_000_000, ge=10_000, description="Candidate pairs per comparison/scoring task")
    person_partition_rows: int = Field(
        250_000, ge=100, description="Records per person partition: the outputs are built one partition at a time"
    )


class MergeConfig(_Strict):
    output_dir: str = Field(description="Where runs are written; relative to the config file")
    state_dir: str | None = Field(None, description="Analysts' decisions; default <output_dir>/state")
    sources: list[SourceConfig] = Field(min_length=1)
    linkage: LinkageConfig = LinkageConfig()
    publish: PublishConfig = PublishConfig()
    review: ReviewConfig = ReviewConfig()
    execution: ExecutionConfig = ExecutionConfig()

    _out = field_validator("output_dir")(_resolve)
    _state = field_validator("state_dir")(lambda v, info: None if v is None else _resolve(v, info))

    @model_validator(mode="after")
    def _unique_names(self) -> MergeConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else Path(self.output_dir) / "state"

    def fingerprint(self) -> str:
        """sha256 of the validated config, so a manifest says exactly what ran."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _format_errors(path: Path, err: ValidationError, raw: dict) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "[key]").replace("sources.", "sources[", 1)
        if loc.startswith("sources["):
            index, _, rest = loc[len("sources[") :].partition(".")
            loc = f"sources[{index}]{_source_name(raw, index)}" + (f".{rest}" if rest else "")
        msg = e["msg"]
        if e["type"] == "literal_error" and {"columns", "defaults"} & set(map(str, e["loc"])):
            msg = f"unknown canonical field {e['input']!r}; canonical fields are: {', '.join(CANONICAL_FIELDS)}"
        elif e["type"] == "extra_forbidden":
            msg = "unknown setting"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def _source_name(raw: dict, index: str) -> str:
    """` (name)` of the source at `index` in the raw YAML, to say which source is wrong."""
    try:
        name = raw["sources"][int(index)].get("name")
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return ""
    return f" ({name})" if isinstance(name, str) else ""


def load_config(path: str | Path, output_dir: str | Path | None = None) -> MergeConfig:
    """Read and validate `merge.yaml`; `output_dir` (from --output) overrides the file's."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'output_dir' and 'sources'")
    if output_dir is not None:
        raw["output_dir"] = str(Path(output_dir).resolve())
    try:
        return MergeConfig.model_validate(raw, context={"base_dir": path.resolve().parent})
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e, raw)) from None


def validate_source(entry: dict, where: Path, base_dir: Path) -> SourceConfig:
    """One source entry on its own (the mapping of a list `bansos-merge match` reads),
    validated and reported as merge.yaml's sources are; `where` names it in messages."""
    doc = {"output_dir": str(base_dir), "sources": [entry]}
    try:
        return MergeConfig.model_validate(doc, context={"base_dir": base_dir}).sources[0]
    except ValidationError as e:
        raise ConfigError(_format_errors(where, e, doc)) from None
