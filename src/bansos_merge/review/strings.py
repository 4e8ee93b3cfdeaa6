"""Every string the review app shows, in Bahasa Indonesia (the default) and English (the
tables: strings_id.py and strings_en.py).

`t(key, lang, **values)` looks a string up and fills its `{placeholders}`. Labels of codes
that the publish step already translates (conflict kinds, their help text, severities,
fields) come from `publish.i18n`, with the code itself as the fallback. A test checks that
both languages carry the same keys.
"""

from __future__ import annotations

from ..publish import i18n
from . import strings_en, strings_id

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

STRINGS: dict[str, dict[str, str]] = {"id": strings_id.STRINGS, "en": strings_en.STRINGS}


def language(value: object) -> str:
    """A supported language code, else the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str, **values: object) -> str:
    """The string `key` in `lang` with its `{placeholders}` filled; an unknown key shows as itself."""
    text = STRINGS[language(lang)].get(key, key)
    return text.format(**values) if values else text


def label_or_code(prefix: str, code: object, lang: str) -> str:
    """`t(prefix + "." + code)`, or the code itself (underscores as spaces) when this module
    has no string for it: a new code from upstream shows up readable, not as a key."""
    if code is None or code == "":
        return ""
    key = f"{prefix}.{code}"
    return t(key, lang) if key in STRINGS[language(lang)] else str(code).replace("_", " ")


def code_label(group: str, code: object, lang: str) -> str:
    """Label of a publish code (kind, kind_help, severity, field, nik_status): publish.i18n's
    translation, else the code itself."""
    if code is None or code == "":
        return ""
    try:
        return i18n.label(group, code, language(lang))
    except (KeyError, ValueError):
        return str(code)


def kind_label(kind: str, lang: str) -> str:
    """An item kind: 'review' (a pair from review.parquet) or a conflict kind."""
    return t("kind.review", lang) if kind == "review" else code_label("kind", kind, lang)


def fmt_number(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:,.{digits}f}"
    if language(lang) == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
