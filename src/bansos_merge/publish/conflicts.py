"""conflicts.parquet: where the lists disagree, one row per record involved.

Each detector is a vectorised query over the linked records (and the registry / review
queue) returning rows of one kind; `find_conflicts` stacks them. Kinds and their rules:

- nik_shared: one usable NIK carried by records of two or more persons.
- multiple_nik: one person whose records carry two or more different valid NIKs.
- invalid_nik: a record whose NIK is missing, malformed, a dummy, a pasted KK, has an
  impossible date, a region code that never existed or serial 0000, or lost digits in Excel;
  `values` holds the reason (the NIK status), so "no NIK" is counted apart from "a wrong NIK".
- attribute_mismatch: a record of a person whose birth date differs from the golden one
  beyond normal variation (exact, day/month swap, one digit, the NIK's date), or whose sex
  differs. Only another record shows a mismatch: a lone record at odds with its own NIK is
  flagged instead. Where no civil-registry record states the sex, a list without it (BPNT)
  shows it through its NIK (`_contradicted_by_nik`). Not so the birth date: the NIK keeps the
  first registered date, and a corrected birth date differs from it for good.
- deceased: an aid-list record of a person the civil registry records as deceased.
- ineligible: an aid-list record of a person on an exclusion list (civil servants, soldiers
  and police, ...), with the list's reasons.
- duplicate_in_source: a person listed two or more times in one source.
- multi_region: a person whose aid-list records sit in two or more regencies.
- unmatched_civil_registry: an aid-list record of a person with no civil-registry record
  (only when a civil registry is configured), where one of the person's records identifies
  them (a valid NIK, a birth date or a family card), not only a name and a place.
- review_needed: both records of a pair in the review queue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..identity import record_keys
from ..link.comparisons import BIRTH_DATE, birth_date_levels
from ..link.features import days_to_ymd, to_days
from ..regions import regency_names
from .registry import Persons, distinct_counts, is_value, value_codes

KINDS = (
    "nik_shared",
    "multiple_nik",
    "invalid_nik",
    "attribute_mismatch",
    "deceased",
    "ineligible",
    "duplicate_in_source",
    "multi_region",
    "unmatched_civil_registry",
    "review_needed",
)
_COLUMNS = ["conflict_id", "kind", "severity", "person_id", "source", "record_id", "field", "values", "value", "regency_code", "regency", "explanation"]
_TEXT_COLUMNS = (
    "source", "source_kind", "record_id", "person_id", "nik", "nik_raw", "nik_status", "sex", "program",
    "regency", "regency_code", "exclusion_reason",
)
_NORMAL_DATE_LEVELS = (BIRTH_DATE.levels.index("exact"), BIRTH_DATE.levels.index("swap_or_one_digit_or_nik_date"))


class _Linked:
    """The linked records with each record's person code (its registry row), and the registry.
    Detectors find their records with numpy over codes, then build text for those rows only."""

    def __init__(self, records: pd.DataFrame, persons: Persons, registry: pd.DataFrame) -> None:
        self.records = records
        self.person = persons.code
        self.count = persons.count
        self.registry = registry
        self.nik = value_codes(records["nik"])

    def per_person(self, column: str) -> np.ndarray:
        """A registry column (bool or plain text), repeated for each record."""
        return self.registry[column].to_numpy()[self.person]

    def select(self, rows: np.ndarray) -> pd.DataFrame:
        """The records at `rows` (positions, or a boolean mask), text columns as plain objects
        (None for null) so that the explanations can be built by string concatenation."""
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows
        sel = self.records[[c for c in _TEXT_COLUMNS if c in self.records]].iloc[rows]
        sel = sel.astype(object)
        return sel.where(sel.notna(), None)


def _rows(sel: pd.DataFrame, kind: str, severity, field: str | None, group, value, explanation) -> pd.DataFrame:
    """Conflict rows for the records `sel`. `group` identifies the conflict (same group, same
    conflict_id); `value` is (values across the conflict, this record's value). Every argument
    is a scalar or a column aligned with `sel`."""

    def col(x) -> np.ndarray:
        if isinstance(x, (pd.Series, np.ndarray)):
            return np.asarray(x, dtype=object)
        return np.full(len(sel), x, dtype=object)

    group_key = pd.Series(col(group)).astype(str)
    hashed = pd.util.hash_pandas_object(kind + ":" + group_key, index=False).to_numpy()
    return pd.DataFrame(
        {
            "conflict_id": ["C%016X" % h for h in hashed],
            "kind": kind,
            "severity": col(severity),
            "person_id": sel["person_id"].to_numpy(),
            "source": sel["source"].to_numpy(),
            "record_id": sel["record_id"].to_numpy(),
            "field": field,
            "values": col(value[0]),
            "value": col(value[1]),
            "regency_code": sel["regency_code"].to_numpy(),
            "regency": sel["regency"].to_numpy(),
            "explanation": pd.Series(col(explanation)).fillna(kind).to_numpy(),
        },
        columns=_COLUMNS,
    )


def _joined(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Per group key: the distinct values of its rows, sorted and '; '-joined."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.astype(str).to_numpy()})
    distinct = frame.dropna().drop_duplicates().sort_values("v")
    return distinct.groupby("k")["v"].agg("; ".join)


def _joined_per_group(keys: pd.Series, values: pd.Series) -> pd.Series:
    """For each row: the distinct values of its group, sorted and '; '-joined."""
    # object dtype even when no group exists, so that "text " + result stays text
    return keys.map(_joined(keys, values)).astype(object)


def nik_shared(x: _Linked) -> pd.DataFrame:
    nik = x.nik
    persons = distinct_counts(nik, x.person)
    shared = (nik >= 0) & (persons[np.maximum(nik, 0)] > 1)
    r = x.select(shared)
    values = _joined_per_group(r["nik"], r["person_id"])
    expl = "NIK carried by " + pd.Series(persons[nik[shared]], index=r.index).astype(str) + " different persons: " + values
    return _rows(r, "nik_shared", "high", "nik", r["nik"], (values, r["nik"]), expl)


def multiple_nik(x: _Linked) -> pd.DataFrame:
    nik = x.nik
    valid = (nik >= 0) & is_value(x.records["nik_status"], "valid")
    niks = distinct_counts(x.person, np.where(valid, nik, -1))
    many = valid & (niks[x.person] > 1)
    r = x.select(many)
    values = _joined_per_group(r["person_id"], r["nik"])
    expl = "one person carries several valid NIKs: " + values
    return _rows(r, "multiple_nik", "high", "nik", r["person_id"], (values, r["nik"]), expl)


_INVALID_SEVERITY = {
    "missing": "medium",
    "malformed": "high",
    "dummy": "high",
    "kk_as_nik": "high",
    "precision_lost": "low",
    "invalid_date": "high",
    "region_never_existed": "high",
    "serial_zero": "medium",
}
_INVALID_TEXT = {
    "missing": "no NIK",
    "malformed": "NIK is not 16 digits",
    "dummy": "dummy NIK",
    "kk_as_nik": "a family card number in the NIK column",
    "precision_lost": "NIK lost digits in Excel (stored as a number)",
    "invalid_date": "NIK encodes an impossible birth date",
    "region_never_existed": "NIK region code is in no Kemendagri table (a province or regency that never existed)",
    "serial_zero": "NIK serial is 0000",
}


def invalid_nik(x: _Linked) -> pd.DataFrame:
    r = x.select(~is_value(x.records["nik_status"], "valid"))
    status = r["nik_status"]
    return _rows(
        r, "invalid_nik", status.map(_INVALID_SEVERITY), "nik", record_keys(r), (status, r["nik_raw"]),
        status.map(_INVALID_TEXT),
    )


def _iso(days: np.ndarray) -> pd.Series:
    """Days since DAY0 as YYYY-MM-DD text (None when missing)."""
    ymd = pd.Series(days_to_ymd(days))
    text = ymd.astype(str).str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
    return text.where(ymd >= 0, None)


def attribute_mismatch(x: _Linked) -> pd.DataFrame:
    r = x.records
    golden_days = to_days(x.registry["birth_date"])[x.person]
    record_days = to_days(r["birth_date"])
    nik_days = to_days(r["nik_birth_date"])
    none = np.full(len(r), -1)
    level = birth_date_levels(days_to_ymd(record_days), days_to_ymd(golden_days), none, none)
    # A record that repeats its own NIK's date is the registration date, not a mistake.
    own_nik_date = (record_days >= 0) & (record_days == nik_days)
    # Only another record of the person shows a mismatch. A lone record whose birth date or sex
    # disagrees with its own NIK is flagged (nik_birth_date_mismatch, nik_sex_mismatch), not a
    # conflict: a typo in the NIK looks the same, and nothing says which of the two is wrong.
    date_off = (level >= 0) & ~np.isin(level, _NORMAL_DATE_LEVELS) & ~own_nik_date
    # Birth dates so evenly split that survivorship could not choose: each of them is in doubt.
    conflicts = pa.array(x.registry["field_conflicts"])
    tied = np.zeros(x.count, dtype=bool)
    on_birth_date = pc.equal(pc.list_flatten(conflicts), "birth_date").to_numpy(zero_copy_only=False)
    tied[pc.list_parent_indices(conflicts).to_numpy()[on_birth_date]] = True
    date_off |= tied[x.person] & (record_days >= 0) & ~own_nik_date
    sex_codes = {"L": 0, "P": 1}
    record_sex = r["sex"].map(sex_codes).fillna(-1).to_numpy(dtype=np.int64)
    golden_sex = x.registry["sex"].map(sex_codes).fillna(-1).to_numpy(dtype=np.int64)[x.person]
    sex_off = (record_sex >= 0) & (golden_sex >= 0) & (record_sex != golden_sex)
    shown_sex = _contradicted_by_nik(x, record_sex, r["nik_sex"].map(sex_codes).fillna(-1).to_numpy(dtype=np.int64))
    golden_sex = np.where(sex_off | (shown_sex < 0), golden_sex, shown_sex)
    sex_off |= shown_sex >= 0
    dated = x.select(date_off)
    date_rows = _rows(
        dated,
        "attribute_mismatch",
        "medium",
        "birth_date",
        dated["person_id"] + ":birth_date",
        (_iso(golden_days[date_off]).to_numpy(), _iso(record_days[date_off]).to_numpy()),
        "birth date differs from the person's golden record beyond a typo or a day/month swap",
    )
    sexed = x.select(sex_off)
    sex_text = np.array(["L", "P"], dtype=object)
    sex_rows = _rows(
        sexed, "attribute_mismatch", "medium", "sex", sexed["person_id"] + ":sex", (sex_text[golden_sex[sex_off]], sexed["sex"]),
        "sex differs from the person's golden record",
    )
    return pd.concat([date_rows, sex_rows], ignore_index=True)


def _contradicted_by_nik(x: _Linked, stated: np.ndarray, nik_says: np.ndarray) -> np.ndarray:
    """Per record, the value (code) that another record's NIK shows against the record's stated
    one, or -1. That other record states no value of its own (BPNT lists no sex), and no
    civil-registry record of the person states one (the registry's is the golden value). The
    record itself carries a NIK saying the same, or no NIK and the only stated value of its
    person: a NIK is a family member's often enough that one stated value against another
    does not say which is wrong."""
    person = x.person
    civil = is_value(x.records["source_kind"], "civil_registry")
    registry_states = np.bincount(person[civil & (stated >= 0)], minlength=x.count) > 0
    statements = np.bincount(person[stated >= 0], minlength=x.count)
    asked = np.flatnonzero((stated >= 0) & ~registry_states[person])
    witness = np.flatnonzero((nik_says >= 0) & (stated < 0))
    pairs = pd.DataFrame({"row": asked, "person": person[asked]}).merge(
        pd.DataFrame({"person": person[witness], "shown": nik_says[witness]}), on="person"
    )
    row, shown = pairs["row"].to_numpy(), pairs["shown"].to_numpy()
    own = nik_says[row]
    backed = np.where(own >= 0, own == shown, statements[person[row]] == 1)
    hit = backed & (stated[row] != shown)
    out = np.full(len(stated), -1, dtype=np.int64)
    out[row[hit]] = shown[hit]
    return out


def deceased(x: _Linked) -> pd.DataFrame:
    dead = x.per_person("status") == "deceased"
    listed = is_value(x.records["source_kind"], "aid_list") & dead
    r = x.select(listed)
    when = _iso(to_days(x.registry["death_date"])[x.person[listed]]).fillna("unknown date").to_numpy(dtype=object)
    return _rows(
        r, "deceased", "high", "status", r["person_id"], ("deceased " + when, r["program"]),
        "listed for aid, but the civil registry records this person as deceased (" + when + ")",
    )


def ineligible(x: _Linked) -> pd.DataFrame:
    """Aid for a person an exclusion list names: one conflict per person, over their aid-list
    records; the exclusion records (reason, source:record_id) are named in the explanation."""
    excluded = is_value(x.records["source_kind"], "exclusion_list")
    if not excluded.any():
        return pd.DataFrame(columns=_COLUMNS)
    on_list = np.zeros(x.count, dtype=bool)
    on_list[x.person[excluded]] = True
    listed = is_value(x.records["source_kind"], "aid_list") & on_list[x.person]
    if not listed.any():  # an excluded person who receives no aid is no conflict
        return pd.DataFrame(columns=_COLUMNS)
    e, r = x.select(excluded), x.select(listed)
    reasons = r["person_id"].map(_joined(e["person_id"], e["exclusion_reason"])).astype(object)
    where = _joined(e["person_id"], e["exclusion_reason"] + " (" + record_keys(e) + ")")
    return _rows(
        r, "ineligible", "high", "exclusion", r["person_id"], (reasons, r["program"]),
        "listed for aid, but on an exclusion list: " + r["person_id"].map(where).astype(object),
    )


def duplicate_in_source(x: _Linked) -> pd.DataFrame:
    source = value_codes(x.records["source"])
    combo = pd.factorize(x.person * (int(source.max(initial=0)) + 1) + source)[0]
    count = np.bincount(combo)[combo]
    dup = count > 1
    r = x.select(dup)
    group = r["source"] + ":" + r["person_id"]
    ids = _joined_per_group(group, r["record_id"])
    return _rows(
        r, "duplicate_in_source", "medium", "record_id", group, (ids, r["record_id"]),
        "the same person is listed " + pd.Series(count[dup], index=r.index).astype(str) + " times in " + r["source"] + ": records " + ids,
    )


def multi_region(x: _Linked) -> pd.DataFrame:
    r = x.records
    region = value_codes(r["regency_code"].fillna(r["regency"]))
    aid = is_value(r["source_kind"], "aid_list") & (region >= 0)
    regions = distinct_counts(x.person, np.where(aid, region, -1))
    many = aid & (regions[x.person] > 1)
    sel = x.select(many)
    # Regencies by their Kemendagri name (the code's), so that one regency spelled two ways is one
    named = regency_names(sel["regency_code"]).fillna(sel["regency"]).fillna(sel["regency_code"])
    names = _joined_per_group(sel["person_id"], named)
    return _rows(
        sel, "multi_region", "medium", "regency", sel["person_id"], (names, named),
        "the same person is on the aid lists of several regencies: " + names,
    )


def unmatched_civil_registry(x: _Linked, civil_registry: bool) -> pd.DataFrame:
    if not civil_registry:
        return pd.DataFrame(columns=_COLUMNS)
    r = x.records
    missing = is_value(r["source_kind"], "aid_list") & ~x.per_person("in_civil_registry").astype(bool)
    # A person known only by a name and a place identifies nobody: the registry's namesakes in the
    # village cannot be told apart, so absence cannot be shown (the record is invalid_nik: missing).
    identifying = (is_value(r["nik_status"], "valid") | r["birth_date"].notna() | r["kk"].notna()).to_numpy(dtype=bool)
    missing &= np.bincount(x.person, weights=identifying, minlength=x.count)[x.person] > 0
    r = x.select(missing)
    return _rows(
        r, "unmatched_civil_registry", "medium", "nik", record_keys(r), (r["nik"], r["nik"]),
        "aid recipient not found in the civil registry (tidak padan)",
    )


def review_needed(x: _Linked, review: pd.DataFrame) -> pd.DataFrame:
    if review.empty:
        return pd.DataFrame(columns=_COLUMNS)
    pos = np.r_[review["left"].to_numpy(), review["right"].to_numpy()]
    pair = review.iloc[np.r_[np.arange(len(review)), np.arange(len(review))]].reset_index(drop=True)
    sel = x.select(pos).reset_index(drop=True)
    pair_key = record_keys(sel).to_numpy()
    group = pd.Series(np.r_[pair_key[: len(review)], pair_key[: len(review)]] + "|" + np.r_[pair_key[len(review) :], pair_key[len(review) :]])
    weight = pair["weight"].round(1).astype(str)
    return _rows(
        sel, "review_needed", "low", None, group, (pair["reason"] + " (weight " + weight + ")", weight),
        "a possible match awaiting an analyst's decision: " + pair["reason"],
    )


def find_conflicts(
    records: pd.DataFrame, registry: pd.DataFrame, review: pd.DataFrame, persons: Persons, civil_registry: bool | None = None
) -> pd.DataFrame:
    """All conflicts of a run; `records` carries person_id (coded by `persons`, the registry's
    rows), `review` left/right positions. `civil_registry`: whether the run has civil-registry
    records, when `records` are only some persons of it (default: whether they have any)."""
    if records.empty:  # a run whose every row was rejected
        return pd.DataFrame(columns=_COLUMNS)
    if civil_registry is None:
        civil_registry = bool(is_value(records["source_kind"], "civil_registry").any())
    x = _Linked(records, persons, registry)
    parts = [
        nik_shared(x),
        multiple_nik(x),
        invalid_nik(x),
        attribute_mismatch(x),
        deceased(x),
        ineligible(x),
        duplicate_in_source(x),
        multi_region(x),
        unmatched_civil_registry(x, civil_registry),
        review_needed(x, review),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else pd.DataFrame(columns=_COLUMNS)
    return out.sort_values(["kind", "conflict_id", "source", "record_id"], kind="stable").reset_index(drop=True)
