"""What the item and queue pages show of records: one-line briefs, the records side by side
with their differences marked, conflict values masked. No web framework here.

NIK and KK numbers are masked unless the page is an (audited) reveal.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..publish.masking import mask_ids_in_text, mask_one
from . import strings
from .items import ConflictRef, Item
from .queue import RunData

# Column letters of the records on an item page (a group has at most review.group_max_records).
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _blank(value: object) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) == 0
    return value is None or value is pd.NA or (isinstance(value, float) and value != value) or str(value).strip() == ""


def _text(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in list(value))
    if isinstance(value, (dt.date, pd.Timestamp)):
        return str(value)[:10]
    return str(value)


def _show_id(value: object, reveal: bool) -> str:
    if _blank(value):
        return ""
    return str(value) if reveal else str(mask_one(str(value)))


def brief(run: RunData, key: str | None, reveal: bool = False) -> dict | None:
    """A record in one line: key, name, birth date, masked NIK, village."""
    if key is None:
        return None
    r = run.record(key)
    if r is None:
        return {"key": key, "name": "", "birth_date": "", "nik": "", "village": "", "person_id": ""}
    return {
        "key": key,
        "name": _text(r["name"]) or _text(r["name_raw"]),
        "birth_date": _text(r["birth_date"]) or _text(r["birth_date_raw"]),
        "nik": _show_id(r["nik"] if not _blank(r["nik"]) else r["nik_raw"], reveal),
        "village": _text(r["village"]),
        "program": _text(r["program"]),
        "person_id": _text(r["person_id"]),
    }


# (label key, what to show, fields compared: the first one that two records both carry
# decides whether the row differs; None: a "meta" row, never highlighted).
_SPECS = [
    ("f.source", "source", None),
    ("f.record_id", "record_id", None),
    ("f.origin", "origin", None),
    ("f.person_id", "person_id", ("person_id",)),
    ("f.nik", "nik", ("nik", "nik_raw")),
    ("f.nik_status", "nik_status", ("nik_status",)),
    ("f.kk", "kk", ("kk", "kk_raw")),
    ("f.name", "name", ("name_key",)),
    ("f.name_raw", "name_raw", ("name_raw",)),
    ("f.birth_date", "birth_date", ("birth_date",)),
    ("f.birth_place", "birth_place", ("birth_place",)),
    ("f.sex", "sex", ("sex",)),
    ("f.mother_name", "mother_name", ("mother_name",)),
    ("f.address", "address", ("address",)),
    ("f.rtrw", "rtrw", ("@shown",)),
    ("f.village", "village", ("village_code", "village")),
    ("f.district", "district", ("district_code", "district")),
    ("f.regency", "regency", ("regency_code", "regency")),
    ("f.province", "province", ("province_code", "province")),
    ("f.program", "program", ("program",)),
    ("f.status", "status", ("@shown",)),
    ("f.flags", "flags", None),
]


def side_by_side(run: RunData, keys: list[str], reveal: bool, lang: str = strings.DEFAULT_LANGUAGE) -> list[dict]:
    """One row per field, one value per record; `cls` is 'diff' where the records disagree,
    'missing' where only one carries the field, 'meta' for bookkeeping rows. Codes (NIK status,
    sex, alive/deceased, data-quality flags) show in the page's language."""
    recs = [run.record(k) for k in keys]

    def val(r: pd.Series, f: str) -> object:
        return r[f] if f in r.index else None

    def shown(r: pd.Series, spec: str) -> str:
        if spec == "origin":
            sheet = _text(val(r, "source_sheet"))
            return f"{_text(val(r, 'source_file'))}{' [' + sheet + ']' if sheet else ''} #{_text(val(r, 'row_number'))}"
        if spec in ("nik", "kk"):
            return _show_id(val(r, spec) if not _blank(val(r, spec)) else val(r, f"{spec}_raw"), reveal)
        if spec == "rtrw":
            rt, rw = _text(val(r, "rt")), _text(val(r, "rw"))
            return f"{rt or '-'}/{rw or '-'}" if rt or rw else ""
        if spec == "birth_date":
            d, raw = _text(val(r, "birth_date")), _text(val(r, "birth_date_raw"))
            return f"{d} ({raw})" if d and raw and raw != d else d or raw
        if spec == "status":
            s, when = strings.label_or_code("life", _text(val(r, "status")), lang), _text(val(r, "death_date"))
            return f"{s} {when}".strip()
        if spec == "nik_status":
            return strings.code_label("nik_status", _text(val(r, spec)), lang)
        if spec == "sex":
            return strings.label_or_code("sex", _text(val(r, spec)), lang)
        if spec == "flags":
            flags = val(r, spec)
            return "" if _blank(flags) else ", ".join(strings.label_or_code("flag", f, lang) for f in list(flags))
        return _text(val(r, spec))

    rows = []
    for label, spec, compare in _SPECS:
        values = [shown(r, spec) for r in recs]
        cls = "meta" if compare is None else ""
        if compare is not None and len(recs) >= 2:
            fields = [values] if compare == ("@shown",) else [[_text(val(r, f)) for r in recs] for f in compare]
            carried = next((present for present in ([v for v in per_field if v] for per_field in fields) if len(present) >= 2), None)
            if carried is not None:
                cls = "diff" if len(set(carried)) > 1 else ""
            elif any(v for per_field in fields for v in per_field):
                cls = "missing"
        rows.append({"label": label, "values": values, "cls": cls})
    return rows


