"""The committed schemas/ are what the code generates, and the Parquet files we write carry
exactly the published Arrow schema."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import ingest, make_source

from bansos_merge import schemas
from bansos_merge.contracts import OUTPUTS, SCHEMA_VERSION, RecordRow, RejectRow, arrow_schema
from bansos_merge.publish.parquet import write_parquet

SCHEMA_DIR = schemas.default_dir()


def test_committed_schemas_are_up_to_date():
    problems = schemas.stale(SCHEMA_DIR)
    assert not problems, "schemas/ is stale; run `python -m bansos_merge.schemas`:\n" + "\n".join(problems)


def test_every_output_and_the_config_are_published():
    names = {p.name for p in SCHEMA_DIR.iterdir()}
    assert "merge-config.schema.json" in names
    for output in OUTPUTS:
        assert {f"{output}.schema.json", f"{output}.arrow.json"} <= names
        doc = json.loads((SCHEMA_DIR / f"{output}.schema.json").read_text())
        assert doc["version"] == SCHEMA_VERSION and doc["$id"].endswith(f"{output}:{SCHEMA_VERSION}")


def test_check_mode_reports_missing_changed_and_leftover_files(tmp_path, capsys):
    assert schemas.main(["--check", "--out", str(tmp_path)]) == 1
    assert "missing:" in capsys.readouterr().out
    assert schemas.main(["--out", str(tmp_path)]) == 0
    assert schemas.main(["--check", "--out", str(tmp_path)]) == 0
    records = tmp_path / "records.arrow.json"
    records.write_text(records.read_text().replace('"nullable": false', '"nullable": true', 1))
    (tmp_path / "old.arrow.json").write_text("{}")
    assert schemas.main(["--check", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "differs:" in out and "records.arrow.json" in out and '"nullable": true' in out
    assert "not generated any more" in out and "old.arrow.json" in out


def _published(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.arrow.json").read_text())


def _as_published(schema: pa.Schema) -> dict:
    return schemas.arrow_json(schema)


_FILLER = {"string": "x", "double": 0.0, "int64": 0, "bool": False, "date32[day]": dt.date(2000, 1, 1)}


def _complete(frame: pd.DataFrame, model) -> pd.DataFrame:
    """Ingest's frame plus the columns later stages (linkage) add: nulls, or a filler if required."""
    frame = frame.copy()
    for field in arrow_schema(model):
        if field.name not in frame:
            frame[field.name] = None if field.nullable else _FILLER[str(field.type)]
    return frame


def test_written_parquet_carries_the_published_arrow_schema(csv_file, tmp_path):
    text = (
        "NIK,NAMA,TGL LAHIR,JK,ALAMAT\n"
        "3201014508700001,SITI,05-08-1970,P,JL. MAWAR RT 003 RW 005\n"
        ",,,,\n"
        "3.20101E+15,BUDI,tidak tahu,L,\n"
    )
    cols = {"nik": "NIK", "name": "NAMA", "birth_date": "TGL LAHIR", "sex": "JK", "address": "ALAMAT"}
    _, norm = ingest(make_source(csv_file(text), cols))
    for name, model, frame in (("records", RecordRow, norm.records), ("rejects", RejectRow, norm.rejects)):
        path = tmp_path / f"{name}.parquet"
        write_parquet(_complete(frame, model), model, path)
        written = pq.read_schema(path)
        assert _as_published(written) == {k: v for k, v in _published(name).items() if k in ("fields", "metadata")}
        assert written.metadata[b"bansos_merge.schema_version"] == SCHEMA_VERSION.encode()
    table = pq.read_table(tmp_path / "records.parquet")
    assert table.num_rows == 2 and table.column("flags").to_pylist()[1] == [
        "nik_precision_lost", "birth_date_unparsed"
    ]


def test_json_schemas_accept_real_rows_and_configs(csv_file, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    _, norm = ingest(make_source(csv_file("NIK,NAMA\n3201014508700001,SITI\n,\n")))
    for name, model, frame in (("records", RecordRow, norm.records), ("rejects", RejectRow, norm.rejects)):
        doc = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        rows = json.loads(_complete(frame, model).to_json(orient="records", date_format="iso"))
        for row in rows:
            row = {k: row[k] for k in model.model_fields}
            jsonschema.validate(row, doc)
    config = yaml.safe_load(
        "output_dir: out\nsources:\n  - name: desa\n    path: a.csv\n    kind: aid_list\n    columns: {nik: NIK, name: NAMA}\n"
    )
    doc = json.loads((SCHEMA_DIR / "merge-config.schema.json").read_text())
    jsonschema.validate(config, doc)
    config["sources"][0]["columns"]["nama"] = "NAMA"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, doc)
