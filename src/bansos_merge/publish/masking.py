"""Masking of identity numbers (NIK, KK) in human-facing outputs (UU PDP, Law 27/2022).

A 16-digit number keeps its first four digits (province and regency: where the person was
first registered, useful to an analyst) and its last four (the serial, to tell two
numbers apart), as the election commission's published lists do: `3374********0003`.

Anything else (a 15-digit number Excel cut short, `3.17101E+15`, a name pasted into the
NIK column) keeps at most 4 + 4 of its letters and digits, and a quarter from each end
when it is shorter: no masked value ever shows more than 8 digits, nor more than half of
its letters and digits.
Punctuation and length are kept, so an analyst still sees the shape of a broken value.

Two NIKs that differ only in the hidden digits mask alike. `mask_tagged` appends to each
masked value a tag of four consonants (`3305********0001 #KTRM`), an HMAC-SHA256 of the whole
value under a key derived from the output folder's secret (`tag_key`, see output_key.py): the same number keeps
its tag from run to run, and a tag says nothing about the hidden digits to anyone without the key (no
digit is added; trying every candidate NIK is useless without it). The key lies beside the
unmasked Parquet outputs: whoever can read it can read the NIKs already.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..output_key import output_key

STAR = "*"
_DIGITS16 = re.compile(r"^[0-9]{16}$")
# Digit runs that could be an identity number inside free text (a village code has 10 digits).
# A person ID (`P` + 16 hex digits) is not personal data: matched first, so that it is left whole.
_ID_IN_TEXT = re.compile(r"(\bP[0-9A-F]{16}\b)|(?<![0-9])[0-9]{12,}(?![0-9])")
TAG_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # consonants: a tag never spells a word nor adds a digit
TAG_LENGTH = 4


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
    return _ID_IN_TEXT.sub(lambda m: m.group(1) or mask_one(m.group(0)), text)


def tag(value: str, key: bytes) -> str:
    """A short tag of `value` under `key`: four consonants from an HMAC-SHA256 (20^4 = 160,000
    tags, so two NIKs of one person share one with odds of 1 in 160,000)."""
    digest = int.from_bytes(hmac.new(key, value.encode(), hashlib.sha256).digest()[:8], "big")
    letters = []
    for _ in range(TAG_LENGTH):
        digest, i = divmod(digest, len(TAG_LETTERS))
        letters.append(TAG_LETTERS[i])
    return "".join(letters)


def mask_tagged(values: pd.Series, key: bytes) -> pd.Series:
    """`mask_nik`, each masked value followed by its tag: `3305********0001 #KTRM`."""
    masked = mask_nik(values)
    present = (masked.notna() & (masked != "")).to_numpy(dtype=bool)
    raw = pd.Series(values.astype("string").str.strip().to_numpy(dtype=object)[present], dtype=object)
    tags = raw.map({v: tag(v, key) for v in raw.unique()})  # one HMAC per distinct number
    out = masked.to_numpy(dtype=object).copy()
    out[present] = (pd.Series(out[present], dtype=object) + " #" + tags).to_numpy()
    return pd.Series(out, index=values.index, dtype=object)


def mask_joined_tagged(values: pd.Series, key: bytes, sep: str = "; ") -> pd.Series:
    """Mask and tag each number of `sep`-joined lists, over a column, so that two different
    numbers stay distinguishable: every cell's numbers in one `mask_tagged` call; cells that are
    not text stay."""
    cells = values.to_numpy(dtype=object)
    text = np.flatnonzero([isinstance(v, str) for v in cells])
    out = cells.copy()
    if len(text):
        parts = pd.Series(cells[text], dtype=object).str.split(sep).explode()
        masked = mask_tagged(parts, key)
        out[text] = masked.groupby(level=0, sort=True).agg(sep.join).to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def tag_key(folder: Path) -> bytes:
    """The tags' key, from the output folder's secret kept in `folder` (OUTPUT/runs, beside the
    unmasked outputs: see output_key)."""
    return output_key(folder, "workbook-tags")