def _coded_values(conflict: ConflictRef, lang: str) -> str | None:
    """A conflict's values that are codes, in the page's language: a NIK's status (invalid_nik),
    alive/deceased and the date (deceased), the queue's reason and weight (review_needed).
    None when the values are data (NIKs, names of places, ids)."""
    values = str(conflict.values)
    if conflict.kind == "invalid_nik":
        return "; ".join(strings.code_label("nik_status", v.strip(), lang) for v in values.split(";"))
    if conflict.kind == "deceased":
        status, _, when = values.partition(" ")
        return f"{strings.label_or_code('life', status, lang)} {when}".strip()
    if conflict.kind == "review_needed":
        reason, _, rest = values.partition(" (weight ")
        weight = rest.rstrip(")")
        label = strings.label_or_code("reason", reason, lang)
        return f"{label} ({strings.t('col.weight', lang).lower()} {weight})" if weight else label
    return None


def masked_values(conflict: ConflictRef, reveal: bool, lang: str = strings.DEFAULT_LANGUAGE) -> str | None:
    if conflict.values is None:
        return None
    coded = _coded_values(conflict, lang)
    if coded is not None:
        return coded
    if reveal:
        return conflict.values
    # Values are NIKs (multiple_nik), person ids (nik_shared), regencies ...: mask every
    # identity-number-like run of digits, leave the rest readable.
    return str(mask_ids_in_text(conflict.values))


# The pair decisions (explain's `decision`) that put two records in one person.
_SAME_BY_PAIR = ("match", "registry_double")


def _share(probability: float, lang: str) -> str:
    """A probability as a percentage that never rounds to a certainty it is not."""
    if probability >= 0.9995:
        return "> " + strings.fmt_number(99.9, lang) + "%"
    if probability < 0.0005:
        return "< " + strings.fmt_number(0.1, lang) + "%"
    return strings.fmt_number(100 * probability, lang) + "%"


def run_verdict(run: RunData, item: Item, evidence: object | None, lang: str) -> dict | None:
    """What the run decided about a pair item, and why, for the page's headline; and, set
    apart, the probability of the weights alone. The weights can say "one person" at 27.6 while
    the run's rules (two civil-registry NIKs, names that differ outright) keep two people:
    leading with the weights would contradict the decision. `evidence`: explain's Explanation."""
    if item.right is None:
        return None
    same = run.person(item.left) == run.person(item.right)
    decision = getattr(evidence, "decision", None)
    if item.reason:
        reason = strings.label_or_code("reason", item.reason, lang)
    elif decision is not None and (decision in _SAME_BY_PAIR) == same:
        reason = strings.label_or_code("why", decision, lang)
    else:
        reason = strings.t("item.by_clustering", lang)
    weight = float(getattr(evidence, "total", item.weight))
    if weight != weight:
        return {"same": same, "reason": reason, "weights": None}
    probability = 1 / (1 + 2.0 ** -weight)
    weights = strings.t("item.weights_only", lang, probability=_share(probability, lang), weight=strings.fmt_number(weight, lang))
    return {"same": same, "reason": reason, "weights": weights}
