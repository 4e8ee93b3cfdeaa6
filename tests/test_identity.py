"""How a record is named and recognised (identity.py), and what the merge core loads."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pandas as pd
import pytest

from bansos_merge.identity import FINGERPRINT_FIELDS, record_fingerprint, record_keys, split_key, stable_record_keys
from bansos_merge.textcol import TEXT

RAW = {
    "nik_raw": "3201010101800001",
    "kk_raw": "3201010101100001",
    "name_raw": "SITI AMINAH",
    "birth_date_raw": "01-01-1980",
    "sex_raw": "P",
    "address_raw": "KP. SUKAMAJU RT 01/02",
}


def _records(**changes: object) -> pd.DataFrame:
    """One record of a source without ids and without a usable NIK (keyed by its content)."""
    row = {"source": "dinsos", "record_id": "kec_a.xlsx/BNBA/7", "nik": None, "name_key": "SITI AMINAH", **RAW, **changes}
    return pd.DataFrame([row])


def test_record_keys_join_source_and_record_id_whatever_the_dtype_and_split_back():
    frame = pd.DataFrame({"left_source": ["dtks", "dukcapil"], "left_record_id": ["a:b", "17"]})
    arrow = frame.astype(TEXT)
    keys = record_keys(frame, "left_")
    assert keys.tolist() == ["dtks:a:b", "dukcapil:17"]
    assert record_keys(arrow, "left_").tolist() == keys.tolist()
    assert record_keys(pd.DataFrame({"source": ["bkn"], "record_id": [3]})).tolist() == ["bkn:3"]
    # a source name holds no colon (config), so the first one splits; an id may hold more
    assert [split_key(k) for k in keys] == [("dtks", "a:b"), ("dukcapil", "17")]
    assert [split_key(k) for k in ("dukcapil", ":17", "dukcapil:", "")] == [None] * 4


def test_the_fingerprint_is_sha256_over_the_raw_identifying_fields_in_their_order():
    """Decisions stored by earlier runs carry fingerprints made this way: they must still match."""
    expected = hashlib.sha256("\x1f".join(RAW[f] for f in FINGERPRINT_FIELDS).encode()).hexdigest()[:16]
    assert record_fingerprint(_records()).tolist() == [expected]
    assert record_fingerprint(_records().astype(TEXT)).tolist() == [expected]
    # a missing column counts as empty
    no_sex = _records().drop(columns="sex_raw")
    assert record_fingerprint(no_sex).tolist() == record_fingerprint(_records(sex_raw="")).tolist()
    assert record_fingerprint(no_sex).tolist() != record_fingerprint(_records(sex_raw=None)).tolist()


@pytest.mark.parametrize("field", FINGERPRINT_FIELDS)
def test_a_changed_identifying_field_stales_a_decision_and_renames_the_record_alike(field):
    """One notion of "the same record": a decision on it stops applying exactly when the next run
    no longer recognises it by content."""
    before, after = _records(), _records(**{field: "0"})
    assert record_fingerprint(after).iloc[0] != record_fingerprint(before).iloc[0]
    assert stable_record_keys(after, set()).iloc[0] != stable_record_keys(before, set()).iloc[0]


def test_normalised_values_and_row_numbers_are_not_identity():
    before = _records()
    for changed in (_records(name_key="SITI AMINAH BINTI X"), _records(record_id="kec_a.xlsx/BNBA/8")):
        assert record_fingerprint(changed).tolist() == record_fingerprint(before).tolist()
        assert stable_record_keys(changed, set()).tolist() == stable_record_keys(before, set()).tolist()
    # a source with its own ids is recognised by them; a usable NIK by the NIK
    assert stable_record_keys(before, {"dinsos"}).tolist() == ["dinsos:kec_a.xlsx/BNBA/7"]
    assert stable_record_keys(_records(nik="3201010101800001"), set()).tolist() == ["dinsos:nik:3201010101800001"]


def test_the_merge_core_loads_neither_the_web_app_nor_prefect():
    """The driver, the parts, evaluation and explain run without the review app's package."""
    code = (
        "import sys\n"
        "import bansos_merge.run.driver, bansos_merge.parts, bansos_merge.explain, bansos_merge.evaluate.simulate\n"
        "import bansos_merge.decisions.cli, bansos_merge.decisions.export\n"
        "print(sorted({m.split('.')[0] if not m.startswith('bansos_merge.') else '.'.join(m.split('.')[:2])\n"
        "              for m in sys.modules if m.startswith(('bansos_merge.review', 'fastapi', 'starlette', 'prefect'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
