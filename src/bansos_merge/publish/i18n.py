"""Every string a person reads in `conflicts.xlsx` and `report.html`, in Bahasa Indonesia
(the default) and English (the tables: strings_id.py and strings_en.py).

`t(key, lang, **values)` looks a string up and fills its `{placeholders}`; the labels of
codes (conflict kinds, severities, fields, NIK statuses, reject reasons) have their own
helpers that fall back to the code itself, so a new code from upstream shows up as its code
rather than crashing a report. A test checks that both languages carry the same keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping

from . import strings_en, strings_id
from .conflicts import KINDS

LANGUAGES = ("id", "en")

# KINDS (from conflicts): the conflict kinds in the order reports list them, most serious first.
SEVERITIES = ("high", "medium", "low")

# NIK statuses grouped the way the data-quality table counts them.
NIK_INVALID = ("malformed", "dummy", "kk_as_nik", "invalid_date", "region_never_existed", "serial_zero")

STRINGS: dict[str, dict[str, str]] = {"id": strings_id.STRINGS, "en": strings_en.STRINGS}
LABELS: dict[str, dict[str, dict[str, str]]] = {"id": strings_id.LABELS, "en": strings_en.LABELS}

_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {lang!r}")
    return lang


def t(key: str, lang: str, **values: object) -> str:
    """The string `key` in `lang`, with `{placeholders}` filled from `values`."""
    text = STRINGS[check_language(lang)][key]
    return text.format(**values) if values else text


def label(group: str, code: object, lang: str) -> str:
    """The label of a code (group: kind, kind_help, severity, field, nik_status, reject_reason);
    an unknown code is shown as itself."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    return LABELS[check_language(lang)][group].get(str(code), str(code))


def sheet_title(kind: str, lang: str) -> str:
    """A worksheet title for a conflict kind: the translated label, valid and at most 31 chars."""
    title = label("kind", kind, lang)
    for ch in "[]:*?/\\":
        title = title.replace(ch, "-")
    return title.strip("'")[:31] or "-"


def fmt_int(n: int | float, lang: str) -> str:
    """12345 -> '12.345' (id) or '12,345' (en)."""
    text = f"{int(n):,}"
    return text.replace(",", ".") if check_language(lang) == "id" else text


def fmt_pct(part: int, whole: int, lang: str) -> str:
    if not whole:
        return "\u2013"
    text = f"{100 * part / whole:.1f}%"
    return text.replace(".", ",") if check_language(lang) == "id" else text


def fmt_datetime(value: object, lang: str) -> str:
    """An ISO timestamp as '29 November 2026 08:12:03 UTC'; unreadable values as given, absent as '–'."""
    if value is None or value == "":
        return "\u2013"
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    month = _MONTHS[check_language(lang)][when.month - 1]
    return f"{when.day} {month} {when.year} {when:%H:%M:%S} UTC"


def explain(kind: str, lang: str, fields: Mapping[str, object]) -> str:
    """The explanation of one conflict row, from its kind's template.

    `fields` carries: value, values, field (a code), source, sources, n_values, n_persons,
    n_records, status (a NIK status code or None), program.
    """
    f = dict(fields)
    f["field"] = label("field", f.get("field"), lang) or "-"
    f["kind"] = label("kind", kind, lang)
    for key in ("value", "values", "source", "sources", "program"):
        f[key] = "-" if f.get(key) in (None, "") else f[key]
    key = f"explain.{kind}"
    if kind == "invalid_nik":
        status = f.get("status")
        if status and status != "valid":
            f["status"] = label("nik_status", status, lang)
        else:
            key = "explain.invalid_nik_plain"
    if key not in STRINGS[lang]:
        key = "explain.other"
    return STRINGS[lang][key].format(**f)
