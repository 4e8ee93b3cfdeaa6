"""The published contracts: one pydantic model per output row, from which both the JSON
Schema and the Arrow schema in `schemas/` are generated. Downstream systems read these
files; a change here is a change of contract and bumps SCHEMA_VERSION.
"""

from __future__ import annotations

import datetime as dt
import types
import typing

import pyarrow as pa
from pydantic import BaseModel, Field

SCHEMA_VERSION = "1.1.0"


class RecordRow(BaseModel):
    """records.parquet: one row per accepted input row, tied to a person."""

    person_id: str = Field(description="Stable person ID (see README: stable IDs)")
    link_score: float | None = Field(description="Match weight of the strongest link that joined this record (log2 odds)")
    source: str = Field(description="Source name from merge.yaml")
    source_kind: str = Field(description="civil_registry, aid_list or exclusion_list")
    exclusion_reason: str | None = Field(
        None, description="An exclusion_list record's reason (its source's `reason`: asn, tni_polri ...); else null"
    )
    source_file: str = Field(description="File name the row came from")
    source_sheet: str | None = Field(description="Excel sheet, null for CSV")
    record_id: str = Field(description="The source's id column, else the data row number (see README)")
    row_number: int = Field(description="1-based position among the rows below the header")
    nik: str | None = Field(description="16-digit NIK when usable (not dummy, not a KK, no lost digits)")
    nik_raw: str | None = Field(description="The NIK cell as read")
    nik_status: str = Field(
        description="valid | missing | malformed | dummy | kk_as_nik | precision_lost | invalid_date | "
        "region_never_existed | serial_zero"
    )
    nik_known_digits: str | None = Field(description="Reliable leading digits of a spreadsheet-damaged NIK")
    nik_region: str | None = Field(description="District code of first registration (NIK digits 1-6)")
    nik_region_status: str | None = Field(
        description="current | retired | unknown (district not in the tables; a warning) | never_existed (province or "
        "regency in no Kemendagri table: the NIK is invalid)"
    )
    nik_birth_date: dt.date | None = Field(description="Birth date encoded in the NIK")
    nik_sex: str | None = Field(description="Sex encoded in the NIK (day + 40 = P)")
    nik_serial: str | None = Field(description="NIK digits 13-16")
    kk: str | None = Field(description="16-digit family card number when usable")
    kk_raw: str | None = None
    kk_status: str = Field(description="valid | missing | malformed | precision_lost")
    kk_known_digits: str | None = None
    name: str | None = Field(description="Cleaned name: upper case, titles and alias removed, spelling kept")
    name_titles: str | None = Field(description="Honorifics and degrees found in the name")
    name_alias: str | None = Field(description="Alias after '/' or ALIAS")
    name_patronym: str | None = Field(description="Father's name after BIN/BINTI")
    name_key: str | None = Field(description="Comparison key: old spelling and MUHAMMAD/SITI forms folded")
    name_raw: str | None = None
    birth_place: str | None = None
    birth_date: dt.date | None = None
    birth_date_raw: str | None = None
    sex: str | None = Field(description="L or P")
    sex_raw: str | None = None
    address: str | None = Field(description="Street address, tokens normalised, RT/RW removed")
    address_raw: str | None = None
    rt: str | None = Field(description="3 digits")
    rw: str | None = Field(description="3 digits")
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    village: str | None = None
    province_code: str | None = Field(description="Kemendagri code, 2 digits")
    regency_code: str | None = Field(description="Kemendagri code, 4 digits")
    district_code: str | None = Field(description="Kemendagri code, 6 digits")
    village_code: str | None = Field(description="Kemendagri code, 10 digits")
    program: str | None = None
    status: str | None = Field(description="alive | deceased")
    death_date: dt.date | None = None
    mother_name: str | None = None
    phone: str | None = None
    flags: list[str] = Field(description="Data-quality flags (see README)")


class RejectRow(BaseModel):
    """rejects.parquet: one row per input row that cannot be a person."""

    source: str
    source_file: str
    source_sheet: str | None
    record_id: str
    row_number: int
    reason_code: str = Field(
        description="blank_row | header_repeat | totals_row | no_name_no_nik | field_count | nul_byte | field_too_long"
    )
    reason: str = Field(description="Human explanation")
    field: str | None = Field(description="The field(s) the reason is about")
    raw_values: str = Field(description="The raw row as a JSON object {header: value}")


