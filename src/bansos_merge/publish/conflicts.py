"""conflicts.parquet: where the lists disagree, one row per record involved.

Each detector is a vectorised query over the linked records (and the registry / review
queue) returning rows of one kind; `find_conflicts` stacks them. Kinds and their rules:

- nik_shared: one usable NIK carried by records of two or more persons.
- multiple_nik: one person whose records carry two or more different valid NIKs.
- invalid_nik: a record whose NIK is missing, malformed, a dummy, a pasted KK, has an
  impossible date or serial 0000, or lost digits in Excel.
- attribute_mismatch: a record of a person whose birth date differs from the golden one
  beyond normal variation (exact, day/month swap, one digit, the NIK's date), or whose sex
  differs; and a list record held out of a link only because its birth date disagrees.
- deceased: an aid-list record of a person the civil registry records as deceased.
- duplicate_in_source: a person listed two or more times in one source.
- multi_region: a person whose aid-list records sit in two or more regencies.
- unmatched_civil_registry: an aid-list record of a person with no civil-registry record
  (only when a civil registry is configured).
- review_needed: both records of a pair in the review queue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..link.comparisons import BIRTH_DATE, birth_date_levels
from ..link.features import MISSING, days_to_ymd, to_days

KINDS = (
    "nik_shared",
    "multiple_nik",
    "invalid_nik",
    "attribute_mismatch",
    "deceased",
    "duplicate_in_source",
    "multi_region",
    "unmatched_civil_registry",
    "review_needed",
)
_COLUMNS = ["conflict_id", "kind", "severity", "person_id", "source", "record_id", "field", "values", "value", "regency_code", "regency", "explanation"]
_TEXT_COLUMNS = (
    "source", "source_kind", "record_id", "person_id", "nik", "nik_raw", "nik_status", "sex", "program",
    "regency", "regency_code",
)
_NORMAL_DATE_LEVELS = (BIRTH_DATE.levels.index("exact"), BIRTH_DATE.levels.index("swap_or_one_digit_or_nik_date"))


def _rows(records: pd.DataFrame, mask, kind: str, severity, field: str | None, group, value, explanation) -> pd.DataFrame:
    """Conflict rows for the records in `mask`. `group` identifies the conflict (same group,
    same conflict_id); `value` is (values across the conflict, this record's value). Every
    argument is a scalar or a column aligned with `records`."""
    mask = np.asarray(mask, dtype=bool)
    sel = records[mask]

    def col(x) -> np.ndarray:
        if isinstance(x, (pd.Series, np.ndarray)):
            return np.asarray(x, dtype=object)[mask]
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


def _joined_per_group(keys: pd.Series, values: pd.Series) -> pd.Series:
    """For each row: the distinct values of its group, sorted and '; '-joined."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.astype(str).to_numpy()})
    distinct = frame.dropna().drop_duplicates().sort_values("v")
    joined = distinct.groupby("k")["v"].agg("; ".join)
    # object dtype even when no group exists, so that "text " + result stays text
    return keys.map(joined).astype(object)


def nik_shared(r: pd.DataFrame) -> pd.DataFrame:
    has = r["nik"].notna()
    persons = r[has].groupby("nik")["person_id"].nunique()
    shared = has & r["nik"].map(persons).fillna(0).gt(1)
    values = _joined_per_group(r["nik"].where(shared), r["person_id"])
    n = r["nik"].map(persons)
    expl = "NIK carried by " + n.astype("Int64").astype(str) + " different persons: " + values
    return _rows(r, shared, "nik_shared", "high", "nik", r["nik"], (values, r["nik"]), expl)


def multiple_nik(r: pd.DataFrame) -> pd.DataFrame:
    valid = r["nik"].notna() & r["nik_status"].eq("valid")
    count = r[valid].groupby("person_id")["nik"].nunique()
    many = valid & r["person_id"].map(count).fillna(0).gt(1)
    values = _joined_per_group(r["person_id"].where(many), r["nik"].where(valid))
    expl = "one person carries several valid NIKs: " + values
    return _rows(r, many, "multiple_nik", "high", "nik", r["person_id"], (values, r["nik"]), expl)


_INVALID_SEVERITY = {
    "missing": "medium",
    "malformed": "high",
    "dummy": "high",
    "kk_as_nik": "high",
    "precision_lost": "low",
    "invalid_date": "high",
    "serial_zero": "medium",
}
_INVALID_TEXT = {
    "missing": "no NIK",
    "malformed": "NIK is not 16 digits",
    "dummy": "dummy NIK",
    "kk_as_nik": "a family card number in the NIK column",
    "precision_lost": "NIK lost digits in Excel (stored as a number)",
    "invalid_date": "NIK encodes an impossible birth date",
    "serial_zero": "NIK serial is 0000",
}


def invalid_nik(r: pd.DataFrame) -> pd.DataFrame:
    bad = r["nik_status"].ne("valid")
    status = r["nik_status"]
    expl = status.map(_INVALID_TEXT)
    return _rows(
        r, bad, "invalid_nik", status.map(_INVALID_SEVERITY), "nik", r["source"] + ":" + r["record_id"], (status, r["nik_raw"]), expl
    )


def attribute_mismatch(r: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    golden = registry.set_index("person_id")
    g_date = pd.to_datetime(r["person_id"].map(golden["birth_date"]))
    g_sex = r["person_id"].map(golden["sex"])
    record_days = to_days(r["birth_date"])
    none = np.full(len(r), -1)
    level = birth_date_levels(days_to_ymd(record_days), days_to_ymd(to_days(g_date)), none, none)
    # A record that repeats its own NIK's date is the registration date, not a mistake.
    own_nik_date = (record_days >= 0) & (record_days == to_days(r["nik_birth_date"]))
    date_off = (level >= 0) & ~np.isin(level, _NORMAL_DATE_LEVELS) & ~own_nik_date
    # Without a registry record, the person's own NIK is the reference: a list record whose birth
    # date disagrees outright with the date its (valid) NIK encodes.
    nik_days = to_days(r["nik_birth_date"])
    no_registry = ~r["person_id"].map(golden["in_civil_registry"]).fillna(False).to_numpy(dtype=bool)
    nik_level = birth_date_levels(days_to_ymd(record_days), days_to_ymd(nik_days), none, none)
    against_nik = (r["nik_status"] == "valid").to_numpy(dtype=bool) & (nik_level >= 0) & ~np.isin(nik_level, _NORMAL_DATE_LEVELS)
    date_off |= no_registry & against_nik & r["source_kind"].eq("aid_list").to_numpy(dtype=bool)
    # Birth dates so evenly split that survivorship could not choose: each of them is in doubt.
    tied = r["person_id"].map(golden["field_conflicts"].map(lambda f: "birth_date" in list(f))).fillna(False)
    date_off |= tied.to_numpy(dtype=bool) & (record_days >= 0) & ~own_nik_date
    known = (r["sex"].notna() & g_sex.notna()).to_numpy(dtype=bool)
    sex_off = known & (r["sex"].fillna("").astype(str).to_numpy() != g_sex.fillna("").astype(str).to_numpy())
    date_rows = _rows(
        r,
        date_off,
        "attribute_mismatch",
        "medium",
        "birth_date",
        r["person_id"] + ":birth_date",
        (g_date.dt.strftime("%Y-%m-%d"), pd.to_datetime(r["birth_date"]).dt.strftime("%Y-%m-%d")),
        "birth date differs from the person's golden record beyond a typo or a day/month swap",
    )
    sex_rows = _rows(
        r, sex_off, "attribute_mismatch", "medium", "sex", r["person_id"] + ":sex", (g_sex, r["sex"]),
        "sex differs from the person's golden record",
    )
    return pd.concat([date_rows, sex_rows], ignore_index=True)


def deceased(r: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    dead = registry.loc[registry["status"] == "deceased", ["person_id", "death_date"]].set_index("person_id")["death_date"]
    listed = r["source_kind"].eq("aid_list") & r["person_id"].isin(dead.index)
    when = pd.to_datetime(r["person_id"].map(dead)).dt.strftime("%Y-%m-%d").fillna("unknown date")
    return _rows(
        r, listed, "deceased", "high", "status", r["person_id"], ("deceased " + when, r["program"]),
        "listed for aid, but the civil registry records this person as deceased (" + when + ")",
    )


def duplicate_in_source(r: pd.DataFrame) -> pd.DataFrame:
    count = r.groupby(["source", "person_id"])["record_id"].transform("size")
    dup = count.gt(1)
    group = r["source"] + ":" + r["person_id"]
    ids = _joined_per_group(group.where(dup), r["record_id"])
    return _rows(
        r, dup, "duplicate_in_source", "medium", "record_id", group, (ids, r["record_id"]),
        "the same person is listed " + count.astype(str) + " times in " + r["source"] + ": records " + ids,
    )


def multi_region(r: pd.DataFrame) -> pd.DataFrame:
    aid = r["source_kind"].eq("aid_list")
    region = r["regency_code"].fillna(r["regency"])
    regions = r[aid & region.notna()].assign(region=region).groupby("person_id")["region"].nunique()
    many = aid & region.notna() & r["person_id"].map(regions).fillna(0).gt(1)
    names = _joined_per_group(r["person_id"].where(many), r["regency"].fillna(r["regency_code"]))
    return _rows(
        r, many, "multi_region", "medium", "regency", r["person_id"], (names, r["regency"]),
        "the same person is on the aid lists of several regencies: " + names,
    )


def unmatched_civil_registry(r: pd.DataFrame) -> pd.DataFrame:
    civil = r["source_kind"].eq("civil_registry")
    if not civil.any():
        return pd.DataFrame(columns=_COLUMNS)
    missing = r["source_kind"].eq("aid_list") & ~r["person_id"].isin(r.loc[civil, "person_id"])
    return _rows(
        r, missing, "unmatched_civil_registry", "medium", "nik", r["source"] + ":" + r["record_id"], (r["nik"], r["nik"]),
        "aid recipient not found in the civil registry (tidak padan)",
    )


def review_needed(r: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    if review.empty:
        return pd.DataFrame(columns=_COLUMNS)
    sides = pd.concat(
        [
            pd.DataFrame({"pos": review["left"].to_numpy(), "pair": np.arange(len(review))}),
            pd.DataFrame({"pos": review["right"].to_numpy(), "pair": np.arange(len(review))}),
        ]
    )
    sel = r.iloc[sides["pos"].to_numpy()].reset_index(drop=True)
    pair = review.iloc[sides["pair"].to_numpy()].reset_index(drop=True)
    pair_key = (r["source"] + ":" + r["record_id"]).to_numpy()
    group = pd.Series(pair_key[pair["left"].to_numpy()] + "|" + pair_key[pair["right"].to_numpy()])
    weight = pair["weight"].round(1).astype(str)
    return _rows(
        sel, np.ones(len(sel), dtype=bool), "review_needed", "low", None, group,
        (pair["reason"] + " (weight " + weight + ")", weight),
        "a possible match awaiting an analyst's decision: " + pair["reason"],
    )


def dates_differ_in_review(r: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    """attribute_mismatch for pairs that would link but for birth dates that disagree outright
    (the review queue's `dates_differ`): the list record carries the deviating date — the
    civil registry is authoritative, so its record is not flagged. Only pairs the NIK cannot
    tell apart: two NIKs that differ say two people (father and son), not a wrong date."""
    held = review[(review["reason"] == "dates_differ") & (review["nik"] == MISSING)]
    if held.empty:
        return pd.DataFrame(columns=_COLUMNS)
    pos = np.r_[held["left"].to_numpy(), held["right"].to_numpy()]
    other = np.r_[held["right"].to_numpy(), held["left"].to_numpy()]
    keep = (r["source_kind"].to_numpy()[pos] != "civil_registry")
    pos, other = pos[keep], other[keep]
    sel = r.iloc[pos].reset_index(drop=True)
    date = lambda rows: pd.to_datetime(r["birth_date"].iloc[rows]).dt.strftime("%Y-%m-%d").to_numpy()  # noqa: E731
    values = pd.Series(date(pos)) + "; " + pd.Series(date(other))
    key = pd.Series((r["source"] + ":" + r["record_id"]).to_numpy()[pos]) + ":birth_date"
    return _rows(
        sel, np.ones(len(sel), dtype=bool), "attribute_mismatch", "medium", "birth_date", key,
        (values, pd.Series(date(pos))),
        "would link to another record of the same name and household, but the birth dates disagree (in review)",
    ).drop_duplicates(["source", "record_id"])


def find_conflicts(records: pd.DataFrame, registry: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    """All conflicts of a run; `records` carries person_id, `review` left/right positions."""
    # The detectors build explanations by string concatenation: plain object columns throughout.
    text = [c for c in _TEXT_COLUMNS if c in records]
    records = records.astype({c: object for c in text})
    records[text] = records[text].where(records[text].notna(), None)
    parts = [
        nik_shared(records),
        multiple_nik(records),
        invalid_nik(records),
        attribute_mismatch(records, registry),
        dates_differ_in_review(records, review),
        deceased(records, registry),
        duplicate_in_source(records),
        multi_region(records),
        unmatched_civil_registry(records),
        review_needed(records, review),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else pd.DataFrame(columns=_COLUMNS)
    return out.sort_values(["kind", "conflict_id", "source", "record_id"], kind="stable").reset_index(drop=True)
