"""The "value" and "values" columns of conflicts.xlsx in the officer's language.

conflicts.parquet keeps codes for machines (`region_never_existed`, `deceased 2023-01-06`,
`names_differ (weight 2.7)`, `asn`); an officer reads the workbook in Bahasa Indonesia (or
English), so each kind's codes are translated here, before masking: masking is for identity
numbers only, never for a reason or a date.
"""

from __future__ import annotations

import pandas as pd

from . import i18n

_ISO_DATE = r"(\d{4})-(\d{2})-(\d{2})"


def text_column(series: pd.Series) -> pd.Series:
    """Strings, with nulls as None."""
    s = series.astype(object)
    return s.where(s.notna(), None).map(lambda v: None if v is None else str(v))


def _labels(values: pd.Series, group: str, lang: str) -> pd.Series:
    """Each code of a '; '-joined list, by its label in `group`."""
    return values.map(lambda v: v if v is None else "; ".join(i18n.label(group, p, lang) for p in v.split("; ")))


def _dates(values: pd.Series, lang: str) -> pd.Series:
    """ISO dates as the workbook's date cells show them (dd/mm/yyyy in Bahasa Indonesia)."""
    text = values.astype("string")
    if lang == "id":
        text = text.str.replace(_ISO_DATE, r"\3/\2/\1", regex=True)
    return text.astype(object).where(text.notna(), None)


def _weight(weights: pd.Series, lang: str) -> pd.Series:
    number = pd.to_numeric(weights, errors="coerce").map(lambda w: None if pd.isna(w) else f"{w:.1f}")
    return number.str.replace(".", ",", regex=False) if lang == "id" else number


def shown_values(rows: pd.DataFrame, lang: str) -> tuple[pd.Series, pd.Series]:
    """This record's value and the conflict's values, as shown: codes translated, dates in the
    language's order. `rows`: conflict rows joined with the records' `status` and `program`."""
    kind = rows["kind"].astype(str)
    value, values = text_column(rows["value"]), text_column(rows["values"])

    def at(name: str):
        return (kind == name).to_numpy(dtype=bool)

    invalid = at("invalid_nik")
    values[invalid] = _labels(values[invalid], "nik_status", lang)
    excluded = at("ineligible")
    values[excluded] = _labels(values[excluded], "exclusion_reason", lang)

    dead = at("deceased")
    if dead.any():
        when = _dates(values[dead].str.extract(r"(\d{4}-\d{2}-\d{2})", expand=False).astype(object), lang)
        values[dead] = [i18n.t("value.deceased", lang, date=d) if d else i18n.t("value.deceased_undated", lang) for d in when]
        status = text_column(rows.loc[dead, "status"])
        value[dead] = [i18n.label("status", s, lang) if s else i18n.t("value.status_not_recorded", lang) for s in status]

    queued = at("review_needed")
    if queued.any():
        parts = values[queued].str.extract(r"^(.*) \(weight (.*)\)$")
        weight = _weight(parts[1], lang)
        values[queued] = [
            i18n.t("value.review", lang, reason=i18n.label("review_reason", r, lang), weight=w) if w else v
            for r, w, v in zip(parts[0], weight, values[queued])
        ]
        value[queued] = [i18n.t("value.weight", lang, weight=w) if w else None for w in _weight(value[queued], lang)]

    sexed = (rows["field"].astype(str) == "sex").to_numpy(dtype=bool)
    value[sexed], values[sexed] = _labels(value[sexed], "sex", lang), _labels(values[sexed], "sex", lang)
    dated = (rows["field"].astype(str) == "birth_date").to_numpy(dtype=bool)
    value[dated], values[dated] = _dates(value[dated], lang), _dates(values[dated], lang)
    return value, values