class ReviewRow(BaseModel):
    """review.parquet: pairs awaiting an analyst's decision, with the evidence."""

    pair_id: str = Field(description="left_source:left_record_id|right_source:right_record_id")
    queue_rank: int = Field(description="1 = the first pair to decide; the queue is ordered by value, a group item's pairs together")
    item: int = Field(description="The queue item (0, 1, ...): a pair, or a group of records in doubt together")
    item_records: int = Field(description="Records in the item: 2 for a pair, 3 or more for a group")
    run_decision: str = Field(description="What the run decided for this pair: same | different")
    doubt: float = Field(description="Probability that the run's decision is wrong")
    stake: str = Field(description="What hangs on the answer: deceased_paid | paid_twice | missing_from_registry | other_aid | identity_only")
    value: float = Field(description="doubt x the stake's weight: the queue's order")
    reason: str = Field(
        description="Why the pair is in doubt: review_band | ambiguous_match | match | two_civil_registry_niks | strong_evidence_against"
    )
    weight: float = Field(description="Match weight (log2 odds, prior included)")
    probability: float = Field(description="Match probability implied by the weight alone")
    left_person_id: str
    right_person_id: str
    left_source: str
    left_record_id: str
    right_source: str
    right_record_id: str
    left_nik: str | None
    right_nik: str | None
    left_name: str | None
    right_name: str | None
    left_birth_date: dt.date | None
    right_birth_date: dt.date | None
    left_sex: str | None
    right_sex: str | None
    left_kk: str | None
    right_kk: str | None
    left_address: str | None
    right_address: str | None
    left_village: str | None
    right_village: str | None
    evidence: str = Field(description="JSON: per comparison, its level and weight")


class RegistryRow(BaseModel):
    """registry.parquet: one row per person, the golden record (survivorship rules: README)."""

    person_id: str
    nik: str | None
    kk: str | None
    name: str | None
    birth_place: str | None
    birth_date: dt.date | None
    sex: str | None
    address: str | None
    rt: str | None
    rw: str | None
    village: str | None
    district: str | None
    regency: str | None
    province: str | None
    village_code: str | None
    district_code: str | None
    regency_code: str | None
    province_code: str | None
    status: str = Field(description="alive | deceased | unknown (deceased only on the civil registry's word)")
    death_date: dt.date | None
    programs: list[str] = Field(description="Programs the person is listed in")
    n_sources: int
    n_records: int
    in_civil_registry: bool
    sources: list[str]
    field_sources: str = Field(description="JSON: golden field -> source:record_id it came from")
    field_conflicts: list[str] = Field(description="Golden fields whose best candidates tied with different values")


class ConflictRow(BaseModel):
    """conflicts.parquet: one row per record involved in a conflict."""

    conflict_id: str = Field(description="Stable id of the conflict (kind + the records involved)")
    kind: str = Field(
        description="nik_shared | multiple_nik | invalid_nik | attribute_mismatch | deceased | ineligible | "
        "duplicate_in_source | multi_region | unmatched_civil_registry | review_needed"
    )
    severity: str = Field(description="high | medium | low")
    person_id: str
    source: str
    record_id: str
    field: str | None = Field(description="The field in conflict (nik, birth_date, sex, regency ...)")
    values: str | None = Field(
        description="The conflicting values across the conflict's records, '; '-separated; for invalid_nik the "
        "reason (the NIK status: missing, region_never_existed ...), for ineligible the exclusion reasons"
    )
    value: str | None = Field(description="This record's value of the field")
    regency_code: str | None
    regency: str | None
    explanation: str = Field(description="Human explanation (English; reports render their own language)")


def _count(description: str):
    return Field(description=description + "; null: suppressed, a count from 1 to publish.public_min_cell - 1")


