"""Masking of identity numbers (NIK, KK) in human-facing outputs (UU PDP, Law 27/2022).

A 16-digit number keeps its first four digits (province and regency: where the person was
first registered, useful to an analyst) and its last four (the serial, to tell two
numbers apart), as the election commission's published lists do: `3374********0003`.

Anything else (a 15-digit number Excel cut short, `3.17101E+15`, a name pasted into the
NIK column) keeps at most 4 + 4 of its letters and digits, and a quarter from each end
when it is shorter: no masked value ever shows more than 8 digits, nor more than half of
its letters and digits.
Punctuation and length are kept, so an analyst still sees the shape of a broken value.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

STAR = "*"
_DIGITS16 = re.compile(r"^[0-9]{16}$")
# Digit runs that could be an identity number inside free text (a village code has 10 digits).
_ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{12,}(?![0-9])")


def _mask_one(value: str) -> str:
    """First k and last k letters/digits kept, the others starred; k = min(4, n // 4)."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    n = len(positions)
    k = min(4, n // 4)
    hide = set(positions[k : n - k])
    return "".join(STAR if i in hide else ch for i, ch in enumerate(value))


def mask_nik(values: pd.Series) -> pd.Series:
    """Mask NIK or KK numbers: `3374010101900003` -> `3374********0003`; nulls stay null.

    The common case (16 digits) is vectorised; the rare odd values go one by one.
    """
    text = values.astype("string").str.strip()
    out = np.full(len(text), None, dtype=object)
    is16 = text.str.fullmatch(r"[0-9]{16}").fillna(False).to_numpy(dtype=bool)
    if is16.any():
        v = text[is16]
        out[is16] = (v.str.slice(0, 4) + STAR * 8 + v.str.slice(12, 16)).to_numpy(dtype=object)
    odd = ~is16 & text.notna().to_numpy(dtype=bool)
    if odd.any():
        out[odd] = np.array([_mask_one(v) for v in text[odd]], dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def mask_one(value: object) -> object:
    """`mask_nik` for one value (None stays None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    value = str(value).strip()
    if _DIGITS16.match(value):
        return value[:4] + STAR * 8 + value[12:]
    return _mask_one(value)


def mask_ids_in_text(text: object) -> object:
    """Mask every run of 12 or more digits inside free text (explanations, joined values)."""
    if not isinstance(text, str):
        return text
    return _ID_IN_TEXT.sub(lambda m: mask_one(m.group(0)), text)


def mask_joined(text: object, sep: str = "; ") -> object:
    """Mask each value of a `sep`-joined list of identity numbers."""
    if not isinstance(text, str):
        return text
    return sep.join(str(mask_one(part)) for part in text.split(sep))