class PublicAggregateRow(BaseModel):
    """public/aggregates.parquet: aid-list records per village and program, counts only, small
    counts suppressed (README: public audit export). Regions by Kemendagri code and name; a
    level the records did not resolve is null. Counts are of list entries (records) unless
    named persons."""

    province_code: str | None
    province: str | None
    regency_code: str | None
    regency: str | None
    district_code: str | None
    district: str | None
    village_code: str | None
    village: str | None
    program: str | None = Field(description="The list's program; null when the list names none; OTHER for a program "
                                            "of fewer than publish.public_min_cell persons in the run")
    recipients: int | None = _count("Aid-list records (entries)")
    persons: int | None = _count("Distinct persons among them")
    nik_shared: int | None = _count("Entries flagged nik_shared")
    multiple_nik: int | None = _count("Entries flagged multiple_nik")
    invalid_nik_missing: int | None = _count("Entries flagged invalid_nik because they carry no NIK")
    invalid_nik_wrong: int | None = _count("Entries flagged invalid_nik for a NIK that is wrong (any other reason)")
    attribute_mismatch: int | None = _count("Entries flagged attribute_mismatch")
    deceased: int | None = _count("Entries of persons the civil registry records as deceased")
    ineligible: int | None = _count("Entries of persons on an exclusion list")
    duplicate_in_source: int | None = _count("Entries of persons listed more than once in one list")
    multi_region: int | None = _count("Entries flagged multi_region")
    unmatched_civil_registry: int | None = _count("Entries flagged unmatched_civil_registry")
    review_needed: int | None = _count("Entries flagged review_needed")


class IdHistoryRow(BaseModel):
    """id_history.parquet: how person IDs changed, cumulative over runs."""

    old_id: str | None
    new_id: str | None
    reason: str = Field(description="new | split | merged | removed")
    run_id: str


class MatchResultRow(BaseModel):
    """match_results.parquet (`bansos-merge match`): one row per row of the list asked about, in
    its order; person fields only for a matched row. NIKs masked as in the workbook."""

    row_number: int = Field(description="1-based position among the list's rows below its header")
    sheet: str | None = Field(description="Excel sheet, null for CSV")
    record_id: str = Field(description="The list's id column, else the row number (as for a source)")
    status: str = Field(description="matched | ambiguous | not_found | rejected")
    reason_code: str | None = Field(description="A rejected row's reason code, as in rejects.parquet")
    reason: str | None = Field(description="A rejected row's reason")
    field: str | None = Field(description="The field(s) a rejected row's reason is about")
    nik: str | None = Field(description="The row's NIK as written, masked")
    name: str | None = Field(description="The row's name, cleaned")
    person_id: str | None = Field(description="The person of the latest run the row matched")
    match_weight: float | None = Field(description="Weight (log2 odds) of the row's best pair: the match, else the closest")
    decision: str | None = Field(
        description="The run's decision on that pair: match | review_band | non_match | names_differ | dates_differ | "
        "serial_apart | registry_apart | registry_double"
    )
    candidates: list[str] = Field(description="An ambiguous row's persons, best first (within the ambiguity margin)")
    person_nik: str | None = Field(description="The person's NIK (golden record), masked")
    person_name: str | None
    person_birth_date: dt.date | None
    in_civil_registry: bool | None = Field(description="Whether the civil registry holds the person")
    vital_status: str | None = Field(description="alive | deceased | unknown (on the civil registry's word)")
    programs: list[str] = Field(description="Programs that already list the person")
    sources: list[str] = Field(description="Sources that already list the person")
    conflicts: list[str] = Field(description="Kinds of the run's conflicts that concern the person")
    conflict_ids: list[str] = Field(description="Those conflicts' ids (conflicts.parquet)")


_SCALARS = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    dt.date: pa.date32(),
    dt.datetime: pa.timestamp("us", tz="UTC"),
}


def _arrow_type(annotation) -> tuple[pa.DataType, bool]:
    """(arrow type, nullable) of a field annotation."""
    nullable = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        inner, _ = _arrow_type(typing.get_args(annotation)[0])
        return pa.list_(inner), nullable
    return _SCALARS[annotation], nullable


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a row model, with the contract version in its metadata."""
    fields = []
    for name, info in model.model_fields.items():
        typ, nullable = _arrow_type(info.annotation)
        fields.append(pa.field(name, typ, nullable=nullable))
    return pa.schema(fields, metadata={b"bansos_merge.schema_version": SCHEMA_VERSION.encode(), b"bansos_merge.contract": model.__name__.encode()})


OUTPUTS: dict[str, type[BaseModel]] = {
    "records": RecordRow,
    "rejects": RejectRow,
    "review": ReviewRow,
    "id_history": IdHistoryRow,
    "registry": RegistryRow,
    "conflicts": ConflictRow,
    "public_aggregates": PublicAggregateRow,
    "match_results": MatchResultRow,
}
